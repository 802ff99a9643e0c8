"""Files served back to people and programs: always as attachments, never sniffed, never cached by a shared cache."""

from __future__ import annotations

from typing import IO, Any, TypeVar

from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header

R = TypeVar("R", HttpResponse, FileResponse, StreamingHttpResponse)


def attachment(response: R, filename: str) -> R:
    """`response` as a download named `filename` (RFC 6266 encoding for any name), with `nosniff` and `no-store`."""
    response["Content-Disposition"] = content_disposition_header(True, filename) or "attachment"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def file_attachment(handle: IO[bytes] | Any, filename: str, content_type: str) -> FileResponse:
    """An open binary file as a streamed download (closed when the response is done)."""
    return attachment(FileResponse(handle, content_type=content_type), filename)
