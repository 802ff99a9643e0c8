"""Data Wrangler writes: imports, versions, profiles, retyping, flows and their runs, SQL results.

Rules that hold for every write here:
* a version's Parquet file is written to a local temp file, then moved into place, and only then is the
  DatasetVersion row created (inside one transaction that also points the dataset at it);
* a failed first import deletes the dataset it created (and its upload): no dataset without versions stays;
* job functions are idempotent: a retried job finds the version (or report) its earlier attempt made.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Max
from pandas.api import types as ptypes

from apps.accounts.models import Project, User
from apps.datasets import storage as files
from apps.datasets.choices import VersionKind
from apps.datasets.inference import TYPES, apply_schema, infer_schema, pandas_dtype_for
from apps.datasets.models import DataConnection, Dataset, DatasetVersion, Flow, FlowAnalysis, ProfileReport
from apps.jobs.choices import ACTIVE_STATUSES
from apps.jobs.models import Job
from apps.jobs.runtime import JobContext, JobError
from apps.jobs.services import job_start

HISTOGRAM_SAMPLE = 20_000
HISTOGRAM_BINS = 16
HISTOGRAM_TOP = 6
NAME_MAX = 100


# --- names ----------------------------------------------------------------------------------------------


def _clean_name(name: Any, field: str = "name") -> str:
    text = " ".join(str(name or "").split())
    if not text:
        raise ValidationError({field: "Give the dataset a name."})
    if len(text) > NAME_MAX:
        raise ValidationError({field: f"The name is too long ({len(text)} characters; at most {NAME_MAX})."})
    return text


def _orphans_purge(*, project: Project, name: str) -> None:
    """Delete datasets of this name that never got a version and whose import is over (a killed worker)."""
    for orphan in Dataset.objects.filter(project=project, name__iexact=name, latest_version__isnull=True):
        job = orphan.import_job
        if job is None or job.status not in ACTIVE_STATUSES:
            dataset_delete(dataset=orphan)


def _name_is_free(*, project: Project, name: str) -> None:
    _orphans_purge(project=project, name=name)
    if Dataset.objects.filter(project=project, name__iexact=name).exists():
        raise ValidationError({"name": f"A dataset named {name!r} already exists in this project."})


# --- import options ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportOptions:
    """How to read an upload (everything optional: the readers detect what is not given)."""

    format: str | None = None
    delimiter: str | None = None
    encoding: str | None = None
    header: bool | None = None
    sheet: str | None = None
    sample_method: str = "all"
    sample_size: int | None = None
    sample_column: str | None = None
    seed: int = 0

    def check(self) -> None:
        import codecs

        errors: dict[str, str] = {}
        if self.delimiter is not None and len(self.delimiter) != 1:
            errors["delimiter"] = f"The delimiter must be one character, got {self.delimiter!r}."
        if self.encoding:
            try:
                codecs.lookup(self.encoding)
            except LookupError:
                errors["encoding"] = f"Unknown encoding {self.encoding!r}."
        if self.sample_method != "all" and (self.sample_size is None or self.sample_size < 1):
            errors["sample_size"] = f"Sampling {self.sample_method!r} needs a sample size of at least 1."
        if self.sample_method == "stratified" and not self.sample_column:
            errors["sample_column"] = "Stratified sampling needs the column to stratify by."
        if errors:
            raise ValidationError(errors)

    def sampling(self) -> dict[str, Any]:
        return {"method": self.sample_method, "size": self.sample_size, "seed": self.seed, "column": self.sample_column}


def _read_limits() -> Any:
    from apps.datasets.readers import ReadLimits

    return ReadLimits(max_bytes=int(settings.ATELIER_MAX_UPLOAD_BYTES))


# --- starting imports -----------------------------------------------------------------------------------------


def _store_upload(*, project: Project, dataset: Dataset, upload: UploadedFile) -> str:
    if not upload.size:
        raise ValidationError({"file": "The file is empty."})
    return files.storage().save(files.upload_path(project.pk, dataset.pk, upload.name or ""), upload)


def dataset_import_start(
    *,
    project: Project,
    created_by: User,
    upload: UploadedFile,
    name: str,
    options: ImportOptions,
    description: str = "",
    filename: str | None = None,
) -> tuple[Dataset, Job]:
    """Create the dataset, store the upload under the project and queue the import job."""
    name = _clean_name(name)
    options.check()
    if not upload.size:
        raise ValidationError({"file": "The file is empty."})
    stored: str | None = None
    try:
        with transaction.atomic():
            _name_is_free(project=project, name=name)
            dataset = Dataset.objects.create(project=project, name=name, description=description, created_by=created_by)
            stored = _store_upload(project=project, dataset=dataset, upload=upload)
            job = job_start(
                kind="datasets.import",
                project=project,
                created_by=created_by,
                title=f"Import {name}"[:200],
                params={
                    "dataset": dataset.pk,
                    "upload": stored,
                    "filename": filename or upload.name,
                    "created_dataset": True,
                    **_option_params(options),
                },
            )
            dataset.import_job = job
            dataset.save(update_fields=["import_job", "updated_at"])
    except BaseException:
        files.delete_quietly(stored)
        raise
    return dataset, job


def dataset_version_import_start(
    *,
    dataset: Dataset,
    created_by: User,
    upload: UploadedFile,
    options: ImportOptions,
    filename: str | None = None,
) -> Job:
    """Queue the import of a new version of an existing dataset."""
    options.check()
    stored: str | None = None
    try:
        with transaction.atomic():
            stored = _store_upload(project=dataset.project, dataset=dataset, upload=upload)
            job = job_start(
                kind="datasets.import",
                project=dataset.project,
                created_by=created_by,
                title=f"Import {dataset.name} (new version)"[:200],
                params={
                    "dataset": dataset.pk,
                    "upload": stored,
                    "filename": filename or upload.name,
                    "created_dataset": False,
                    **_option_params(options),
                },
            )
    except BaseException:
        files.delete_quietly(stored)
        raise
    return job


def _option_params(options: ImportOptions) -> dict[str, Any]:
    data = asdict(options)
    return {
        "format": data["format"],
        "delimiter": data["delimiter"],
        "encoding": data["encoding"],
        "header": data["header"],
        "sheet": data["sheet"],
        "sampling": options.sampling(),
    }


def dataset_sql_import_start(
    *,
    project: Project,
    created_by: User,
    connection: DataConnection,
    query: str,
    name: str,
    description: str = "",
) -> tuple[Dataset, Job]:
    from apps.datasets.sql import SqlError, check_external_query

    name = _clean_name(name)
    if not connection.projects.filter(pk=project.pk).exists():
        raise ValidationError({"connection": "This connection is not available to the project."})
    try:
        statement = check_external_query(query)
    except SqlError as exc:
        raise ValidationError({exc.field: exc.message}) from exc
    with transaction.atomic():
        _name_is_free(project=project, name=name)
        dataset = Dataset.objects.create(project=project, name=name, description=description, created_by=created_by)
        job = job_start(
            kind="datasets.import_sql",
            project=project,
            created_by=created_by,
            title=f"Import {name} from {connection.name}"[:200],
            params={"dataset": dataset.pk, "connection": connection.pk, "query": statement, "created_dataset": True},
        )
        dataset.import_job = job
        dataset.save(update_fields=["import_job", "updated_at"])
    return dataset, job


# --- running imports (inside a worker) ----------------------------------------------------------------------


def _version_result(version: DatasetVersion) -> dict[str, Any]:
    return {
        "dataset": version.dataset_id,
        "dataset_version": version.pk,
        "number": version.number,
        "rows": version.row_count,
        "columns": version.column_count,
    }


def _import_failed(params: dict[str, Any]) -> None:
    """Leave nothing half-made: the upload goes, and so does a dataset this import created that has no version."""
    files.delete_quietly(params.get("upload"))
    if params.get("created_dataset"):
        dataset = Dataset.objects.filter(pk=int(params.get("dataset") or 0), latest_version__isnull=True).first()
        if dataset is not None and not dataset.versions.exists():
            dataset_delete(dataset=dataset)


def _cast_summary(report: dict[str, dict[str, Any]]) -> list[str]:
    notes = []
    for name, item in report.items():
        if item.get("failed"):
            examples = ", ".join(repr(e) for e in item.get("examples", [])[:3])
            notes.append(
                f"Column {name!r}: {item['failed']:,} value(s) are not {item['type']} "
                f"(e.g. {examples}) and were stored as missing."
            )
    return notes


def _typed_schema(schema: list[dict[str, Any]], frame: pd.DataFrame, report: dict[str, Any]) -> list[dict[str, Any]]:
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


def _store_frame_as_version(
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
    with files.local_temp_file(".parquet") as tmp:
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
    for entry in schema:
        entry["pandas_dtype"] = str(frame[entry["name"]].dtype)
    return _store_frame_as_version(
        ctx, frame=frame, schema=schema, kind=kind, source=source, dataset_name=dataset_name, parents=parents
    )


def dataset_import_run(ctx: JobContext) -> dict[str, Any]:
    from apps.datasets.readers import ReadError, Sampling, read_with_info

    params = ctx.params
    done = DatasetVersion.objects.filter(job_id=ctx.job_id).first()
    if done is not None:  # an earlier attempt finished before its worker died
        files.delete_quietly(params.get("upload"))
        return _version_result(done)
    dataset = Dataset.objects.filter(pk=params["dataset"], project_id=ctx.project_id).first()
    if dataset is None:
        files.delete_quietly(params.get("upload"))
        raise JobError("The dataset was deleted before its import ran.")
    try:
        ctx.progress(0.05, f"Reading {params.get('filename') or 'the file'}")
        with files.local_path(params["upload"]) as path:
            result = read_with_info(
                path,
                filename=params.get("filename"),
                format=params.get("format") or None,
                delimiter=params.get("delimiter") or None,
                encoding=params.get("encoding") or None,
                header=params.get("header"),
                sheet=params.get("sheet") or None,
                limits=_read_limits(),
                sampling=Sampling(**{k: v for k, v in params.get("sampling", {}).items() if v is not None}),
            )
        frame = result.frame
        ctx.log(
            f"Read {result.total_rows:,} rows as {result.format} (encoding {result.encoding}, delimiter "
            f"{result.delimiter!r}, header {result.header}); kept {len(frame):,}"
        )
        ctx.progress(0.45, f"Read {len(frame):,} rows; inferring column types")
        source = {
            "kind": VersionKind.IMPORT,
            "filename": params.get("filename"),
            "format": result.format,
            "encoding": result.encoding,
            "delimiter": result.delimiter,
            "header": result.header,
            "sheet": result.sheet,
            "sampling": result.sampling,
            "total_rows": result.total_rows,
        }
        version, report = _store_imported_frame(ctx, frame=frame, source=source, dataset=dataset)
        del frame
    except ReadError as exc:
        _import_failed(params)
        raise JobError(exc.message) from exc
    except BaseException:
        _import_failed(params)
        raise
    files.delete_quietly(params.get("upload"))
    notes = _cast_summary(report)
    for note in notes:
        ctx.log(note)
    ctx.final_message = (
        f"Imported {version.row_count:,} rows × {version.column_count} columns as "
        f"{dataset.name} v{version.number}." + (" " + " ".join(notes) if notes else "")
    )[:500]
    return {**_version_result(version), "warnings": notes}


def _store_imported_frame(
    ctx: JobContext, *, frame: pd.DataFrame, source: dict[str, Any], dataset: Dataset
) -> tuple[DatasetVersion, dict[str, Any]]:
    """Infer and apply column types, record the values that did not cast, and store the first version.

    Shared by the file and the database import; `source["kind"]` is the version kind."""
    schema = infer_schema(frame)
    typed = apply_schema(frame, schema)
    report = typed.attrs.get("cast_report", {})
    source["cast_report"] = {k: v for k, v in report.items() if v.get("failed")}
    version = _store_frame_as_version(
        ctx,
        frame=typed,
        schema=_typed_schema(schema, typed, report),
        kind=source["kind"],
        source=source,
        dataset=dataset,
    )
    return version, report


def dataset_sql_import_run(ctx: JobContext) -> dict[str, Any]:
    from apps.datasets.sql import SqlError, external_frames

    params = ctx.params
    done = DatasetVersion.objects.filter(job_id=ctx.job_id).first()
    if done is not None:
        return _version_result(done)
    dataset = Dataset.objects.filter(pk=params["dataset"], project_id=ctx.project_id).first()
    connection = DataConnection.objects.filter(pk=params["connection"], projects=ctx.project_id).first()
    if dataset is None or connection is None:
        _import_failed(params)
        raise JobError("The dataset or the database connection is gone (or no longer open to this project).")
    try:
        ctx.progress(0.05, f"Querying {connection.name}")
        chunks = []
        rows = 0
        for chunk in external_frames(connection.url, params["query"]):
            chunks.append(chunk)
            rows += len(chunk)
            ctx.progress(min(0.4, 0.05 + rows / 2_000_000), f"Fetched {rows:,} rows")
        if not chunks:
            raise JobError("The query returned no columns.")
        frame = pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]
        if frame.shape[1] == 0:
            raise JobError("The query returned no columns.")
        dupes = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
        if dupes:
            raise JobError(
                f"The query returns duplicate column names: {', '.join(map(repr, dupes))}. "
                "Give each column a unique alias."
            )
        frame.columns = [str(c) for c in frame.columns]
        ctx.progress(0.45, f"Fetched {len(frame):,} rows; inferring column types")
        source = {
            "kind": VersionKind.SQL_IMPORT,
            "connection": connection.pk,
            "connection_name": connection.name,
            "query": params["query"],
        }
        version, _ = _store_imported_frame(ctx, frame=frame, source=source, dataset=dataset)
    except SqlError as exc:
        _import_failed(params)
        raise JobError(exc.message) from exc
    except BaseException:
        _import_failed(params)
        raise
    ctx.final_message = (
        f"Imported {version.row_count:,} rows × {version.column_count} columns from "
        f"{connection.name} as {dataset.name} v{version.number}."
    )
    return _version_result(version)


# --- versions -----------------------------------------------------------------------------------------------------


def mini_histograms(frame: pd.DataFrame, schema: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Small per-column histograms (bins for numbers and dates, top values otherwise) for the table header."""
    out: dict[str, dict[str, Any]] = {}
    types = {e["name"]: e.get("type") for e in schema}
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
) -> DatasetVersion:
    """Move a local Parquet file into place as the next version of `dataset` (or of the dataset named
    `dataset_name`, created when missing) and record it. The file is in place before the row exists."""
    rows, columns = files.parquet_shape(local_file)
    if sample is None or len(sample) > HISTOGRAM_SAMPLE:
        sample = (
            _local_sample(local_file)
            if sample is None
            else sample.sample(n=HISTOGRAM_SAMPLE, random_state=0).sort_index()
        )
    if schema is None:
        schema = infer_schema(sample)
        for entry in schema:
            entry["pandas_dtype"] = str(sample[entry["name"]].dtype)
    histograms = mini_histograms(sample, schema)
    size = os.path.getsize(local_file)
    parents = list(parents)
    saved: str | None = None
    try:
        with transaction.atomic():
            if dataset is None:
                name = _clean_name(dataset_name)
                target = Dataset.objects.select_for_update().filter(project_id=project_id, name__iexact=name).first()
                if target is None:
                    target = Dataset.objects.create(
                        project_id=project_id, name=name, description=description, created_by_id=created_by_id
                    )
            else:
                target = Dataset.objects.select_for_update().get(pk=dataset.pk)
            number = (target.versions.aggregate(n=Max("number"))["n"] or 0) + 1
            saved = files.save_into_place(local_file, files.version_path(project_id, target.pk, number))
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


