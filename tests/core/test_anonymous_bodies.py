"""Anonymous request bodies are capped small before Django reads them (studio/asgi.py, apps/core/uploads.py).

Driven through the real ASGI application (studio.asgi.application) with a receive channel that makes the body up
as it is asked for and counts the bytes handed out: a 50 MB anonymous POST is refused with 413 having consumed at
most the anonymous cap (plus the one chunk that crossed it), while signed-in senders still upload.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client

from apps.accounts.services import api_token_create
from apps.datasets.models import Dataset

FIFTY_MB = 50 * 1024 * 1024
CHUNK = 64 * 1024


class Body:
    """An ASGI receive channel serving `size` bytes in CHUNK-sized messages, counting what was taken."""

    def __init__(self, size: int, payload: bytes | None = None) -> None:
        self.payload = payload
        self.size = len(payload) if payload is not None else size
        self.consumed = 0

    async def receive(self) -> dict[str, Any]:
        if self.consumed >= self.size and self.size:
            await asyncio.sleep(3600)  # a real client: nothing more until it goes away
        n = min(CHUNK, self.size - self.consumed)
        chunk = self.payload[self.consumed : self.consumed + n] if self.payload is not None else b"x" * n
        self.consumed += n
        return {"type": "http.request", "body": chunk, "more_body": self.consumed < self.size}


def call(path: str, body: Body, headers: list[tuple[bytes, bytes]], declare_length: bool = True):  # type: ignore[no-untyped-def]
    from studio.asgi import application

    all_headers = [(b"host", b"127.0.0.1"), *headers]
    if declare_length:
        all_headers.append((b"content-length", str(body.size).encode()))
    else:
        all_headers.append((b"transfer-encoding", b"chunked"))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": all_headers,
        "client": ("10.7.7.7", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def run() -> None:
        await asyncio.wait_for(application(scope, body.receive, send), timeout=60)

    asyncio.run(run())
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), content


@pytest.fixture(autouse=True)
def _no_serving_threads(settings):  # type: ignore[no-untyped-def]
    settings.SERVING_ENABLED = False  # /endpoints/ is not the subject here: no background threads


@pytest.mark.parametrize("path", ["/accounts/login/", "/api/datasets/", "/admin/login/"])
@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "chunked"])
def test_an_anonymous_50_mb_body_is_refused_after_at_most_the_small_cap(transactional_db, path, declare_length) -> None:
    cap = settings.ATELIER_MAX_ANONYMOUS_BODY_BYTES
    body = Body(FIFTY_MB)
    status, headers, content = call(path, body, [(b"content-type", b"application/octet-stream")], declare_length)
    assert status == 413
    if declare_length:
        assert body.consumed == 0  # refused from the header alone
    else:
        assert body.consumed <= cap + CHUNK  # stopped at the chunk that crossed the cap
    is_api = path.startswith("/api/")
    assert headers[b"content-type"].startswith(b"application/json" if is_api else b"text/html")
    text = json.loads(content)["detail"] if is_api else content.decode()
    assert "ATELIER_MAX_ANONYMOUS_BODY_BYTES" in text and "signed-in session" in text


def test_a_bad_token_or_a_stale_session_is_anonymous_and_a_bad_token_counts(transactional_db) -> None:
    for headers in ([(b"authorization", b"Token atl_not-a-key")], [(b"cookie", b"sessionid=not-a-session")]):
        body = Body(FIFTY_MB)
        status, _, _ = call("/api/datasets/", body, headers)
        assert status == 413 and body.consumed == 0
    assert AccessAttempt.objects.filter(ip_address="10.7.7.7", username=None).count() == 1


def test_small_anonymous_bodies_still_reach_django(transactional_db) -> None:
    body = Body(0, payload=b"username=dana&password=" + b"x" * 10_000)
    status, _, _ = call("/accounts/login/", body, [(b"content-type", b"application/x-www-form-urlencoded")])
    assert status == 403 and body.consumed == body.size  # Django answered (CSRF), not the cap


def multipart(csv: bytes, fields: dict[str, str]) -> tuple[bytes, bytes]:
    boundary = b"atelierboundary"
    parts = [
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="' + k.encode() + b'"\r\n\r\n' + v.encode()
        for k, v in fields.items()
    ]
    parts.append(
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n" + csv
    )
    return b"\r\n".join(parts) + b"\r\n--" + boundary + b"--\r\n", b"multipart/form-data; boundary=" + boundary


@pytest.mark.usefixtures("media")
def test_signed_in_senders_still_upload_large_files(transactional_db, ds_user, project_a) -> None:
    csv = b"a,b\n" + b"".join(b"%d,%d\n" % (i, i * 2) for i in range(60_000))
    assert len(csv) > 4 * settings.ATELIER_MAX_ANONYMOUS_BODY_BYTES

    # an API token
    _, key = api_token_create(user=ds_user, name="laptop")
    payload, content_type = multipart(csv, {"name": "by-token", "project": str(project_a.pk)})
    body = Body(0, payload=payload)
    status, _, content = call(
        "/api/datasets/", body, [(b"content-type", content_type), (b"authorization", f"Token {key}".encode())]
    )
    assert status == 202, content
    assert body.consumed == len(payload)

    # a signed-in session (browser: session cookie + CSRF token)
    client = Client()
    client.force_login(ds_user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    csrf = "a" * 32
    payload, content_type = multipart(csv, {"name": "by-session", "project": str(project_a.pk)})
    body = Body(0, payload=payload)
    cookie = f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={csrf}".encode()
    headers = [(b"content-type", content_type), (b"cookie", cookie), (b"x-csrftoken", csrf.encode())]
    status, _, content = call("/api/datasets/", body, headers)
    assert status == 202, content
    assert body.consumed == len(payload)
    assert set(Dataset.objects.values_list("name", flat=True)) == {"by-token", "by-session"}
