"""The persona × route matrix's rows for Canvas AutoML and tuning (UI under /canvas/).

The harness, and what a row means: tests/permissions.py."""

from __future__ import annotations

from tests.permissions import (
    PROJECT,
    STUDIO,
    ListRow,
    Probe,
    Route,
    build_kw,
    get,
    matrix_tests,
    post,
    tuning_kw,
)

ROUTES: dict[str, Route] = {
    # Canvas (AutoML; UI under /canvas/): studio personas; the probes' builds have no fitted model
    "automl:list": Route((get(STUDIO), post(STUDIO, 400))),  # POST without data: the form's errors
    "automl:detail": Route((get(STUDIO),), kwargs=build_kw, foreign=PROJECT),
    "automl:select": Route((post(STUDIO, 302),), kwargs=build_kw, foreign=PROJECT),
    "automl:batch_predict": Route((post(STUDIO, 302),), kwargs=build_kw, foreign=PROJECT),
    "automl:package": Route((post(STUDIO, 302),), kwargs=build_kw, foreign=PROJECT),
    "api:automl-list": Route((get(STUDIO), post(STUDIO, 400))),  # POST without project
    "api:automl-check": Route((post(STUDIO, 400),)),
    "api:automl-detail": Route((get(STUDIO),), kwargs=build_kw, foreign=PROJECT),
    "api:automl-progress": Route((get(STUDIO),), kwargs=build_kw, foreign=PROJECT),
    "api:automl-predict": Route((post(STUDIO, 400),), kwargs=build_kw, foreign=PROJECT),  # no rows
    "api:automl-explain": Route((post(STUDIO, 400),), kwargs=build_kw, foreign=PROJECT),  # no rows
    "api:automl-batch-predict": Route((post(STUDIO, 400),), kwargs=build_kw, foreign=PROJECT),
    "api:automl-select": Route((post(STUDIO, 400),), kwargs=build_kw, foreign=PROJECT),
    "api:automl-package": Route((post(STUDIO, 400),), kwargs=build_kw, foreign=PROJECT),  # no fitted model
    # Tuning jobs: studio personas read; starting needs RUN_JOBS (all studio personas have it)
    "automl:tuning_list": Route((get(STUDIO), post(STUDIO, 400))),  # POST without data: the form's errors
    "automl:tuning_detail": Route((get(STUDIO),), kwargs=tuning_kw, foreign=PROJECT),
    "api:tuning-list": Route((get(STUDIO), post(STUDIO, 400))),  # POST without project
    "api:tuning-detail": Route((get(STUDIO),), kwargs=tuning_kw, foreign=PROJECT),
    "api:tuning-trials": Route((get(STUDIO),), kwargs=tuning_kw, foreign=PROJECT),
    "api:tuning-ranges": Route((Probe(STUDIO, "get", 400),)),  # no algorithm given: 400 naming it
}

LISTS: list[ListRow] = [
    ("api:automl-list", "", None, "builds"),
    ("api:tuning-list", "", None, "tunings"),
]

globals().update(matrix_tests(ROUTES, LISTS))  # the `world` fixture and this app's matrix tests