def dataset_delete(*, dataset: Dataset) -> None:
    """Delete a dataset, its versions and reports, and every file under its folder."""
    prefix = files.dataset_dir(dataset.project_id, dataset.pk)
    names = [path for path, _size in files.walk_dataset_files(prefix)]
    with transaction.atomic():
        Dataset.objects.filter(pk=dataset.pk).update(latest_version=None)
        dataset.delete()
    for name in names:
        files.delete_quietly(name)


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
    version = (
        DatasetVersion.objects.select_related("dataset")
        .filter(pk=ctx.params["version"], project_id=ctx.project_id)
        .first()
    )
    if version is None:
        raise JobError("The dataset version was deleted before its profile ran.")
    target = ctx.params.get("target") or None
    ctx.progress(0.02, f"Reading {version.row_count:,} rows")
    frame = files.read_frame(version.file)
    if target is not None and target not in frame.columns:
        raise JobError(f"No column {target!r} in {version}.")
    report = profile_dataframe(
        frame, target=target, schema=version.schema, progress=lambda f, m: ctx.progress(0.05 + 0.85 * f, m)
    )
    del frame
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
        return _version_result(done)
    version = (
        DatasetVersion.objects.select_related("dataset")
        .filter(pk=ctx.params["version"], project_id=ctx.project_id)
        .first()
    )
    if version is None:
        raise JobError("The dataset version was deleted before the job ran.")
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
    new = _store_frame_as_version(
        ctx,
        frame=typed,
        schema=_typed_schema(schema, typed, report),
        kind=VersionKind.RETYPE,
        source=source,
        dataset=version.dataset,
        parents=[version],
    )
    notes = _cast_summary(report)
    ctx.final_message = (
        f"{version.dataset.name} v{new.number}: {len(changed)} column type(s) changed."
        + (" " + " ".join(notes) if notes else "")
    )[:500]
    return {**_version_result(new), "warnings": notes}


