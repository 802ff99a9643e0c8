"""A job stream ends soon after its user loses access (issue 12, item 8): through the real ASGI stack, session auth.

Access is re-checked every JOB_STREAM_ACCESS_CHECK_S while the socket is open; each way of losing it closes the
socket with its code within about that time, and a user who keeps access keeps streaming."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import reverse

from apps.accounts.models import User
from apps.accounts.services import membership_remove, user_set_personas
from apps.jobs.models import Job
from studio.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

CHECK_S = 0.4
CLOSE_SIGNED_OUT, CLOSE_FORBIDDEN = 4401, 4403  # apps/jobs/consumers.py


@pytest.fixture(autouse=True)
def _fast_access_check(settings):  # type: ignore[no-untyped-def]
    settings.JOB_STREAM_ACCESS_CHECK_S = CHECK_S


def _signed_in(user: User) -> tuple[Client, list[tuple[bytes, bytes]]]:
    client = Client()
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    headers = [(b"cookie", cookie.encode()), (b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000")]
    return client, headers


def _deactivate(user: User, project: Any, client: Client) -> None:
    User.objects.filter(pk=user.pk).update(is_active=False)


def _change_password(user: User, project: Any, client: Client) -> None:
    user.set_password("another-horse-battery")
    user.save()


def _log_out(user: User, project: Any, client: Client) -> None:
    assert client.post(reverse("accounts:logout")).status_code in (200, 302)


def _remove_membership(user: User, project: Any, client: Client) -> None:
    membership_remove(project=project, user=user)


def _remove_personas(user: User, project: Any, client: Client) -> None:
    user_set_personas(user=user, personas=[])


def _make_labeler(user: User, project: Any, client: Client) -> None:
    user_set_personas(user=user, personas=["labeler"])


REVOCATIONS: dict[str, tuple[Callable[[User, Any, Client], None], int]] = {
    "membership removed": (_remove_membership, CLOSE_FORBIDDEN),
    "persona removed": (_remove_personas, CLOSE_FORBIDDEN),
    "labeler only now": (_make_labeler, CLOSE_FORBIDDEN),
    "deactivated": (_deactivate, CLOSE_SIGNED_OUT),
    "password changed elsewhere": (_change_password, CLOSE_SIGNED_OUT),
    "logged out": (_log_out, CLOSE_SIGNED_OUT),
}


async def _close_after(path: str, headers: list, revoke: Callable[[], None] | None, wait_s: float) -> dict | None:
    """Connect, read the first update, run `revoke`, then return the close message the server sends within
    `wait_s` seconds (None: the socket stayed open and streaming)."""
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=10)
    assert connected, f"{path} refused"
    first = await communicator.receive_json_from(timeout=5)
    assert first["type"] == "job"
    if revoke is not None:
        await database_sync_to_async(revoke)()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    try:
        while loop.time() < deadline:
            if await communicator.receive_nothing(timeout=0.1, interval=0.02):
                continue
            output = await communicator.receive_output(timeout=1)
            if output["type"] == "websocket.close":
                return output
        return None
    finally:
        await communicator.disconnect()


@pytest.mark.parametrize("how", list(REVOCATIONS))
@pytest.mark.parametrize("stream", ["job", "project"])
def test_stream_closes_soon_after_access_is_lost(how, stream, project_a, ds_user):  # type: ignore[no-untyped-def]
    job = Job.objects.create(kind="tests.steps", project=project_a, created_by=ds_user)
    client, headers = _signed_in(ds_user)
    revoke, code = REVOCATIONS[how]
    path = f"/ws/jobs/?job={job.pk}" if stream == "job" else f"/ws/jobs/?project={project_a.pk}"
    closed = async_to_sync(_close_after)(path, headers, lambda: revoke(ds_user, project_a, client), 3 * CHECK_S + 2)
    assert closed is not None, f"{how}: the {stream} stream kept streaming"
    assert closed["code"] == code, f"{how}: closed with {closed['code']}, expected {code}"


def test_stream_stays_open_while_access_holds(project_a, ds_user):  # type: ignore[no-untyped-def]
    """The re-check does not drop members: several check intervals later the stream is open and delivers updates."""
    job = Job.objects.create(kind="tests.steps", project=project_a, created_by=ds_user)
    _, headers = _signed_in(ds_user)

    async def run() -> dict:
        communicator = WebsocketCommunicator(application, f"/ws/jobs/?job={job.pk}", headers=headers)
        connected, _ = await communicator.connect(timeout=10)
        assert connected
        await communicator.receive_json_from(timeout=5)
        quiet = await communicator.receive_nothing(timeout=4 * CHECK_S, interval=0.05)
        assert quiet, "something arrived (a close?) although nothing changed and access holds"
        await database_sync_to_async(Job.objects.filter(pk=job.pk).update)(status="running", progress=0.5)
        update = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return update

    update = async_to_sync(run)()
    assert update["job"]["id"] == job.pk and update["job"]["status"] == "running" and update["job"]["progress"] == 0.5
