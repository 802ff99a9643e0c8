"""Live progress over WebSocket through the real ASGI stack (session auth, origin check), fed by a real worker."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client

from apps.jobs.services import job_start
from studio.asgi import application

pytestmark = [pytest.mark.worker, pytest.mark.xdist_group("worker")]


def _headers(user) -> list[tuple[bytes, bytes]]:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    return [(b"cookie", cookie.encode()), (b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000")]


async def _collect(path: str, headers: list, until_final: bool = True, timeout: float = 60) -> tuple[bool, list[dict]]:
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=10)
    events: list[dict] = []
    if connected:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            try:
                message = await communicator.receive_json_from(timeout=max(0.1, deadline - loop.time()))
            except TimeoutError:
                break
            events.append(message["job"])
            if until_final and message["job"]["status"] in {"succeeded", "failed", "cancelled"}:
                break
    await communicator.disconnect()
    return connected, events


def test_websocket_streams_progress_of_running_job(start_worker, project_a, ds_user):
    start_worker()
    job = job_start(kind="tests.steps", project=project_a, created_by=ds_user, params={"steps": 6, "step_s": 0.5})
    connected, events = async_to_sync(_collect)(f"/ws/jobs/?job={job.pk}", _headers(ds_user))
    assert connected
    assert events[-1]["status"] == "succeeded" and events[-1]["progress"] == 1.0
    running = [e["progress"] for e in events if e["status"] == "running"]
    assert len({p for p in running if 0 < p < 1}) >= 2, f"progress events: {running}"
    assert running == sorted(running), "progress never goes backwards"
    assert "step 6" in events[-1]["log"]


def test_websocket_project_stream_and_access_rules(start_worker, project_a, project_b, ds_user, outsider, labeler_user):
    start_worker()
    job = job_start(kind="tests.steps", project=project_a, created_by=ds_user, params={"steps": 2, "step_s": 0.2})
    connected, events = async_to_sync(_collect)(f"/ws/jobs/?project={project_a.pk}", _headers(ds_user))
    assert connected and events[-1]["id"] == job.pk and events[-1]["status"] == "succeeded"
    # Foreign project, foreign job, labeler, anonymous: the socket is refused.
    for user, path in [
        (outsider, f"/ws/jobs/?job={job.pk}"),
        (outsider, f"/ws/jobs/?project={project_a.pk}"),
        (labeler_user, f"/ws/jobs/?project={project_a.pk}"),
        (ds_user, f"/ws/jobs/?project={project_b.pk}"),
    ]:
        ok, _ = async_to_sync(_collect)(path, _headers(user), timeout=1)
        assert not ok, f"{user} connected to {path}"
    anonymous = [(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000")]
    ok, _ = async_to_sync(_collect)(f"/ws/jobs/?job={job.pk}", anonymous, timeout=1)
    assert not ok
    # A page on another origin may not open the socket with the user's cookie (cross-site WebSocket hijacking).
    evil = [h for h in _headers(ds_user) if h[0] != b"origin"] + [(b"origin", b"https://evil.example")]
    ok, _ = async_to_sync(_collect)(f"/ws/jobs/?job={job.pk}", evil, timeout=1)
    assert not ok