# --- SQL editor -----------------------------------------------------------------------------------------------------


def sql_save_start(*, project: Project, created_by: User, query: str, name: str) -> Job:
    from apps.datasets.selectors import sql_tables_for_project
    from apps.datasets.sql import SqlError, check_duckdb_query, duckdb_connection, referenced_names

    name = _clean_name(name)
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
    _orphans_purge(project=project, name=name)
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
        return _version_result(done)
    wanted: dict[str, int] = ctx.params["tables"]
    versions = {v.pk: v for v in DatasetVersion.objects.filter(pk__in=wanted.values(), project_id=ctx.project_id)}
    missing = [name for name, pk in wanted.items() if pk not in versions]
    if missing:
        raise JobError(f"Dataset version(s) behind {', '.join(missing)} were deleted; run the query again.")
    ctx.progress(0.05, "Running the query")
    rows = 0
    with contextlib.ExitStack() as stack:
        paths = {name: stack.enter_context(files.local_path(versions[pk].file)) for name, pk in wanted.items()}
        tmp = stack.enter_context(files.local_temp_file(".parquet"))
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
    return _version_result(version)


# --- flows -----------------------------------------------------------------------------------------------------------


def _flow_name_is_free(*, project: Project, name: str, exclude: int | None = None) -> None:
    qs = Flow.objects.filter(project=project, name__iexact=name)
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    if qs.exists():
        raise ValidationError({"name": f"A flow named {name!r} already exists in this project."})


