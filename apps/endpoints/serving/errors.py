"""How the serving path answers errors: one exception type carrying the HTTP status, and the mapping from what the
layers below raise (the scoring protocol, the model's input schema, the model cache) to it.

Every error body has the same shape: {"error_code", "message", "detail", "errors": {field_or_column: [messages]}}.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import orjson

from apps.automl.engine.model import SchemaError
from apps.endpoints.serving.cache import ModelLoadError
from apps.endpoints.serving.protocol import ProtocolError

CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "THROTTLED",
    503: "SERVICE_UNAVAILABLE",
    504: "TIMEOUT",
}


class HTTPError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        errors: dict[str, list[str]] | None = None,
        code: str = "",
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.errors, self.headers = status, message, errors or {}, headers or []
        self.code = code or CODES.get(status, "INTERNAL_ERROR")

    def body(self) -> bytes:
        return error_body(self.status, self.message, self.errors, self.code)


class ClientGone(Exception):
    """The client disconnected before its answer was ready."""


def error_body(status: int, message: str, errors: dict[str, list[str]] | None = None, code: str = "") -> bytes:
    return orjson.dumps(
        {
            "error_code": code or CODES.get(status, "INTERNAL_ERROR"),
            "message": message,
            "detail": message,
            "errors": errors or {},
        }
    )


def http_error(exc: ProtocolError | SchemaError | ModelLoadError) -> HTTPError:
    """The HTTP answer for an error raised below the serving app."""
    if isinstance(exc, ProtocolError):
        return HTTPError(exc.status, exc.message, exc.errors, exc.code)
    if isinstance(exc, SchemaError):
        columns = exc.columns or ["body"]
        return HTTPError(400, exc.message, {c: [exc.message] for c in columns}, "SCHEMA_ERROR")
    return HTTPError(503, str(exc))


@contextmanager
def mapped_errors() -> Iterator[None]:
    """Turn the protocol's, the schema's and the model cache's errors raised inside the block into HTTPError."""
    try:
        yield
    except (ProtocolError, SchemaError, ModelLoadError) as exc:
        raise http_error(exc) from exc
