"""studio pages of Ground Truth (see views/__init__.py)."""

from __future__ import annotations

urlpatterns: list = []