def _source_entry(source_id: str, version: DatasetVersion) -> dict[str, Any]:
    return {"id": source_id, "name": f"{version.dataset.name} v{version.number}", "dataset_version": version.pk}


def _next_id(prefix: str, used: Iterable[str]) -> str:
    taken = set(used)
    n = 1
    while f"{prefix}{n}" in taken:
        n += 1
    return f"{prefix}{n}"


def _flow_ids(definition: dict[str, Any]) -> list[str]:
    return [s["id"] for s in definition.get("sources") or []] + [s["id"] for s in definition.get("steps") or []]


def _check_versions(project: Project, versions: Iterable[DatasetVersion]) -> list[DatasetVersion]:
    versions = list(versions)
    if any(v.project_id != project.pk for v in versions):
        raise ValidationError({"sources": "A source belongs to another project."})
    return versions


def flow_create(
    *,
    project: Project,
    created_by: User,
    name: str,
    sources: Iterable[DatasetVersion],
    description: str = "",
    output_name: str = "",
) -> Flow:
    name = _clean_name(name)
    versions = _check_versions(project, sources)
    if not versions:
        raise ValidationError({"sources": "Choose at least one dataset version to start from."})
    _flow_name_is_free(project=project, name=name)
    definition = {
        "format": 1,
        "sources": [_source_entry(f"src{i}", v) for i, v in enumerate(versions, start=1)],
        "steps": [],
    }
    with transaction.atomic():
        flow = Flow.objects.create(
            project=project,
            name=name,
            description=description,
            definition=definition,
            output_name=(output_name or "").strip()[:NAME_MAX] or f"{name} output"[:NAME_MAX],
            created_by=created_by,
        )
        flow.source_versions.set(versions)
    return flow


