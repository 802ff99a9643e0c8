"""The persona × route matrix's rows for the built-in algorithms (UI under /canvas/unsupervised/).

The harness, and what a row means: tests/permissions.py."""

from __future__ import annotations

from tests.permissions import (
    PROJECT,
    STUDIO,
    ListRow,
    Route,
    get,
    matrix_tests,
    post,
    run_kw,
)

ROUTES: dict[str, Route] = {
    # Built-in algorithms (UI under /canvas/unsupervised/): studio personas; starting needs RUN_JOBS (all of them)
    "unsupervised:list": Route((get(STUDIO), post(STUDIO, 400))),  # POST without data: the form's errors
    "unsupervised:detail": Route((get(STUDIO),), kwargs=run_kw, foreign=PROJECT),
    "api:unsupervised-list": Route((get(STUDIO), post(STUDIO, 400))),  # POST without project
    "api:unsupervised-detail": Route((get(STUDIO),), kwargs=run_kw, foreign=PROJECT),
}

LISTS: list[ListRow] = [
    ("api:unsupervised-list", "", None, "runs"),
]

globals().update(matrix_tests(ROUTES, LISTS))  # the `world` fixture and this app's matrix tests
