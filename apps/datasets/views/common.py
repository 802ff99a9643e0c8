"""What the Data Wrangler pages share: table cells for people, form and flash errors, capped uploads."""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from apps.core.mixins import StudioMixin
from apps.core.uploads import install_capped_upload_handler, upload_refusal

PAGE_ROWS = 50
JOB_KINDS_OF_VERSION = ("datasets.profile", "datasets.retype")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$")


def table_cell(value: Any) -> Any:
    """A table cell for people: timestamps without the ISO 'T' (and without a midnight time)."""
    if isinstance(value, str) and _ISO.match(value):
        return value[:10] if value[10:19] == "T00:00:00" and not value[19:].strip(".0") else value.replace("T", " ")
    return value


def table_cells(rows: list[dict[str, Any]], columns: list[str]) -> list[list[Any]]:
    return [[table_cell(row.get(c)) for c in columns] for row in rows]


def error_texts(exc: ValidationError) -> dict[str, str]:
    if hasattr(exc, "error_dict"):
        return {k: " ".join(v) for k, v in exc.message_dict.items()}
    return {"__all__": " ".join(exc.messages)}


def flash_errors(request: HttpRequest, exc: ValidationError) -> None:
    """The error's messages as flash messages on the page the view redirects to."""
    for message in error_texts(exc).values():
        messages.error(request, message)


@method_decorator(csrf_exempt, name="dispatch")
class CappedUploadView(StudioMixin, View):
    """Uploads stream to disk under our own cap. The handler must be set before anything reads the body, so the
    CSRF check (which reads request.POST) runs here, after it, instead of in the middleware."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if request.method == "POST":
            install_capped_upload_handler(request)
        return csrf_protect(super().dispatch)(request, *args, **kwargs)

    def refused(self, request: HttpRequest) -> int | None:
        request.POST  # noqa: B018 - parse the body now, through the capped handler
        return upload_refusal(request)