def _step_error(exc: Exception) -> ValidationError:
    from apps.datasets.transforms import TransformError

    if isinstance(exc, TransformError):
        field = exc.details.get("param") or getattr(exc, "param", None) or "parameters"
        return ValidationError({str(field): exc.message})
    return ValidationError({"parameters": str(exc)})


def _save_definition(flow: Flow, before: dict[str, Any], definition: dict[str, Any]) -> Flow:
    from apps.datasets.transforms import validate_flow

    try:
        validate_flow(definition)
    except Exception as exc:
        raise _step_error(exc) from exc
    with transaction.atomic():
        current = Flow.objects.select_for_update().get(pk=flow.pk)
        if current.definition != before:
            raise ValidationError({"flow": "The flow was changed meanwhile (in another tab?); reload and try again."})
        ids = [s.get("dataset_version") for s in definition.get("sources") or []]
        current.definition = definition
        current.save(update_fields=["definition", "updated_at"])
        current.source_versions.set(DatasetVersion.objects.filter(pk__in=[i for i in ids if i], project=flow.project))
    flow.definition = definition
    return flow


def _clear_trained(definition: dict[str, Any], from_index: int) -> None:
    for step in (definition.get("steps") or [])[from_index:]:
        step["trained_parameters"] = None


def _normalised_step(
    definition: dict[str, Any],
    *,
    step_id: str,
    op: str,
    parameters: dict[str, Any],
    inputs: list[str] | None,
    label: str,
) -> dict[str, Any]:
    from apps.datasets.transforms import UnknownOperatorError, get_operator

    try:
        operator = get_operator(op)
    except UnknownOperatorError as exc:
        raise ValidationError({"op": exc.message}) from exc
    known = _flow_ids(definition)
    if not inputs:
        steps = definition.get("steps") or []
        inputs = [steps[-1]["id"] if steps else definition["sources"][0]["id"]]
    bad = [i for i in inputs if i not in known or i == step_id]
    if bad:
        raise ValidationError(
            {"inputs": f"Unknown input(s) {', '.join(map(repr, bad))}. Choose among {', '.join(map(repr, known))}."}
        )
    if not isinstance(parameters, dict):
        raise ValidationError({"parameters": "Parameters must be a JSON object."})
    return {
        "id": step_id,
        "op": operator.name,
        "op_version": operator.version,
        "inputs": list(inputs),
        "parameters": parameters,
        "trained_parameters": None,
        "label": (label or "").strip()[:100] or None,
    }


