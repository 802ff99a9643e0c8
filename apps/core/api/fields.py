"""Serializer fields shared by every app's API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.core.ids import MAX_ID


class IdField(serializers.IntegerField):
    """An object's id in a request body: a whole number 1..MAX_ID (a larger one would overflow the database's
    64-bit integer in a lookup, a 500), or a 400 naming the field."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)
