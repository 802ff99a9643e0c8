"""Permission-matrix rows for the labeling routes of the work part (joined in tests/labeling/test_permissions.py)."""

from __future__ import annotations

from tests.permissions import ListRow, Route

ROUTES: dict[str, Route] = {}
LISTS: list[ListRow] = []