def flow_step_draft(
    flow: Flow,
    *,
    op: str,
    parameters: dict[str, Any],
    inputs: list[str] | None = None,
    label: str = "",
    step_id: str | None = None,
) -> tuple[dict[str, Any], str]:
    """The flow's definition with a new (or replaced) step, not saved; returns (definition, step id)."""
    definition = copy.deepcopy(flow.definition)
    steps = definition.setdefault("steps", [])
    if step_id is None:
        step_id = _next_id("s", _flow_ids(definition))
        steps.append(
            _normalised_step(definition, step_id=step_id, op=op, parameters=parameters, inputs=inputs, label=label)
        )
        return definition, step_id
    index = next((i for i, s in enumerate(steps) if s["id"] == step_id), None)
    if index is None:
        raise ValidationError({"step": f"The flow has no step {step_id!r}."})
    earlier = {**definition, "steps": steps[:index]}
    steps[index] = _normalised_step(earlier, step_id=step_id, op=op, parameters=parameters, inputs=inputs, label=label)
    _clear_trained(definition, index)
    return definition, step_id


def _preview_or_error(flow: Flow, definition: dict[str, Any], step_id: str) -> Any:
    from apps.datasets.selectors import flow_preview

    try:
        return flow_preview(flow=flow, definition=definition, step_id=step_id)
    except ValidationError:
        raise
    except Exception as exc:
        raise _step_error(exc) from exc


