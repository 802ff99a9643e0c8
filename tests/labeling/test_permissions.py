"""The persona × route matrix's rows for Ground Truth, one module per part (rows_*.py), joined here.

The harness, and what a row means: tests/permissions.py. Studio personas create, review and export jobs; a Labeler
reaches only the work routes, and only for the jobs of their teams (another team's job is a 404)."""

from __future__ import annotations

from tests.labeling import rows_exports, rows_jobs, rows_quality, rows_queue, rows_studio, rows_work
from tests.permissions import ListRow, Route, matrix_tests

PARTS = (rows_jobs, rows_queue, rows_quality, rows_exports, rows_studio, rows_work)
ROUTES: dict[str, Route] = {name: route for part in PARTS for name, route in part.ROUTES.items()}
LISTS: list[ListRow] = [row for part in PARTS for row in part.LISTS]

globals().update(matrix_tests(ROUTES, LISTS))  # the `world` fixture and this app's matrix tests
