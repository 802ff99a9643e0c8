"""The exports part of the labeling API (see api/__init__.py)."""

from __future__ import annotations

urlpatterns: list = []
