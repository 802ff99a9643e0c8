"""What the Data Wrangler pages share: table cells for people, form and flash errors, capped uploads."""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.views import View

from apps.accounts.mixins import StudioMixin
from apps.core.uploads import CappedUploadMixin

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


class CappedUploadView(CappedUploadMixin, StudioMixin, View):
    """A studio page that takes uploads under our own cap (apps/core/uploads.py)."""