def flow_step_add(
    *, flow: Flow, op: str, parameters: dict[str, Any], inputs: list[str] | None = None, label: str = ""
) -> tuple[Flow, str, Any]:
    """Add a step after checking it runs on a preview sample; returns (flow, step id, preview)."""
    before = copy.deepcopy(flow.definition)
    definition, step_id = flow_step_draft(flow, op=op, parameters=parameters, inputs=inputs, label=label)
    preview = _preview_or_error(flow, definition, step_id)
    return _save_definition(flow, before, definition), step_id, preview


def flow_step_update(
    *, flow: Flow, step_id: str, op: str, parameters: dict[str, Any], inputs: list[str] | None = None, label: str = ""
) -> tuple[Flow, Any]:
    before = copy.deepcopy(flow.definition)
    definition, _ = flow_step_draft(flow, op=op, parameters=parameters, inputs=inputs, label=label, step_id=step_id)
    preview = _preview_or_error(flow, definition, step_id)
    return _save_definition(flow, before, definition), preview


def flow_step_delete(*, flow: Flow, step_id: str) -> Flow:
    """Remove a step; steps that read it read its first input instead."""
    before = copy.deepcopy(flow.definition)
    definition = copy.deepcopy(flow.definition)
    steps = definition.get("steps") or []
    index = next((i for i, s in enumerate(steps) if s["id"] == step_id), None)
    if index is None:
        raise ValidationError({"step": f"The flow has no step {step_id!r}."})
    removed = steps.pop(index)
    for step in steps[index:]:
        step["inputs"] = list(dict.fromkeys(removed["inputs"][0] if i == step_id else i for i in step["inputs"]))
    _clear_trained(definition, index)
    return _save_definition(flow, before, definition)


def flow_source_add(*, flow: Flow, version: DatasetVersion) -> Flow:
    _check_versions(flow.project, [version])
    before = copy.deepcopy(flow.definition)
    definition = copy.deepcopy(flow.definition)
    definition.setdefault("sources", []).append(_source_entry(_next_id("src", _flow_ids(definition)), version))
    return _save_definition(flow, before, definition)


def flow_source_remove(*, flow: Flow, source_id: str) -> Flow:
    before = copy.deepcopy(flow.definition)
    definition = copy.deepcopy(flow.definition)
    sources = definition.get("sources") or []
    if source_id not in [s["id"] for s in sources]:
        raise ValidationError({"source": f"The flow has no source {source_id!r}."})
    users = [s["id"] for s in definition.get("steps") or [] if source_id in s["inputs"]]
    if users:
        raise ValidationError(
            {"source": f"Source {source_id!r} is read by step(s) {', '.join(users)}; delete or change them first."}
        )
    if len(sources) == 1:
        raise ValidationError({"source": "A flow needs at least one source."})
    definition["sources"] = [s for s in sources if s["id"] != source_id]
    return _save_definition(flow, before, definition)


def flow_delete(*, flow: Flow) -> None:
    flow.delete()


def flow_run_start(*, flow: Flow, created_by: User, output_name: str | None = None) -> Job:
    from apps.datasets.transforms import validate_flow

    if not flow.steps:
        raise ValidationError({"flow": "Add at least one step before running the flow."})
    try:
        validate_flow(flow.definition)
    except Exception as exc:
        raise _step_error(exc) from exc
    output = _clean_name(output_name or flow.output_name or flow.name, "output_name")
    if output != flow.output_name:
        flow.output_name = output
        flow.save(update_fields=["output_name", "updated_at"])
    return job_start(
        kind="datasets.flow_run",
        project=flow.project,
        created_by=created_by,
        title=f"Run flow {flow.name}"[:200],
        params={"flow": flow.pk, "definition": flow.definition, "output_name": output},
    )


