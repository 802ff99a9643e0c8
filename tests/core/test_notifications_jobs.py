"""Notifications end to end: jobs started through the API run on a real Celery worker; whoever started each is told
once in the app (the top bar's unread count; the link opens the job and marks it read) and, with EMAIL_HOST set, by
an email the worker sends to a real SMTP server (aiosmtpd) started here. A mail server that refuses costs the
email, never the job."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from apps.core.models import Notification
from apps.jobs.models import Job
from tests.conftest import job_final, wait_for


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_whoever_started_a_job_is_told_once_in_the_app_and_by_email(
    smtp_server, start_worker, monkeypatch, api_for, client_for, project_a, ds_user, mlops_user
):
    inbox, port = smtp_server
    ds_user.email = "dana@example.com"
    ds_user.save(update_fields=["email"])
    monkeypatch.setenv("EMAIL_HOST", "127.0.0.1")
    monkeypatch.setenv("EMAIL_PORT", str(port))
    monkeypatch.setenv("PUBLIC_URL", "https://atelier.example.com")
    start_worker()

    response = api_for(ds_user).post(f"/api/projects/{project_a.pk}/storage-report/")
    assert response.status_code == 202, response.content
    job = job_final(response.json()["job"])
    assert job.status == "succeeded", job.message

    wait_for(lambda: inbox.messages, what="the notification's email")
    note = Notification.objects.get()  # one event, one notification, for the person who started the job only
    assert (note.user_id, note.level, note.url) == (ds_user.pk, "success", f"/jobs/{job.pk}/")
    assert note.title == "Project storage report succeeded"
    [mail] = inbox.messages
    assert mail["To"] == "dana@example.com"
    assert mail["Subject"] == "[Atelier] Project storage report succeeded"
    assert f"https://atelier.example.com/jobs/{job.pk}/" in mail.get_payload()

    client = client_for(ds_user)
    assert b'<span class="count" id="unread-count" aria-label="1 unread">1</span>' in client.get("/").content
    opened = client.get(f"/notifications/{note.pk}/")
    assert (opened.status_code, opened["Location"]) == (302, f"/jobs/{job.pk}/")
    note.refresh_from_db()
    assert note.read_at is not None
    assert b'id="unread-count"' not in client.get("/").content
    assert not client_for(mlops_user).get(f"/notifications/{note.pk}/").status_code == 302  # not theirs: 404


def test_a_mail_server_that_refuses_never_fails_the_job(start_worker, monkeypatch, api_for, project_a, ds_user):
    ds_user.email = "dana@example.com"
    ds_user.save(update_fields=["email"])
    monkeypatch.setenv("EMAIL_HOST", "127.0.0.1")
    monkeypatch.setenv("EMAIL_PORT", str(_free_port()))  # nothing listens there
    worker = start_worker()

    ok = job_final(api_for(ds_user).post(f"/api/projects/{project_a.pk}/storage-report/").json()["job"])
    assert ok.status == "succeeded", ok.message
    wait_for(lambda: "Could not email notification" in worker.log(), what="the failed send in the worker's log")
    assert Job.objects.get(pk=ok.pk).status == "succeeded"
    assert list(Notification.objects.values_list("user_id", "level")) == [(ds_user.pk, "success")]
