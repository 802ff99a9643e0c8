"""Ids and the integers we accept in URLs and query strings, bounded once for every app.

Every primary key is a BigAutoField (a signed 64-bit integer in SQLite and PostgreSQL): a number outside
1..MAX_ID can name no object, and handing it to the database raises OverflowError (a 500) on SQLite. URLs take ids
through the `id` path converter (a number out of range matches no route: 404); filters and query parameters through
the bounded filters of apps/core/filters.py and `int_param` below (400 naming the parameter)."""

from __future__ import annotations

import re
from typing import Any, overload

from django.core.exceptions import ValidationError
from django.urls import register_converter

MAX_ID = 2**63 - 1
# Offsets in list APIs: the largest integer a JSON client (JavaScript) represents exactly.
MAX_OFFSET = 2**53
WHOLE_NUMBER = re.compile(r"-?[0-9]{1,40}")
# How the OpenAPI schema documents an id parameter.
ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


class IdConverter:
    """`<id:pk>`: a decimal id 1..MAX_ID; anything else matches no route (a 404)."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 1 <= number <= MAX_ID:
            raise ValueError(f"{value} is out of the id range")
        return number

    def to_url(self, value: Any) -> str:
        return str(int(value))


def register() -> None:
    register_converter(IdConverter, "id")


@overload
def int_param(params: Any, name: str, *, default: int, min_value: int = 0, max_value: int = MAX_ID) -> int: ...
@overload
def int_param(
    params: Any, name: str, *, default: None = None, min_value: int = 0, max_value: int = MAX_ID
) -> int | None: ...
def int_param(
    params: Any, name: str, *, default: int | None = None, min_value: int = 0, max_value: int = MAX_ID
) -> int | None:
    """The whole number in query parameter `name` (`default` when absent or empty), checked against its range:
    a ValidationError naming the parameter otherwise (a 400 in the API)."""
    raw = params.get(name)
    if raw is None or str(raw).strip() == "":
        return default
    text = str(raw).strip()
    if not WHOLE_NUMBER.fullmatch(text):
        raise ValidationError({name: f"{name} must be a whole number, got {raw!r}."})
    number = int(text)
    if number < min_value or number > max_value:
        raise ValidationError({name: f"{name} must be between {min_value} and {max_value}, got {number}."})
    return number
