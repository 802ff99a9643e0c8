"""The API router: every detail route takes its id through the bounded `id` path converter (apps/core/ids.py), so
an id out of range is a 404 like any unknown id, and the schema documents ids as integers 1..2**63-1."""

from __future__ import annotations

from typing import Any

from rest_framework.routers import SimpleRouter


class Router(SimpleRouter):
    def __init__(self) -> None:
        super().__init__(use_regex_path=False)

    def get_lookup_regex(self, viewset: Any, lookup_prefix: str = "") -> str:
        lookup_field = getattr(viewset, "lookup_field", "pk")
        lookup_url_kwarg = getattr(viewset, "lookup_url_kwarg", None) or lookup_field
        converter = getattr(viewset, "lookup_value_converter", None) or "id"
        return f"<{converter}:{lookup_prefix}{lookup_url_kwarg}>"
