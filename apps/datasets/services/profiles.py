"""The data quality and insights report of a dataset version (a job)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from apps.accounts.models import User
from apps.datasets import storage as files
from apps.datasets.models import DatasetVersion, ProfileReport
from apps.datasets.services.versions import job_input_version
from apps.datasets.tokens import boolean_tokens, report_as_written
from apps.jobs.models import Job
from apps.jobs.runtime import JobContext, JobError
from apps.jobs.services import job_start

# --- profile ------------------------------------------------------------------------------------------------------


def profile_start(*, version: DatasetVersion, created_by: User, target: str | None = None) -> Job:
    target = (target or "").strip() or None
    if target is not None and version.column(target) is None:
        raise ValidationError(
            {
                "target": f"No column {target!r} in {version}. Columns: "
                f"{', '.join(map(repr, version.column_names[:40]))}."
            }
        )
    return job_start(
        kind="datasets.profile",
        project=version.project,
        created_by=created_by,
        title=f"Profile {version}"[:200],
        params={"version": version.pk, "target": target},
    )


def _report_summary(report: dict[str, Any]) -> dict[str, Any]:
    summary = report.get("summary") or {}
    severities = {"high": 0, "medium": 0, "low": 0}
    for warning in report.get("warnings") or []:
        severities[warning.get("severity", "low")] = severities.get(warning.get("severity", "low"), 0) + 1
    target = report.get("target") or {}
    return {
        "rows": summary.get("rows"),
        "columns": summary.get("columns"),
        "missing_cells_ratio": summary.get("missing_cells_ratio"),
        "duplicate_rows": summary.get("duplicate_rows"),
        "warnings": severities,
        "problem_type": target.get("problem_type"),
    }


def profile_run(ctx: JobContext) -> dict[str, Any]:
    from apps.datasets.profiling import profile_dataframe

    done = ProfileReport.objects.filter(job_id=ctx.job_id).first()
    if done is not None:
        return {"report": done.pk, "version": done.version_id}
    version = job_input_version(ctx, gone="The dataset version was deleted before its profile ran.")
    target = ctx.params.get("target") or None
    ctx.progress(0.02, f"Reading {version.row_count:,} rows")
    frame = files.read_frame(version.file)
    if target is not None and target not in frame.columns:
        raise JobError(f"No column {target!r} in {version}.")
    report = profile_dataframe(
        frame, target=target, schema=version.schema, progress=lambda f, m: ctx.progress(0.05 + 0.85 * f, m)
    )
    del frame
    # the analysis ran on booleans; a yes/no column's values are shown as yes/no (top values, classes, examples)
    report = report_as_written(report, boolean_tokens(version.schema))
    ctx.progress(0.92, "Saving the report", force=True)
    name, size = files.write_json(
        report, files.report_path(version.project_id, version.dataset_id, version.number, ctx.job_id)
    )
    try:
        saved = ProfileReport.objects.create(
            project_id=version.project_id,
            version=version,
            target=target or "",
            file=name,
            bytes=size,
            summary=_report_summary(report),
            job_id=ctx.job_id,
            created_by_id=ctx.created_by_id,
        )
    except BaseException:
        files.delete_quietly(name)
        raise
    warnings = saved.summary["warnings"]
    ctx.final_message = (
        f"Profiled {version}: {warnings['high']} high, {warnings['medium']} medium and "
        f"{warnings['low']} low severity warnings."
    )
    return {"report": saved.pk, "version": version.pk}
