"""The persona × route matrix's rows for Data Wrangler (UI under /data/).

The harness, and what a row means: tests/permissions.py."""

from __future__ import annotations

from tests.permissions import (
    PROJECT,
    STUDIO,
    ListRow,
    Route,
    dataset_kw,
    flow_kw,
    flow_source_kw,
    flow_step_kw,
    get,
    matrix_tests,
    post,
    report_kw,
    spare_analysis_kw,
    spare_dataset_kw,
    spare_flow_kw,
    version_kw,
)

ROUTES: dict[str, Route] = {
    # Data Wrangler (UI under /data/): pages for studio personas, writes that start jobs need RUN_JOBS (all of them)
    "datasets:index": Route((get(STUDIO, ok=302),)),
    "datasets:list": Route((get(STUDIO), post(STUDIO, 400))),  # POST without a file: the upload form's errors
    "datasets:import_sql": Route((post(STUDIO, 400),)),
    "datasets:detail": Route((get(STUDIO), post(STUDIO, 400)), kwargs=dataset_kw, foreign=PROJECT),
    "datasets:delete": Route((post(STUDIO, 302),), kwargs=spare_dataset_kw, foreign=PROJECT),
    "datasets:retype": Route((post(STUDIO, 400),), kwargs=version_kw, foreign=PROJECT),  # no type changed
    "datasets:profile_start": Route((post(STUDIO, 302),), kwargs=version_kw, foreign=PROJECT),
    "datasets:report": Route((get(STUDIO),), kwargs=version_kw, foreign=PROJECT),
    "datasets:report_download": Route((get(STUDIO),), kwargs=report_kw, foreign=PROJECT),
    "datasets:sql": Route((get(STUDIO), post(STUDIO, 400))),
    "datasets:flow_list": Route((get(STUDIO), post(STUDIO, 400))),
    "datasets:flow_detail": Route((get(STUDIO),), kwargs=flow_kw, foreign=PROJECT),
    "datasets:flow_step_add": Route((post(STUDIO, 302),), kwargs=flow_kw, foreign=PROJECT),  # no operator: back
    "datasets:flow_step_edit": Route((post(STUDIO, 302),), kwargs=flow_step_kw, foreign=PROJECT),
    "datasets:flow_step_delete": Route((post(STUDIO, 302),), kwargs=flow_step_kw, foreign=PROJECT),
    "datasets:flow_source_add": Route((post(STUDIO, 302),), kwargs=flow_kw, foreign=PROJECT),
    "datasets:flow_source_delete": Route((post(STUDIO, 302),), kwargs=flow_source_kw, foreign=PROJECT),
    "datasets:flow_run": Route((post(STUDIO, 302),), kwargs=flow_kw, foreign=PROJECT),
    "datasets:flow_export": Route((get(STUDIO),), kwargs=flow_kw, foreign=PROJECT),
    "datasets:flow_delete": Route((post(STUDIO, 302),), kwargs=spare_flow_kw, foreign=PROJECT),
    "datasets:flow_analysis_add": Route((post(STUDIO, 400),), kwargs=flow_kw, foreign=PROJECT),
    "datasets:flow_analysis_delete": Route((post(STUDIO, 302),), kwargs=spare_analysis_kw, foreign=PROJECT),
    # Data Wrangler API
    "api:dataset-list": Route((get(STUDIO), post(STUDIO, 400))),  # POST without project and file
    "api:dataset-detail": Route((get(STUDIO),), kwargs=dataset_kw, foreign=PROJECT),
    "api:dataset-versions": Route((post(STUDIO, 400),), kwargs=dataset_kw, foreign=PROJECT),  # no file
    "api:dataset-import-sql": Route((post(STUDIO, 400),)),
    "api:data-connection-list": Route((get(STUDIO),)),
    "api:dataset-version-list": Route((get(STUDIO),)),
    "api:dataset-version-detail": Route((get(STUDIO),), kwargs=version_kw, foreign=PROJECT),
    "api:dataset-version-rows": Route((get(STUDIO),), kwargs=version_kw, foreign=PROJECT),
    "api:dataset-version-download": Route((get(STUDIO),), kwargs=version_kw, foreign=PROJECT),
    "api:dataset-version-profile": Route((get(STUDIO), post(STUDIO, 202)), kwargs=version_kw, foreign=PROJECT),
    "api:dataset-version-retype": Route((post(STUDIO, 400),), kwargs=version_kw, foreign=PROJECT),
    "api:flow-list": Route((get(STUDIO), post(STUDIO, 400))),
    "api:flow-detail": Route((get(STUDIO),), kwargs=flow_kw, foreign=PROJECT),
    "api:flow-steps": Route((post(STUDIO, 400),), kwargs=flow_kw, foreign=PROJECT),  # no operator
    "api:flow-preview": Route((post(STUDIO, 200),), kwargs=flow_kw, foreign=PROJECT),
    "api:flow-run": Route((post(STUDIO, 202),), kwargs=flow_kw, foreign=PROJECT),
    "api:flow-export": Route((get(STUDIO),), kwargs=flow_kw, foreign=PROJECT),
    "api:operator-list": Route((get(STUDIO),)),
    "api:sql-query": Route((post(STUDIO, 400),)),
    "api:sql-save": Route((post(STUDIO, 400),)),
}

LISTS: list[ListRow] = [
    ("api:dataset-list", "", None, "datasets"),
    ("api:dataset-version-list", "", None, "versions"),
    ("api:flow-list", "", None, "flows"),
]

globals().update(matrix_tests(ROUTES, LISTS))  # the `world` fixture and this app's matrix tests
