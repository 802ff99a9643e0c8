"""Our own cap on uploads (settings.ATELIER_MAX_UPLOAD_BYTES), enforced while the bytes stream in.

Two layers, because Django reads request bodies in two places:

* `CappedUploadHandler` (WSGI, the test client, and Django's multipart parser under ASGI): counts the bytes of
  uploaded files as they arrive and stops the upload at the cap; the temp file is closed (deleted) at once and
  the view answers 413 naming the limit (`upload_refusal(request)`).
* `BodySizeLimitMiddleware` (ASGI): Django's ASGI handler spools the whole request body to a temp file before
  any view runs, so a body larger than the cap (plus room for the multipart envelope) is refused there with 413,
  without reading further.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.http import HttpRequest, QueryDict
from django.utils.datastructures import MultiValueDict

from apps.core.units import human_bytes

# Room for the multipart envelope and the form fields sent with the file.
ENVELOPE_BYTES = 1024 * 1024
REFUSAL_ATTR = "atelier_upload_refused"


def max_upload_bytes() -> int:
    return int(settings.ATELIER_MAX_UPLOAD_BYTES)



def refusal_message(limit: int) -> str:
    return (
        f"The upload is larger than the limit of {human_bytes(limit)} ({limit:,} bytes) set by "
        "ATELIER_MAX_UPLOAD_BYTES."
    )


class CappedUploadHandler(TemporaryFileUploadHandler):
    """Streams uploads to a temp file on disk and stops once they pass the cap."""

    def __init__(self, request: HttpRequest | None = None, max_bytes: int | None = None) -> None:
        super().__init__(request)
        self.max_bytes = max_upload_bytes() if max_bytes is None else max_bytes
        self.received = 0

    def _refuse(self) -> None:
        if self.request is not None:
            setattr(self.request, REFUSAL_ATTR, self.max_bytes)

    def handle_raw_input(
        self, input_data: Any, META: Any, content_length: int, boundary: Any, encoding: str | None = None
    ) -> tuple[QueryDict, MultiValueDict] | None:
        if content_length and content_length > self.max_bytes + ENVELOPE_BYTES:
            # Plainly too large: do not read a byte of it.
            self._refuse()
            return QueryDict(), MultiValueDict()
        return None

    def new_file(
        self,
        field_name: str,
        file_name: str,
        content_type: str,
        content_length: int | None,
        charset: str | None = None,
        content_type_extra: dict[str, Any] | None = None,
    ) -> None:
        if content_length and content_length > self.max_bytes:
            self._refuse()
            raise StopUpload(connection_reset=False)
        super().new_file(field_name, file_name, content_type, content_length, charset, content_type_extra)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            self._refuse()
            raise StopUpload(connection_reset=False)  # Django closes (deletes) the temp file and drains the body
        return super().receive_data_chunk(raw_data, start)


def install_capped_upload_handler(request: HttpRequest) -> None:
    """Call before anything reads request.POST / request.FILES."""
    request.upload_handlers = [CappedUploadHandler(request)]


def upload_refusal(request: Any) -> int | None:
    """The cap (bytes) when this request's upload was refused, else None."""
    django_request = getattr(request, "_request", request)
    return getattr(django_request, REFUSAL_ATTR, None)


# --- ASGI --------------------------------------------------------------------------------------------------

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


class BodySizeLimitMiddleware:
    """Refuse HTTP request bodies larger than the upload cap (+ envelope) with 413, reading no further."""

    def __init__(self, app: Any, max_bytes: Callable[[], int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes or (lambda: max_upload_bytes() + ENVELOPE_BYTES)

    async def __call__(
        self, scope: Scope, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
    ) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes()
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _send_413(scope, send, limit)
            return
        received = 0
        refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message.get("type") == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    return {"type": "http.disconnect"}  # Django drops (deletes) what it spooled so far
            return message

        await self.app(scope, limited_receive, send)
        if refused:
            await _send_413(scope, send, limit)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", []):
        if key.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_413(scope: Scope, send: Callable[[Message], Awaitable[None]], limit: int) -> None:
    cap = max(0, limit - ENVELOPE_BYTES)
    message = refusal_message(cap)
    if str(scope.get("path", "")).startswith("/api/"):
        body = json.dumps({"detail": message, "errors": {"file": [message]}, "code": "too_large"}).encode()
        content_type = b"application/json"
    else:
        body = f"<!doctype html><title>Upload too large</title><h1>Upload too large</h1><p>{message}</p>".encode()
        content_type = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"x-content-type-options", b"nosniff"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
