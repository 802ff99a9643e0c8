"""The API error shape: `{"detail": "...", "errors": {field_or_column: [messages]}, "code": "..."}` for every 4xx;
`code` is DRF's stable code of the exception (invalid, parse_error, not_authenticated, permission_denied, not_found,
method_not_allowed, unsupported_media_type, throttled, ...). The schema documents it (apps/core/api/schema.py)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def _flatten(detail: Any) -> dict[str, Any]:
    if isinstance(detail, dict):
        return {str(k): v for k, v in detail.items()}
    if isinstance(detail, list):
        return {"non_field_errors": detail}
    return {}


def _first_message(errors: dict[str, Any]) -> str:
    for field, messages in errors.items():
        msg = messages[0] if isinstance(messages, list) and messages else messages
        if isinstance(msg, dict):
            msg = _first_message(msg)
        return str(msg) if field == "non_field_errors" else f"{field}: {msg}"
    return "Invalid input."


def error_response(status: int, detail: str, *, code: str, field: str | None = None) -> Response:
    """An error answered by a view itself (not raised), in the same shape: `errors` names `field` when given."""
    return Response({"detail": detail, "errors": {field: [detail]} if field else {}, "code": code}, status=status)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail=detail)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    code = getattr(exc, "default_code", "error")
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(data)
        response.data = {"detail": _first_message(errors), "errors": errors, "code": code}
    elif isinstance(data, dict) and "detail" in data:
        others = {k: v for k, v in data.items() if k not in ("detail", "code")}
        response.data = {"detail": str(data["detail"]), "errors": others, "code": code}
    else:
        response.data = {"detail": str(data), "errors": {}, "code": code}
    return response