def _store_trained(flow_id: int, ran: dict[str, Any]) -> None:
    """Keep the full-data fit of every step that is unchanged since the run started (for the export)."""
    by_id = {s["id"]: s for s in ran.get("steps") or []}
    keys = ("op", "op_version", "inputs", "parameters")
    with transaction.atomic():
        flow = Flow.objects.select_for_update().filter(pk=flow_id).first()
        if flow is None:
            return
        definition = copy.deepcopy(flow.definition)
        for step in definition.get("steps") or []:
            other = by_id.get(step["id"])
            if other is not None and all(step.get(k) == other.get(k) for k in keys):
                step["trained_parameters"] = other.get("trained_parameters")
            else:
                break  # this step and everything after it changed since the run started
        flow.definition = definition
        flow.save(update_fields=["definition", "updated_at"])


def flow_run_run(ctx: JobContext) -> dict[str, Any]:
    from apps.datasets.transforms import TransformError, run_flow

    done = DatasetVersion.objects.filter(job_id=ctx.job_id).first()
    if done is not None:
        return _version_result(done)
    definition = ctx.params["definition"]
    flow = Flow.objects.filter(pk=ctx.params["flow"], project_id=ctx.project_id).first()
    if flow is None:
        raise JobError("The flow was deleted before it ran.")
    wanted = {s["id"]: s.get("dataset_version") for s in definition.get("sources") or []}
    versions = {
        v.pk: v
        for v in DatasetVersion.objects.filter(pk__in=[v for v in wanted.values() if v], project_id=ctx.project_id)
    }
    used = {i for step in definition.get("steps") or [] for i in step.get("inputs") or []}
    frames = {}
    for n, (source_id, version_id) in enumerate(wanted.items()):
        if source_id not in used:
            continue
        if version_id not in versions:
            raise JobError(f"Source {source_id!r}: dataset version {version_id} no longer exists.")
        ctx.progress(0.05 + 0.25 * n / max(len(wanted), 1), f"Reading {versions[version_id]}")
        frames[source_id] = files.read_frame(versions[version_id].file)
    steps = definition.get("steps") or []
    ctx.progress(0.3, f"Running {len(steps)} step(s) on the full data", force=True)
    try:
        result = run_flow(definition, frames, refit=True, keep="final")
    except TransformError as exc:
        raise JobError(exc.message) from exc
    output = result.output
    del frames
    for name, timing in result.timings.items():
        ctx.log(f"step {name}: {timing:.2f} s")
    schema = infer_schema(output)
    for entry in schema:
        entry["pandas_dtype"] = str(output[entry["name"]].dtype)
    parents = [versions[wanted[s]] for s in wanted if s in used and wanted[s] in versions]
    version = _store_frame_as_version(
        ctx,
        frame=output,
        schema=schema,
        kind=VersionKind.FLOW,
        dataset_name=ctx.params["output_name"],
        parents=parents,
        source={
            "kind": VersionKind.FLOW,
            "flow": flow.pk,
            "flow_name": flow.name,
            "steps": len(steps),
            "sources": {s: wanted[s] for s in wanted if s in used},
            "definition": result.flow,
        },
    )
    _store_trained(flow.pk, result.flow)
    ctx.final_message = (
        f"Flow {flow.name} wrote {version.row_count:,} rows × {version.column_count} columns as "
        f"{version.dataset.name} v{version.number}."
    )
    return _version_result(version)


def flow_analysis_add(*, flow: Flow, created_by: User, kind: str, step_id: str, params: dict[str, Any]) -> FlowAnalysis:
    from apps.datasets.analyses import PARAMS, AnalysisError, build
    from apps.datasets.selectors import flow_step_sample

    if kind not in PARAMS:
        raise ValidationError({"kind": f"Unknown analysis {kind!r}; choose one of {', '.join(PARAMS)}."})
    clean = {k: params.get(k) for k in PARAMS[kind] if params.get(k) not in (None, "", [])}
    sample = flow_step_sample(flow=flow, step_id=step_id)
    try:
        title, figure = build(sample, kind, clean)
    except AnalysisError as exc:
        raise ValidationError({exc.field: exc.message}) from exc
    return FlowAnalysis.objects.create(
        flow=flow,
        kind=kind,
        title=title[:300],
        step_id=step_id,
        params=clean,
        figure=figure,
        sample_rows=len(sample),
        created_by=created_by,
    )


def flow_analysis_delete(*, analysis: FlowAnalysis) -> None:
    analysis.delete()
