"""Fixtures for endpoint tests: approved versions and a tiny ASGI client
that drives the serving app in this process (no httpx here); tests about the server itself use uvicorn."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from apps.endpoints.serving.app import ServingApp
from tests.factories import binary_model, register


@pytest.fixture
def version(media, project_a, mlops_user):  # type: ignore[no-untyped-def]
    """An Approved binary classifier (churn yes/no from x1, x2, colour) in project A."""
    return register(project_a, mlops_user, binary_model(), approve_by=mlops_user)


@pytest.fixture
def version_b(media, project_a, mlops_user):  # type: ignore[no-untyped-def]
    """A second Approved version of the same group that predicts the opposite."""
    return register(project_a, mlops_user, binary_model(flip=True), approve_by=mlops_user)


class SlowPredictor:
    """A predictor that takes `seconds` longer than the one it wraps (timeouts, disconnects)."""

    def __init__(self, inner, seconds: float) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.seconds = inner, seconds
        self.classes, self.feature_names = inner.classes, inner.feature_names

    def check(self, frame):  # type: ignore[no-untyped-def]
        return self.inner.check(frame)

    def predict_checked(self, X):  # type: ignore[no-untyped-def]
        time.sleep(self.seconds)
        return self.inner.predict_checked(X)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


async def acall(
    app: Any,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    query: str = "",
    chunks: list[bytes] | None = None,
    content_length: bool = True,
    gone_after: float = 3600,
) -> Reply:
    """One request to the ASGI app; the client disconnects `gone_after` seconds after sending its body (status 0 in
    the reply if nothing was answered by then)."""
    pieces = list(chunks) if chunks is not None else [body]
    raw_headers = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if content_length and chunks is None:
        raw_headers.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": raw_headers,
        "http_version": "1.1",
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1234),
        "root_path": "",
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if pieces:
            piece = pieces.pop(0)
            return {"type": "http.request", "body": piece, "more_body": bool(pieces)}
        await asyncio.sleep(gone_after)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next((m for m in sent if m["type"] == "http.response.start"), None)
    if start is None:
        return Reply(0, {}, b"")
    data = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Reply(start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, data)


def call(app: Any, method: str, path: str, **kw: Any) -> Reply:
    return asyncio.run(acall(app, method, path, **kw))


@pytest.fixture
def serving() -> Iterator[ServingApp]:
    """The serving app without background threads: tests call `.refresh()` / `.flush_metrics()` themselves."""
    app = ServingApp(background=False)
    yield app
    app.pool.shutdown(wait=False, cancel_futures=True)
    app.io_pool.shutdown(wait=False, cancel_futures=True)
    gc.unfreeze()  # loading froze the heap (cache.settle_heap); give the rest of the session its collector back


@pytest.fixture
def deployed(serving, project_a, mlops_user, version):  # type: ignore[no-untyped-def]
    """`version` on a real-time endpoint "churn-live" that the serving app has read: (endpoint, raw key)."""
    from apps.endpoints import services

    endpoint, key = services.endpoint_create(
        project=project_a, user=mlops_user, name="churn-live", variants=[{"model_version": version}]
    )
    serving.refresh()
    return endpoint, key


def invoke(
    app: Any,
    name: str,
    payload: Any = None,
    *,
    key: str | None,
    content_type: str = "application/json",
    body: bytes | None = None,
    query: str = "",
    headers: dict[str, str] | None = None,
) -> Reply:
    data = body if body is not None else orjson.dumps(payload)
    hdrs = {"content-type": content_type, **(headers or {})}
    if key is not None:
        hdrs["authorization"] = f"Bearer {key}"
    return call(app, "POST", f"/endpoints/{name}/invocations", body=data, headers=hdrs, query=query)


# --- a real server ----------------------------------------------------------------------------------------------

from tests.e2e.conftest import collected_static, studio_server  # noqa: E402,F401  (uvicorn on the test database)
