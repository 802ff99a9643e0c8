"""Retyping a version's columns: a job that writes the next version with the new types."""

from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import ValidationError

from apps.accounts.models import User
from apps.datasets import storage as files
from apps.datasets.choices import VersionKind
from apps.datasets.inference import TYPES, apply_schema, pandas_dtype_for
from apps.datasets.models import DatasetVersion
from apps.datasets.services.versions import (
    cast_summary,
    job_input_version,
    store_frame_as_version,
    typed_schema,
    version_result,
)
from apps.jobs.models import Job
from apps.jobs.runtime import JobContext
from apps.jobs.services import job_start

# --- retype ---------------------------------------------------------------------------------------------------------


def version_retype_start(*, version: DatasetVersion, created_by: User, columns: dict[str, str]) -> Job:
    if not isinstance(columns, dict) or not columns:
        raise ValidationError({"columns": 'Give at least one column and its new type, e.g. {"price": "numeric"}.'})
    errors: dict[str, str] = {}
    for name, type_ in columns.items():
        if version.column(name) is None:
            errors[name] = f"No column {name!r} in {version}."
        elif type_ not in TYPES:
            errors[name] = f"Unknown type {type_!r} for column {name!r}; use one of {', '.join(TYPES)}."
    if errors:
        raise ValidationError(errors)
    return job_start(
        kind="datasets.retype",
        project=version.project,
        created_by=created_by,
        title=f"Change column types of {version}"[:200],
        params={"version": version.pk, "columns": dict(columns)},
    )


def version_retype_run(ctx: JobContext) -> dict[str, Any]:
    done = DatasetVersion.objects.filter(job_id=ctx.job_id).first()
    if done is not None:
        return version_result(done)
    version = job_input_version(ctx, gone="The dataset version was deleted before the job ran.")
    changes: dict[str, str] = ctx.params["columns"]
    ctx.progress(0.05, f"Reading {version.row_count:,} rows")
    frame = files.read_frame(version.file)
    schema = copy.deepcopy(version.schema)
    changed = []
    for entry in schema:
        if entry["name"] in changes:
            entry["type"] = changes[entry["name"]]
            entry["reason"] = "set by hand"
            if entry["type"] != "datetime":
                entry.pop("format", None)
            entry["pandas_dtype"] = pandas_dtype_for(entry["type"], frame[entry["name"]].dtype)
            changed.append(entry)
    ctx.progress(0.4, f"Converting {len(changed)} column(s)")
    typed = apply_schema(frame, changed)
    report = typed.attrs.get("cast_report", {})
    del frame
    source = {
        "kind": VersionKind.RETYPE,
        "from_version": version.pk,
        "from_number": version.number,
        "columns": changes,
        "cast_report": {k: v for k, v in report.items() if v.get("failed")},
    }
    new = store_frame_as_version(
        ctx,
        frame=typed,
        schema=typed_schema(schema, typed, report),
        kind=VersionKind.RETYPE,
        source=source,
        dataset=version.dataset,
        parents=[version],
    )
    notes = cast_summary(report)
    ctx.final_message = (
        f"{version.dataset.name} v{new.number}: {len(changed)} column type(s) changed."
        + (" " + " ".join(notes) if notes else "")
    )[:500]
    return {**version_result(new), "warnings": notes}
