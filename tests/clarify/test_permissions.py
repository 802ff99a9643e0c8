"""The persona × route matrix's rows for Clarify (API under /api/clarify/; the pages' rows join here).

The harness, and what a row means: tests/permissions.py. Reading is for studio personas (USE_STUDIO); starting a
report, setting thresholds and mitigating need RUN_JOBS (every studio persona has it); a Labeler sees none of it."""

from __future__ import annotations

from tests.permissions import (
    PROJECT,
    STUDIO,
    ListRow,
    Probe,
    Route,
    clarify_report_kw,
    get,
    matrix_tests,
    post,
)

ROUTES: dict[str, Route] = {
    "clarify:list": Route((get(STUDIO), post(STUDIO, 400))),  # POST without data: the form's errors
    "clarify:detail": Route((get(STUDIO),), kwargs=clarify_report_kw, foreign=PROJECT),
    "clarify:thresholds": Route((post(STUDIO, 302),), kwargs=clarify_report_kw, foreign=PROJECT),  # all defaults
    "clarify:mitigate": Route((post(STUDIO, 400),), kwargs=clarify_report_kw, foreign=PROJECT),  # no kind chosen
    "api:clarify-report-list": Route((get(STUDIO), post(STUDIO, 400))),  # POST without a dataset version
    "api:clarify-report-detail": Route((get(STUDIO),), kwargs=clarify_report_kw, foreign=PROJECT),
    # no thresholds / no kind given: 400 naming it, nothing changes
    "api:clarify-report-thresholds": Route(
        (post(STUDIO, 400), Probe(STUDIO, "patch", 400)), kwargs=clarify_report_kw, foreign=PROJECT
    ),
    "api:clarify-report-mitigate": Route((post(STUDIO, 400),), kwargs=clarify_report_kw, foreign=PROJECT),
    "api:clarify-report-analysis-json": Route((get(STUDIO),), kwargs=clarify_report_kw, foreign=PROJECT),
    "api:clarify-report-html": Route((get(STUDIO),), kwargs=clarify_report_kw, foreign=PROJECT),
}

LISTS: list[ListRow] = [
    ("api:clarify-report-list", "", None, "clarify_reports"),
]

globals().update(matrix_tests(ROUTES, LISTS))  # the `world` fixture and this app's matrix tests
