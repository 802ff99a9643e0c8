"""Job kinds of the Data Wrangler. Thin: each calls one service that re-reads its inputs from the params."""

from __future__ import annotations

from typing import Any

from apps.jobs.registry import job_kind
from apps.jobs.runtime import JobContext


@job_kind("datasets.import", title="Import dataset", max_attempts=2)
def dataset_import(ctx: JobContext) -> dict[str, Any]:
    from apps.datasets.services import dataset_import_run

    return dataset_import_run(ctx)


@job_kind("datasets.import_sql", title="Import dataset from a database", max_attempts=2)
def dataset_import_sql(ctx: JobContext) -> dict[str, Any]:
    from apps.datasets.services import dataset_sql_import_run

    return dataset_sql_import_run(ctx)


@job_kind("datasets.profile", title="Data quality and insights report", max_attempts=2)
def dataset_profile(ctx: JobContext) -> dict[str, Any]:
    from apps.datasets.services import profile_run

    return profile_run(ctx)


@job_kind("datasets.retype", title="Change column types", max_attempts=2)
def dataset_retype(ctx: JobContext) -> dict[str, Any]:
    from apps.datasets.services import version_retype_run

    return version_retype_run(ctx)


@job_kind("datasets.flow_run", title="Run flow", max_attempts=2)
def flow_run(ctx: JobContext) -> dict[str, Any]:
    from apps.datasets.services import flow_run_execute

    return flow_run_execute(ctx)


@job_kind("datasets.sql_save", title="Save SQL result", max_attempts=2)
def sql_save(ctx: JobContext) -> dict[str, Any]:
    from apps.datasets.services import sql_save_run

    return sql_save_run(ctx)
