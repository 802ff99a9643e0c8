"""Dataset versions: names, writing a frame as the next version (Parquet first, then the row), histograms,
deleting a dataset. Every other module here writes its versions through these."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, ProtectedError
from pandas.api import types as ptypes

from apps.accounts.models import Project
from apps.core.tempfiles import save_into_place, temp_path
from apps.datasets import storage as files
from apps.datasets.inference import apply_schema, infer_schema
from apps.datasets.models import Dataset, DatasetVersion
from apps.datasets.tokens import Tokens, boolean_tokens, carry_tokens, frame_as_written, schema_with_tokens
from apps.jobs.choices import ACTIVE_STATUSES
from apps.jobs.runtime import JobContext, JobError

HISTOGRAM_SAMPLE = 20_000
HISTOGRAM_BINS = 16
HISTOGRAM_TOP = 6
NAME_MAX = 100


# --- names ----------------------------------------------------------------------------------------------


def clean_dataset_name(name: Any, field: str = "name") -> str:
    text = " ".join(str(name or "").split())
    if not text:
        raise ValidationError({field: "Give the dataset a name."})
    if len(text) > NAME_MAX:
        raise ValidationError({field: f"The name is too long ({len(text)} characters; at most {NAME_MAX})."})
    return text


def orphans_purge(*, project: Project, name: str) -> None:
    """Delete datasets of this name that never got a version and whose import is over (a killed worker)."""
    for orphan in Dataset.objects.filter(project=project, name__iexact=name, latest_version__isnull=True):
        job = orphan.import_job
        if job is None or job.status not in ACTIVE_STATUSES:
            dataset_delete(dataset=orphan)


def dataset_name_is_free(*, project: Project, name: str) -> None:
    orphans_purge(project=project, name=name)
    if Dataset.objects.filter(project=project, name__iexact=name).exists():
        raise ValidationError({"name": f"A dataset named {name!r} already exists in this project."})


# --- writing versions ---------------------------------------------------------------------------------------------


def job_input_version(ctx: JobContext, *, gone: str) -> DatasetVersion:
    """The dataset version a job was started on (params["version"], in the job's project); JobError(`gone`) when it
    was deleted since."""
    version = (
        DatasetVersion.objects.select_related("dataset")
        .filter(pk=ctx.params["version"], project_id=ctx.project_id)
        .first()
    )
    if version is None:
        raise JobError(gone)
    return version


def version_result(version: DatasetVersion) -> dict[str, Any]:
    return {
        "dataset": version.dataset_id,
        "dataset_version": version.pk,
        "number": version.number,
        "rows": version.row_count,
        "columns": version.column_count,
    }


def cast_summary(report: dict[str, dict[str, Any]]) -> list[str]:
    notes = []
    for name, item in report.items():
        if item.get("failed"):
            examples = ", ".join(repr(e) for e in item.get("examples", [])[:3])
            notes.append(
                f"Column {name!r}: {item['failed']:,} value(s) are not {item['type']} "
                f"(e.g. {examples}) and were stored as missing."
            )
    return notes


def typed_schema(schema: list[dict[str, Any]], frame: pd.DataFrame, report: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for entry in schema:
        entry = dict(entry)
        name = entry["name"]
        entry["pandas_dtype"] = str(frame[name].dtype)
        entry["nullable"] = bool(frame[name].isna().any())
        failed = int((report.get(name) or {}).get("failed", 0))
        if failed:
            entry["invalid"] = failed
            entry["invalid_examples"] = list((report.get(name) or {}).get("examples", []))[:5]
        else:
            entry.pop("invalid", None)
            entry.pop("invalid_examples", None)
        out.append(entry)
    return out


def store_frame_as_version(
    ctx: JobContext,
    *,
    frame: pd.DataFrame,
    schema: list[dict[str, Any]],
    kind: str,
    source: dict[str, Any],
    dataset: Dataset | None = None,
    dataset_name: str | None = None,
    parents: Iterable[DatasetVersion] = (),
) -> DatasetVersion:
    ctx.progress(0.75, f"Writing {len(frame):,} rows as Parquet")
    with temp_path(".parquet") as tmp:
        files.write_frame(frame, tmp)
        ctx.progress(0.9, "Saving the version", force=True)
        return dataset_version_create(
            project_id=ctx.project_id,
            dataset=dataset,
            dataset_name=dataset_name,
            local_file=tmp,
            kind=kind,
            source=source,
            parents=parents,
            job_id=ctx.job_id,
            created_by_id=ctx.created_by_id,
            schema=schema,
            sample=frame,
        )


def dataset_version_create_from_frame(
    ctx: JobContext,
    *,
    frame: pd.DataFrame,
    kind: str,
    source: dict[str, Any],
    dataset_name: str,
    parents: Iterable[DatasetVersion] = (),
) -> DatasetVersion:
    """For other apps' jobs (AutoML batch predictions, unsupervised outputs): a DataFrame becomes the next
    version of the dataset named `dataset_name` (created when missing)."""
    schema = infer_schema(frame)
    # yes/no columns (predictions of a yes/no target, input columns kept beside them) are stored as booleans with
    # their tokens, like an import's
    spelled = [e for e in schema if "tokens" in e and not pd.api.types.is_bool_dtype(frame[e["name"]].dtype)]
    if spelled:
        frame = apply_schema(frame, spelled)
    for entry in schema:
        entry["pandas_dtype"] = str(frame[entry["name"]].dtype)
    parents = list(parents)
    carry_tokens(schema, *(parent.schema for parent in parents))
    return store_frame_as_version(
        ctx, frame=frame, schema=schema, kind=kind, source=source, dataset_name=dataset_name, parents=parents
    )


# --- versions -----------------------------------------------------------------------------------------------------


def mini_histograms(frame: pd.DataFrame, schema: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Small per-column histograms (bins for numbers and dates, top values otherwise) for the table header."""
    out: dict[str, dict[str, Any]] = {}
    types = {e["name"]: e.get("type") for e in schema}
    frame = frame_as_written(frame, boolean_tokens(schema))  # a yes/no column's bars are labelled yes and no
    for name in frame.columns:
        s = frame[name]
        entry: dict[str, Any] = {"n": len(s), "missing": int(s.isna().sum())}
        numeric = ptypes.is_numeric_dtype(s.dtype) and not ptypes.is_bool_dtype(s.dtype)
        if types.get(name) == "identifier" and not numeric:  # unique codes: a histogram says nothing
            entry.update(kind="none", distinct=int(s.nunique()))
            out[str(name)] = entry
            continue
        if numeric and types.get(name) not in ("categorical", "boolean"):
            values = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            values = values[np.isfinite(values)]
            if len(values):
                counts, edges = np.histogram(values, bins=min(HISTOGRAM_BINS, max(1, len(np.unique(values)))))
                entry.update(kind="bins", counts=counts.tolist(), min=float(edges[0]), max=float(edges[-1]))
                out[str(name)] = entry
                continue
        if ptypes.is_datetime64_any_dtype(s.dtype):
            ns = s.dropna().astype("datetime64[ns]").astype("int64").to_numpy()
            if len(ns):
                counts, edges = np.histogram(ns, bins=HISTOGRAM_BINS)
                entry.update(
                    kind="bins",
                    counts=counts.tolist(),
                    min=pd.Timestamp(int(edges[0])).isoformat(),
                    max=pd.Timestamp(int(edges[-1])).isoformat(),
                )
                out[str(name)] = entry
                continue
        try:
            counts_s = s.dropna().astype("str").value_counts()
        except (TypeError, ValueError):
            counts_s = pd.Series(dtype="int64")
        entry.update(
            kind="top",
            labels=[str(v)[:60] for v in counts_s.index[:HISTOGRAM_TOP]],
            counts=[int(c) for c in counts_s.iloc[:HISTOGRAM_TOP]],
            distinct=len(counts_s),
        )
        out[str(name)] = entry
    return out


def _holds_booleans(column: pd.Series) -> bool:
    """True for a column of booleans (with or without missing values), whatever its pandas dtype."""
    if ptypes.is_bool_dtype(column.dtype):
        return True
    values = column.dropna()
    return column.dtype == object and len(values) > 0 and all(isinstance(v, (bool, np.bool_)) for v in values)


def dataset_version_create(
    *,
    project_id: int,
    local_file: str,
    kind: str,
    source: dict[str, Any],
    dataset: Dataset | None = None,
    dataset_name: str | None = None,
    description: str = "",
    parents: Iterable[DatasetVersion] = (),
    job_id: int | None = None,
    created_by_id: int | None = None,
    schema: list[dict[str, Any]] | None = None,
    sample: pd.DataFrame | None = None,
    tokens: Tokens | None = None,
) -> DatasetVersion:
    """Move a local Parquet file into place as the next version of `dataset` (or of the dataset named
    `dataset_name`, created when missing) and record it. The file is in place before the row exists.

    An inferred schema's boolean columns get `tokens` (the user's yes/no spellings), or by default the tokens of
    same-named boolean columns of the parents."""
    rows, columns = files.parquet_shape(local_file)
    if sample is None or len(sample) > HISTOGRAM_SAMPLE:
        sample = (
            _local_sample(local_file)
            if sample is None
            else sample.sample(n=HISTOGRAM_SAMPLE, random_state=0).sort_index()
        )
    parents = list(parents)
    if schema is None:
        schema = infer_schema(sample)
        for entry in schema:
            entry["pandas_dtype"] = str(sample[entry["name"]].dtype)
        for entry in schema:  # a column stored as booleans has no spelling to keep (it would come back as "True")
            if "tokens" in entry and _holds_booleans(sample[entry["name"]]):
                del entry["tokens"]
        if tokens is not None:
            schema_with_tokens(schema, tokens)
        else:
            carry_tokens(schema, *(parent.schema for parent in parents))  # a yes/no input column stays yes/no
    histograms = mini_histograms(sample, schema)
    size = os.path.getsize(local_file)
    saved: str | None = None
    try:
        with transaction.atomic():
            if dataset is None:
                name = clean_dataset_name(dataset_name)
                target = Dataset.objects.select_for_update().filter(project_id=project_id, name__iexact=name).first()
                if target is None:
                    target = Dataset.objects.create(
                        project_id=project_id, name=name, description=description, created_by_id=created_by_id
                    )
            else:
                target = Dataset.objects.select_for_update().get(pk=dataset.pk)
            number = (target.versions.aggregate(n=Max("number"))["n"] or 0) + 1
            saved = save_into_place(local_file, files.version_path(project_id, target.pk, number))
            version = DatasetVersion.objects.create(
                project_id=project_id,
                dataset=target,
                number=number,
                kind=kind,
                file=saved,
                row_count=rows,
                column_count=columns,
                bytes=size,
                schema=schema,
                histograms=histograms,
                source=source,
                job_id=job_id,
                created_by_id=created_by_id,
            )
            if parents:
                version.parents.set(parents)
            target.latest_version = version
            target.import_job = None
            target.save(update_fields=["latest_version", "import_job", "updated_at"])
    except IntegrityError as exc:
        files.delete_quietly(saved)
        raise JobError(f"Could not record the new version ({exc}); run the job again.") from exc
    except BaseException:
        files.delete_quietly(saved)
        raise
    return version


def _local_sample(local_file: str, rows: int = HISTOGRAM_SAMPLE) -> pd.DataFrame:
    pf = pq.ParquetFile(local_file)
    n = pf.metadata.num_row_groups
    if n == 0:
        return pf.schema_arrow.empty_table().to_pandas()
    picks = sorted({0, n // 2, n - 1}) if n > 3 else list(range(n))
    frame = pf.read_row_groups(picks).to_pandas()
    if len(frame) > rows:
        frame = frame.sample(n=rows, random_state=0).sort_index().reset_index(drop=True)
    return frame


def _users_of(objects: Iterable[Any]) -> str:
    """What still reads a dataset's versions, counted by kind ("2 Canvas builds, 1 Clarify report")."""
    counts: dict[str, list[Any]] = {}
    for obj in objects:
        counts.setdefault(obj._meta.label, [obj._meta, 0])[1] += 1
    parts = []
    for meta, n in counts.values():
        name = meta.verbose_name if n == 1 else meta.verbose_name_plural
        parts.append(f"{n} {name}")
    return ", ".join(sorted(parts))


def dataset_delete(*, dataset: Dataset) -> None:
    """Delete a dataset, its versions and reports, and every file under its folder."""
    prefix = files.dataset_dir(dataset.project_id, dataset.pk)
    names = [path for path, _size in files.walk_dataset_files(prefix)]
    try:
        with transaction.atomic():
            Dataset.objects.filter(pk=dataset.pk).update(latest_version=None)
            dataset.delete()
    except ProtectedError as exc:
        raise ValidationError(
            f"{dataset.name} is still used by {_users_of(exc.protected_objects)}: delete those first, "
            "or keep the dataset.",
            code="in_use",
        ) from exc
    for name in names:
        files.delete_quietly(name)
