"""The SQL editor's saved results: a query over dataset versions becomes a new dataset (a job)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from apps.accounts.models import Project, User
from apps.core.tempfiles import temp_path
from apps.datasets import storage as files
from apps.datasets.choices import VersionKind
from apps.datasets.models import DatasetVersion
from apps.datasets.services.versions import (
    clean_dataset_name,
    dataset_version_create,
    orphans_purge,
    version_result,
)
from apps.jobs.models import Job
from apps.jobs.runtime import JobContext, JobError
from apps.jobs.services import job_start

# --- SQL editor -----------------------------------------------------------------------------------------------------


def sql_save_start(*, project: Project, created_by: User, query: str, name: str) -> Job:
    from apps.datasets.selectors import sql_tables_for_project
    from apps.datasets.sql import SqlError, check_duckdb_query, duckdb_connection, referenced_names

    name = clean_dataset_name(name)
    connection = duckdb_connection()
    try:
        check_duckdb_query(connection, query)
    except SqlError as exc:
        raise ValidationError({exc.field: exc.message}) from exc
    finally:
        connection.close()
    tables = sql_tables_for_project(project=project)
    used = {ident: version.pk for ident, version in tables.items() if ident in referenced_names(query)}
    if not used:
        raise ValidationError({"query": "The query reads none of the project's dataset tables."})
    orphans_purge(project=project, name=name)
    return job_start(
        kind="datasets.sql_save",
        project=project,
        created_by=created_by,
        title=f"Save SQL result as {name}"[:200],
        params={"query": query, "tables": used, "name": name},
    )


def sql_save_run(ctx: JobContext) -> dict[str, Any]:
    import contextlib

    import pyarrow.parquet as pq_writer

    from apps.datasets.sql import SqlError, sandbox_batches

    done = DatasetVersion.objects.filter(job_id=ctx.job_id).first()
    if done is not None:
        return version_result(done)
    wanted: dict[str, int] = ctx.params["tables"]
    versions = {v.pk: v for v in DatasetVersion.objects.filter(pk__in=wanted.values(), project_id=ctx.project_id)}
    missing = [name for name, pk in wanted.items() if pk not in versions]
    if missing:
        raise JobError(f"Dataset version(s) behind {', '.join(missing)} were deleted; run the query again.")
    ctx.progress(0.05, "Running the query")
    rows = 0
    with contextlib.ExitStack() as stack:
        paths = {name: stack.enter_context(files.local_path(versions[pk].file)) for name, pk in wanted.items()}
        tmp = stack.enter_context(temp_path(".parquet"))
        try:
            used, schema, batches = sandbox_batches(ctx.params["query"], paths)
            with pq_writer.ParquetWriter(tmp, schema) as writer:
                for batch in batches:
                    writer.write_batch(batch, row_group_size=files.ROW_GROUP_SIZE)
                    rows += batch.num_rows
                    ctx.progress(min(0.7, 0.1 + rows / 5_000_000), f"Wrote {rows:,} rows")
        except SqlError as exc:
            raise JobError(exc.message) from exc
        ctx.progress(0.85, "Saving the version", force=True)
        version = dataset_version_create(
            project_id=ctx.project_id,
            dataset_name=ctx.params["name"],
            local_file=tmp,
            kind=VersionKind.SQL,
            source={
                "kind": VersionKind.SQL,
                "query": ctx.params["query"],
                "tables": {name: wanted[name] for name in used},
            },
            parents=[versions[wanted[name]] for name in used],
            job_id=ctx.job_id,
            created_by_id=ctx.created_by_id,
        )
    ctx.final_message = f"Saved {rows:,} rows as {version.dataset.name} v{version.number}."
    return version_result(version)
