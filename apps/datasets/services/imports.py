"""Imports: file uploads and database queries become dataset versions, in a worker."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from apps.accounts.models import Project, User
from apps.datasets import storage as files
from apps.datasets.choices import VersionKind
from apps.datasets.inference import apply_schema, infer_schema
from apps.datasets.models import DataConnection, Dataset, DatasetVersion
from apps.datasets.services.versions import (
    cast_summary,
    clean_dataset_name,
    dataset_delete,
    dataset_name_is_free,
    store_frame_as_version,
    typed_schema,
    version_result,
)
from apps.jobs.models import Job
from apps.jobs.runtime import JobContext, JobError
from apps.jobs.services import job_start

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

    return ReadLimits(
        max_bytes=int(settings.ATELIER_MAX_UPLOAD_BYTES),
        xlsx_max_entries=int(settings.ARCHIVE_MAX_ENTRIES),
        xlsx_max_uncompressed_bytes=int(settings.ARCHIVE_MAX_UNCOMPRESSED_BYTES),
        xlsx_max_ratio=float(settings.ARCHIVE_MAX_RATIO),
        xlsx_ratio_floor_bytes=int(settings.ARCHIVE_RATIO_FLOOR_BYTES),
        max_decoded_bytes=int(settings.DATASET_MAX_DECODED_BYTES),
    )


def _check_workbook(*, upload: UploadedFile, options: ImportOptions, filename: str | None) -> None:
    """A workbook's zip goes through the archive guard before the upload is stored or queued (only its directory
    is read): a decompression bomb is a 400 naming the problem now, not a failed job later."""
    from apps.core.archives import is_zip
    from apps.datasets.readers import ReadError, check_xlsx_zip, format_from_name

    fmt = options.format or format_from_name(filename or upload.name or "")
    if fmt not in (None, "xlsx") or not upload.size or upload.file is None:
        return
    if fmt is None and not is_zip(upload.file):
        return
    try:
        check_xlsx_zip(upload.file, _read_limits())
    except ReadError as exc:
        errors: dict[str, Any] = {exc.field: exc.message}
        errors.update({k: str(v) for k, v in exc.details.items() if k in ("code", "member")})
        raise ValidationError(errors) from exc


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
    name = clean_dataset_name(name)
    options.check()
    if not upload.size:
        raise ValidationError({"file": "The file is empty."})
    _check_workbook(upload=upload, options=options, filename=filename)
    stored: str | None = None
    try:
        with transaction.atomic():
            dataset_name_is_free(project=project, name=name)
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
    _check_workbook(upload=upload, options=options, filename=filename)
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

    name = clean_dataset_name(name)
    if not connection.projects.filter(pk=project.pk).exists():
        raise ValidationError({"connection": "This connection is not available to the project."})
    try:
        statement = check_external_query(query)
    except SqlError as exc:
        raise ValidationError({exc.field: exc.message}) from exc
    with transaction.atomic():
        dataset_name_is_free(project=project, name=name)
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


def _import_failed(params: dict[str, Any]) -> None:
    """Leave nothing half-made: the upload goes, and so does a dataset this import created that has no version."""
    files.delete_quietly(params.get("upload"))
    if params.get("created_dataset"):
        dataset = Dataset.objects.filter(pk=int(params.get("dataset") or 0), latest_version__isnull=True).first()
        if dataset is not None and not dataset.versions.exists():
            dataset_delete(dataset=dataset)


def dataset_import_run(ctx: JobContext) -> dict[str, Any]:
    from apps.datasets.readers import ReadError, Sampling, read_with_info

    params = ctx.params
    done = DatasetVersion.objects.filter(job_id=ctx.job_id).first()
    if done is not None:  # an earlier attempt finished before its worker died
        files.delete_quietly(params.get("upload"))
        return version_result(done)
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
    notes = cast_summary(report)
    for note in notes:
        ctx.log(note)
    ctx.final_message = (
        f"Imported {version.row_count:,} rows × {version.column_count} columns as "
        f"{dataset.name} v{version.number}." + (" " + " ".join(notes) if notes else "")
    )[:500]
    return {**version_result(version), "warnings": notes}


def _store_imported_frame(
    ctx: JobContext, *, frame: pd.DataFrame, source: dict[str, Any], dataset: Dataset
) -> tuple[DatasetVersion, dict[str, Any]]:
    """Infer and apply column types, record the values that did not cast, and store the first version.

    Shared by the file and the database import; `source["kind"]` is the version kind."""
    schema = infer_schema(frame)
    typed = apply_schema(frame, schema)
    report = typed.attrs.get("cast_report", {})
    source["cast_report"] = {k: v for k, v in report.items() if v.get("failed")}
    version = store_frame_as_version(
        ctx,
        frame=typed,
        schema=typed_schema(schema, typed, report),
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
        return version_result(done)
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
    return version_result(version)
