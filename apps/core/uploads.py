"""Our own cap on uploads (settings.ATELIER_MAX_UPLOAD_BYTES), enforced while the bytes stream in.

Two layers, because Django reads request bodies in two places:

* `CappedUploadHandler` (WSGI, the test client, and Django's multipart parser under ASGI): counts the bytes of
  uploaded files as they arrive and stops the upload at the cap; the temp file is closed (deleted) at once and
  the view answers 413 naming the limit (`upload_refusal(request)`). Views install it through `CappedUploadMixin`
  (pages) or `CappedUploadApiMixin` (DRF), below.
* `BodySizeLimitMiddleware` (ASGI): Django's ASGI handler spools the whole request body to a temp file before
  any view runs, so a body larger than the cap (plus room for the multipart envelope) is refused there with 413,
  without reading further. Before that, a body is read past ATELIER_MAX_ANONYMOUS_BODY_BYTES (a sign-in form needs
  a few KiB) only for a signed-in session or a valid API token (apps/accounts/scope_auth.py): anyone else gets 413
  at once when Content-Length says more, or as soon as a streamed (chunked) body passes that size.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.http import HttpRequest, QueryDict
from django.utils.datastructures import MultiValueDict
from django.utils.decorators import method_decorator
from django.utils.html import escape
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from apps.core.units import human_bytes

logger = logging.getLogger(__name__)

# Room for the multipart envelope and the form fields sent with the file.
ENVELOPE_BYTES = 1024 * 1024
REFUSAL_ATTR = "atelier_upload_refused"


def max_upload_bytes() -> int:
    return int(settings.ATELIER_MAX_UPLOAD_BYTES)


def max_anonymous_body_bytes() -> int:
    return int(settings.ATELIER_MAX_ANONYMOUS_BODY_BYTES)


def anonymous_refusal_message(limit: int) -> str:
    return (
        f"Request bodies larger than {human_bytes(limit)} ({limit:,} bytes, ATELIER_MAX_ANONYMOUS_BODY_BYTES) are "
        "accepted only from a signed-in session or with a valid API token (`Authorization: Token <key>`)."
    )


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


def upload_refusal(request: Any) -> int | None:
    """The cap (bytes) when this request's upload was refused, else None."""
    django_request = getattr(request, "_request", request)
    return getattr(django_request, REFUSAL_ATTR, None)


# --- views ---------------------------------------------------------------------------------------------------


class CappedUploadMixin:
    """For UI views that take uploads; put it first in the bases (`class V(CappedUploadMixin, StudioMixin, View)`).

    A POST's uploads stream to disk under `upload_max_bytes()` (ATELIER_MAX_UPLOAD_BYTES unless a view says
    otherwise). The handler must be set before anything reads the body, so the CSRF check (which reads request.POST)
    runs here, after it, instead of in the middleware. `upload_refused(request)` parses the body and gives the cap
    when the upload was stopped (the view answers 413), else None."""

    def upload_max_bytes(self) -> int:
        return max_upload_bytes()

    @method_decorator(csrf_exempt)
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if request.method == "POST":
            request.upload_handlers = [CappedUploadHandler(request, max_bytes=self.upload_max_bytes())]
        return csrf_protect(super().dispatch)(request, *args, **kwargs)  # type: ignore[misc]

    def upload_refused(self, request: HttpRequest) -> int | None:
        request.POST  # noqa: B018 - parse the body now, through the capped handler
        return upload_refusal(request)


class CappedUploadApiMixin:
    """For DRF views that take uploads (first in the bases): the same cap, set before DRF parses the body."""

    def upload_max_bytes(self) -> int:
        return max_upload_bytes()

    def initialize_request(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        request.upload_handlers = [CappedUploadHandler(request, max_bytes=self.upload_max_bytes())]
        return super().initialize_request(request, *args, **kwargs)  # type: ignore[misc]


# --- ASGI --------------------------------------------------------------------------------------------------

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


class BodySizeLimitMiddleware:
    """Refuse HTTP request bodies with 413, reading no further: larger than the upload cap (+ envelope) for everyone,
    larger than the anonymous cap unless `signed_in(scope)` says the sender is signed in (asked only for such
    bodies; None: no one is)."""

    def __init__(
        self,
        app: Any,
        max_bytes: Callable[[], int] | None = None,
        *,
        anonymous_max_bytes: Callable[[], int] | None = None,
        signed_in: Callable[[Scope], Awaitable[bool]] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes or (lambda: max_upload_bytes() + ENVELOPE_BYTES)
        self.anonymous_max_bytes = anonymous_max_bytes or max_anonymous_body_bytes
        self.signed_in = signed_in

    async def __call__(
        self, scope: Scope, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
    ) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes()
        small = min(self.anonymous_max_bytes(), limit)
        sender: bool | None = None  # signed in? asked once, only for a body larger than `small`

        async def cap() -> int:
            nonlocal sender
            if sender is None:
                sender = await self._is_signed_in(scope)
            return limit if sender else small

        def refuse() -> Awaitable[None]:
            if not sender and small < limit:
                return _send_413(scope, send, anonymous_refusal_message(small), field="body")
            return _send_413(scope, send, refusal_message(limit - ENVELOPE_BYTES))

        declared = _content_length(scope)
        if declared is not None and declared > small and declared > await cap():
            await refuse()
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
                if received > small and received > await cap():
                    refused = True
                    return {"type": "http.disconnect"}  # Django drops (deletes) what it spooled so far
            return message

        await self.app(scope, limited_receive, send)
        if refused:
            await refuse()

    async def _is_signed_in(self, scope: Scope) -> bool:
        if self.signed_in is None:
            return False
        try:
            return await self.signed_in(scope)
        except Exception:  # e.g. the database is away: such a body waits for a sender we can recognise
            logger.exception("Could not tell whether a request with a large body comes from a signed-in sender.")
            return False


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", []):
        if key.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_413(
    scope: Scope, send: Callable[[Message], Awaitable[None]], message: str, field: str = "file"
) -> None:
    if str(scope.get("path", "")).startswith("/api/"):
        body = json.dumps({"detail": message, "errors": {field: [message]}, "code": "too_large"}).encode()
        content_type = b"application/json"
    else:
        title = "Upload too large" if field == "file" else "Request body too large"
        body = f"<!doctype html><title>{title}</title><h1>{title}</h1><p>{escape(message)}</p>".encode()
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
