"""Data Wrangler reads. Every read of a project asset is scoped to the user (apps.accounts.selectors): a foreign
object is a 404. Pages of rows read only the Parquet row groups they need; previews run on a cached sample."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.text import slugify

from apps.accounts.models import Project, User
from apps.accounts.selectors import object_get_for_user, scope_to_user
from apps.datasets import storage as files
from apps.datasets import tokens
from apps.datasets.models import DataConnection, Dataset, DatasetVersion, Flow, FlowAnalysis, ProfileReport
from apps.jobs.choices import ACTIVE_STATUSES, JobStatus
from apps.jobs.models import Job

MAX_ROWS_PAGE = 1000
PREVIEW_ROWS = 50_000
PREVIEW_SHOWN = 50
IMPORT_KINDS = ("datasets.import", "datasets.import_sql")


# --- datasets and versions ------------------------------------------------------------------------------------


def _visible() -> Q:
    """Datasets with a version, or whose first import is still queued or running."""
    return Q(latest_version__isnull=False) | Q(import_job__status__in=list(ACTIVE_STATUSES))


def dataset_list_for_user(*, user: User) -> QuerySet[Dataset]:
    qs = Dataset.objects.filter(_visible()).select_related("latest_version", "project", "created_by", "import_job")
    return scope_to_user(qs, user=user)


def dataset_get_for_user(*, user: User, pk: object) -> Dataset:
    return object_get_for_user(dataset_list_for_user(user=user), user=user, pk=pk)


def version_list_for_user(*, user: User) -> QuerySet[DatasetVersion]:
    return scope_to_user(DatasetVersion.objects.select_related("dataset", "project", "created_by"), user=user)


def version_get_for_user(*, user: User, pk: object) -> DatasetVersion:
    return object_get_for_user(version_list_for_user(user=user), user=user, pk=pk)


def version_frame(
    *, version: DatasetVersion, max_rows: int | None = None, as_written: bool = False, columns: list[str] | None = None
) -> pd.DataFrame:
    """The rows of a version as a DataFrame (all of them, or the first `max_rows`): for other apps (AutoML).
    `columns`: read only these (all rows), e.g. the few columns a bias report needs of a long version.

    `as_written=True` gives boolean columns back in the user's tokens (`yes`/`no`): for models whose predictions
    and inputs people see, and for outputs that become new versions."""
    if max_rows is not None:
        frame = files.read_head(version.file, max_rows)
        frame = frame[columns] if columns is not None else frame
    else:
        frame = files.read_frame(version.file, columns=columns)
    return tokens.frame_as_written(frame, tokens.boolean_tokens(version.schema)) if as_written else frame


def version_sample(
    *, version: DatasetVersion, size: int, seed: int = 0, columns: list[str] | None = None, as_written: bool = False
) -> pd.DataFrame:
    """A seeded uniform random sample of `size` rows without replacement (every row when the version has no more),
    in file order, read one row group at a time: the whole version is never in memory."""
    total = int(version.row_count)
    if size >= total:
        frame = files.read_frame(version.file, columns=columns)
    else:
        rng = np.random.default_rng(seed)
        positions = np.sort(rng.choice(total, size=size, replace=False))
        frame = files.read_positions(version.file, positions, columns=columns)
    return tokens.frame_as_written(frame, tokens.boolean_tokens(version.schema)) if as_written else frame


def frame_as_written(*, frame: pd.DataFrame, version: DatasetVersion) -> pd.DataFrame:
    """Rows read from `version`'s file (e.g. one batch of it) with boolean columns in the user's tokens."""
    return tokens.frame_as_written(frame, tokens.boolean_tokens(version.schema))


def version_list_for_dataset(*, dataset: Dataset) -> QuerySet[DatasetVersion]:
    return (
        DatasetVersion.objects.filter(dataset=dataset)
        .select_related("created_by", "job")
        .prefetch_related("parents__dataset")
        .order_by("-number")
    )


def version_children(*, version: DatasetVersion) -> QuerySet[DatasetVersion]:
    return version.children.select_related("dataset").order_by("dataset__name", "number")


def version_rows(*, version: DatasetVersion, offset: Any = 0, limit: Any = 50) -> dict[str, Any]:
    """A page of rows: `{count, offset, limit, columns, rows: [{column: value}]}` (values as plain JSON)."""
    errors: dict[str, str] = {}
    try:
        offset = int(offset if offset not in (None, "") else 0)
        if offset < 0:
            errors["offset"] = "offset must be 0 or more."
    except (TypeError, ValueError):
        errors["offset"] = f"offset must be a whole number, got {offset!r}."
    try:
        limit = int(limit if limit not in (None, "") else 50)
        if limit < 1:
            errors["limit"] = "limit must be at least 1."
        elif limit > MAX_ROWS_PAGE:
            errors["limit"] = f"limit must be at most {MAX_ROWS_PAGE}."
    except (TypeError, ValueError):
        errors["limit"] = f"limit must be a whole number, got {limit!r}."
    if errors:
        raise ValidationError(errors)
    table = files.read_rows(version.file, offset, limit) if offset < version.row_count else None
    rows = (
        files.table_records(tokens.table_as_written(table, tokens.boolean_tokens(version.schema)))
        if table is not None
        else []
    )
    return {"count": version.row_count, "offset": offset, "limit": limit, "columns": version.column_names, "rows": rows}


def table_header(*, version: DatasetVersion) -> list[dict[str, Any]]:
    """Column headers with a mini histogram each: bars as (x, y, width, height) in a 100 × 24 box."""
    out = []
    for entry in version.schema:
        hist = (version.histograms or {}).get(entry["name"]) or {}
        counts = hist.get("counts") or []
        peak = max(counts) if counts else 0
        width = 100 / len(counts) if counts else 0
        labels = hist.get("labels") or []
        bars = []
        for i, count in enumerate(counts):
            height = 24 * count / peak if peak else 0
            if hist.get("kind") == "top":
                tip = f"{labels[i] if i < len(labels) else ''}: {count:,}"
            else:
                tip = f"{count:,} rows"
            bars.append(
                {
                    "x": round(i * width + 0.5, 2),
                    "w": round(max(width - 1, 0.5), 2),
                    "y": round(24 - height, 2),
                    "h": round(max(height, 0.6 if count else 0), 2),
                    "tip": tip,
                }
            )
        if hist.get("kind") == "bins":
            caption = f"{_short(hist.get('min'))} – {_short(hist.get('max'))}"
        elif hist.get("kind") in ("top", "none"):
            caption = f"{hist.get('distinct', 0):,} distinct"
        else:
            caption = ""
        missing = hist.get("missing", 0)
        out.append(
            {
                "name": entry["name"],
                "type": entry.get("type"),
                "dtype": entry.get("pandas_dtype"),
                "bars": bars,
                "caption": caption,
                "missing": missing,
                "invalid": entry.get("invalid", 0),
                "sample": hist.get("n", 0),
            }
        )
    return out


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, str) and "T" in value:
        return value.split("T")[0]
    return str(value)


def dataset_import_jobs(*, project: Project) -> list[Job]:
    """Imports still running, and the ones that failed in the last day (with their message)."""
    recent = timezone.now() - timedelta(days=1)
    return list(
        Job.objects.filter(project=project, kind__in=IMPORT_KINDS)
        .filter(Q(status__in=list(ACTIVE_STATUSES)) | Q(status=JobStatus.FAILED, finished_at__gte=recent))
        .defer("log", "error")
        .order_by("-created_at")[:10]
    )


def active_jobs_for_version(*, version: DatasetVersion, kinds: tuple[str, ...]) -> list[Job]:
    return list(
        Job.objects.filter(
            project_id=version.project_id, kind__in=kinds, params__version=version.pk, status__in=list(ACTIVE_STATUSES)
        )
        .defer("log")
        .order_by("-created_at")[:5]
    )


def recent_job(*, project: Project, pk: Any, kinds: tuple[str, ...]) -> Job | None:
    try:
        return Job.objects.filter(project=project, kind__in=kinds, pk=int(pk)).defer("log").first()
    except (TypeError, ValueError):
        return None


# --- reports -------------------------------------------------------------------------------------------------


def report_list_for_version(*, version: DatasetVersion) -> QuerySet[ProfileReport]:
    return ProfileReport.objects.filter(version=version).select_related("created_by").order_by("-created_at", "-id")


def report_get_for_user(*, user: User, pk: object) -> ProfileReport:
    qs = ProfileReport.objects.select_related("version__dataset", "project")
    return object_get_for_user(qs, user=user, pk=pk)


def report_latest(*, version: DatasetVersion, target: str | None = None) -> ProfileReport | None:
    qs = report_list_for_version(version=version)
    if target is not None:
        qs = qs.filter(target=target)
    return qs.first()


def report_data(*, report: ProfileReport) -> dict[str, Any]:
    return files.read_json(report.file)


# --- flows -----------------------------------------------------------------------------------------------------


def flow_list_for_user(*, user: User) -> QuerySet[Flow]:
    return scope_to_user(Flow.objects.select_related("project", "created_by"), user=user)


def flow_get_for_user(*, user: User, pk: object) -> Flow:
    return object_get_for_user(flow_list_for_user(user=user), user=user, pk=pk)


def analysis_get_for_user(*, user: User, pk: object) -> FlowAnalysis:
    return object_get_for_user(
        FlowAnalysis.objects.select_related("flow"), user=user, pk=pk, project_field="flow__project"
    )


def flow_source_versions(*, flow: Flow) -> dict[str, DatasetVersion | None]:
    """Source id -> its dataset version (None when the version was deleted)."""
    ids = [s.get("dataset_version") for s in flow.sources]
    found = {
        v.pk: v
        for v in DatasetVersion.objects.filter(pk__in=[i for i in ids if i], project=flow.project).select_related(
            "dataset"
        )
    }
    return {s["id"]: found.get(int(s.get("dataset_version") or 0)) for s in flow.sources}


def flow_outputs(*, flow: Flow, limit: int = 5) -> list[DatasetVersion]:
    """The latest versions written by runs of this flow."""
    return list(
        DatasetVersion.objects.filter(project=flow.project, kind="flow", source__flow=flow.pk)
        .select_related("dataset")
        .order_by("-created_at")[:limit]
    )


@dataclass
class Preview:
    step_id: str
    columns: list[str]
    dtypes: dict[str, str]
    schema: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    row_count: int
    source_rows: dict[str, int]
    elapsed_ms: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.step_id,
            "columns": self.columns,
            "schema": self.schema,
            "rows": self.rows,
            "row_count": self.row_count,
            "source_rows": self.source_rows,
            "elapsed_ms": round(self.elapsed_ms, 1),
        }


def _sources_for(flow: Flow, definition: dict[str, Any], step_id: str) -> dict[str, DatasetVersion]:
    from apps.datasets.transforms import parse_flow

    parsed = parse_flow(definition)
    if step_id in parsed.sources:
        needed = {step_id}
    else:
        needed = {i for s in parsed.needed(step_id) for i in s.inputs if i in parsed.sources}
    by_id = {s["id"]: s.get("dataset_version") for s in definition.get("sources") or []}
    versions = {
        v.pk: v
        for v in DatasetVersion.objects.filter(pk__in=[by_id[i] for i in needed if by_id.get(i)], project=flow.project)
    }
    found = {}
    for source_id in sorted(needed):
        version = versions.get(by_id.get(source_id))  # type: ignore[arg-type]
        if version is None:
            raise ValidationError(
                {
                    "sources": f"Source {source_id!r}: its dataset version no longer exists; "
                    "remove the source or pick another version."
                }
            )
        found[source_id] = version
    return found


def _preview_sandbox() -> Any:
    from django.conf import settings

    from apps.core.sandbox import shared_sandbox
    from apps.datasets.previews import PRELOAD

    return shared_sandbox("previews", size=settings.PREVIEW_WORKERS, preload=PRELOAD)


def _limit_error(exc: Exception, definition: dict[str, Any], step_id: str) -> ValidationError:
    """A preview stopped at its time or memory limit, as a 400 naming the step (or source) it was running."""
    from django.conf import settings

    from apps.core.sandbox import SandboxBusy, SandboxMemoryError, SandboxTimeout

    if isinstance(exc, SandboxBusy):
        return ValidationError({"step": f"Every preview worker is busy; try the preview of {step_id!r} again shortly."})
    kind, _, running = (getattr(exc, "progress", None) or f"step:{step_id}").partition(":")
    steps = {s["id"]: s for s in definition.get("steps") or []}
    if kind == "source":
        what = f"Reading source {running!r}"
    elif running in steps:
        step = steps[running]
        label = step.get("label") or step.get("op")
        what = f"Step {running!r} ({label})"
    else:
        what = f"The preview of {running!r}"
    if isinstance(exc, SandboxTimeout):
        limit = f"took longer than the preview limit of {settings.PREVIEW_TIMEOUT_S:g} s"
    elif isinstance(exc, SandboxMemoryError):
        limit = f"needed more than the preview memory limit of {settings.PREVIEW_MEMORY_MB} MB"
    else:
        limit = f"stopped the preview worker ({getattr(exc, 'message', exc)})"
    return ValidationError(
        {
            "step": f"{what} {limit} on the sample and was stopped; nothing was saved. Make the step cheaper "
            "(fewer columns, rows or features) or run the flow as a job."
        },
        code="preview_limit",
    )


def _sandboxed_step(
    *, flow: Flow, step_id: str, definition: dict[str, Any] | None, rows: int, want: str, shown: int = PREVIEW_SHOWN
) -> dict[str, Any]:
    """Run what `step_id` needs on the sources' first `rows` rows in the preview sandbox (time and memory limits);
    the worker reads the sources' Parquet files itself and never touches the database."""
    import contextlib

    from django.conf import settings

    from apps.core.sandbox import RemoteError, SandboxError
    from apps.datasets.previews import SourceFile, step_output

    definition = definition if definition is not None else flow.definition
    if step_id not in [s["id"] for s in definition.get("sources") or []] + [
        s["id"] for s in definition.get("steps") or []
    ]:
        raise ValidationError({"step": f"The flow has no step or source {step_id!r}."})
    versions = _sources_for(flow, definition, step_id)
    with contextlib.ExitStack() as stack:
        sources = {k: SourceFile(stack.enter_context(files.local_path(v.file))) for k, v in versions.items()}
        try:
            return _preview_sandbox().run(  # type: ignore[no-any-return]
                step_output,
                definition,
                sources,
                step_id,
                rows=rows,
                shown=shown,
                want=want,
                sql_timeout_s=settings.PREVIEW_TIMEOUT_S * 0.8,  # DuckDB's watchdog first, with its own message
                timeout_s=settings.PREVIEW_TIMEOUT_S,
                memory_mb=settings.PREVIEW_MEMORY_MB,
            )
        except RemoteError as exc:
            raise ValidationError({"step": exc.message}) from exc
        except SandboxError as exc:
            raise _limit_error(exc, definition, step_id) from exc


def flow_step_frame(
    *, flow: Flow, step_id: str, definition: dict[str, Any] | None = None, rows: int = PREVIEW_ROWS
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The output of one step (or a source) on a sample of at most `rows` rows per source."""
    out = _sandboxed_step(flow=flow, step_id=step_id, definition=definition, rows=rows, want="frame")
    return out["frame"], out["source_rows"]


def flow_preview(
    *,
    flow: Flow,
    step_id: str,
    definition: dict[str, Any] | None = None,
    rows: int = PREVIEW_ROWS,
    shown: int = PREVIEW_SHOWN,
) -> Preview:
    started = time.perf_counter()
    out = _sandboxed_step(flow=flow, step_id=step_id, definition=definition, rows=rows, want="preview", shown=shown)
    # a yes/no column of a source is shown as yes/no in every step that keeps it (as the flow's output will be)
    pairs: tokens.Tokens = {}
    for source in flow_source_versions(flow=flow).values():
        for name, pair in tokens.boolean_tokens(source.schema if source else None).items():
            pairs.setdefault(name, pair)
    shown_rows = [{k: tokens.value_as_written(v, pairs.get(k)) for k, v in row.items()} for row in out["rows"]]
    return Preview(
        step_id=step_id,
        columns=out["columns"],
        dtypes=out["dtypes"],
        schema=out["schema"],
        rows=shown_rows if pairs else out["rows"],
        row_count=out["row_count"],
        source_rows=out["source_rows"],
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )


def flow_step_sample(*, flow: Flow, step_id: str) -> pd.DataFrame:
    try:
        frame, _ = flow_step_frame(flow=flow, step_id=step_id)
    except ValidationError:
        raise
    except Exception as exc:
        raise ValidationError({"step": getattr(exc, "message", str(exc))}) from exc
    return frame


def flow_input_columns(*, flow: Flow, input_ids: list[str]) -> dict[str, list[str]]:
    """Column names of each input (a source's schema, or a step's preview output)."""
    versions = flow_source_versions(flow=flow)
    out: dict[str, list[str]] = {}
    for input_id in input_ids:
        if input_id in versions:
            version = versions[input_id]
            out[input_id] = version.column_names if version is not None else []
            continue
        try:
            out[input_id] = _sandboxed_step(
                flow=flow, step_id=input_id, definition=None, rows=PREVIEW_ROWS, want="columns"
            )["columns"]
        except Exception:  # noqa: BLE001 - a broken (or too slow) earlier step shows its error in its own preview
            out[input_id] = []
    return out


def flow_script(*, flow: Flow) -> tuple[str, str]:
    """(file name, script) of the flow as a standalone pandas script."""
    from apps.datasets.transforms import TransformError, flow_to_script

    versions = flow_source_versions(flow=flow)
    paths = {}
    for source_id, version in versions.items():
        stem = slugify(version.dataset.name) if version is not None else source_id
        paths[source_id] = f"{stem or 'dataset'}-v{version.number if version is not None else 0}.parquet"
    script_name = f"{slugify(flow.name) or 'flow'}.py"
    try:
        script = flow_to_script(flow.definition, paths, script_name=script_name)
    except TransformError as exc:
        raise ValidationError({"flow": exc.message}) from exc
    return script_name, script


# --- SQL -----------------------------------------------------------------------------------------------------------


def sql_tables_for_project(*, project: Project) -> dict[str, DatasetVersion]:
    """Table name -> version: `sales` for the latest version of dataset "sales", `sales_v2` for version 2."""
    from apps.datasets.sql import table_identifier

    versions = (
        DatasetVersion.objects.filter(project=project)
        .filter(dataset__latest_version__isnull=False)
        .select_related("dataset")
        .order_by("dataset__name", "number")
    )
    tables: dict[str, DatasetVersion] = {}
    latest: dict[str, DatasetVersion] = {}
    for version in versions:
        base = table_identifier(version.dataset.name)
        if version.pk == version.dataset.latest_version_id:
            latest[base if base not in latest else f"{base}_{version.dataset_id}"] = version
        tables[f"{base}_v{version.number}"] = version
    return {**tables, **latest}


def sql_table_listing(*, project: Project) -> list[dict[str, Any]]:
    """One entry per version: its table name (the dataset's name for a latest version) and its other names."""
    tables = sql_tables_for_project(project=project)
    names: dict[int, list[str]] = {}
    for name, version in tables.items():
        names.setdefault(version.pk, []).append(name)
    out: list[dict[str, Any]] = []
    for aliases in names.values():
        aliases.sort(key=lambda n: (bool(re.search(r"_v\d+$", n)), n))
        version = tables[aliases[0]]
        out.append(
            {
                "name": aliases[0],
                "aliases": aliases[1:],
                "version": version,
                "latest": version.pk == version.dataset.latest_version_id,
                "columns": [(c["name"], c.get("type")) for c in version.schema],
            }
        )
    out.sort(key=lambda t: (t["version"].dataset.name.lower(), -t["version"].number))
    return out


def sql_preview(*, project: Project, query: str) -> dict[str, Any]:
    """Run a SELECT over the project's dataset tables in the DuckDB sandbox; at most 1000 rows."""
    import contextlib

    from apps.datasets.sql import PREVIEW_ROWS as SQL_ROWS
    from apps.datasets.sql import SqlError, referenced_names, sandbox_preview, select_references

    tables = sql_tables_for_project(project=project)
    wanted = {name: v for name, v in tables.items() if name in referenced_names(query or "")}
    started = time.perf_counter()
    try:
        with contextlib.ExitStack() as stack:
            paths = {name: stack.enter_context(files.local_path(v.file)) for name, v in wanted.items()}
            result = sandbox_preview(query, paths, limit=SQL_ROWS)
    except SqlError as exc:
        raise ValidationError({exc.field: exc.message}) from exc
    # a plain reference to a yes/no column comes back as yes/no (as in the version the result can be saved as)
    pairs = tokens.result_tokens(
        ((f.name, pa.types.is_boolean(f.type)) for f in result.table.schema),
        (wanted[name].schema for name in result.tables_used),
        select_references(query),
    )
    return {
        "columns": result.table.column_names,
        "rows": files.table_records(tokens.table_as_written(result.table, pairs)),
        "row_count": result.table.num_rows,
        "truncated": result.truncated,
        "tables": result.tables_used,
        "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
    }


# --- connections ----------------------------------------------------------------------------------------------------


def connection_list_for_project(*, project: Project | None) -> QuerySet[DataConnection]:
    if project is None:
        return DataConnection.objects.none()
    return DataConnection.objects.filter(projects=project).order_by("name")


def connection_get_for_project(*, project: Project, pk: Any) -> DataConnection:
    try:
        return connection_list_for_project(project=project).get(pk=int(pk))
    except (DataConnection.DoesNotExist, TypeError, ValueError) as exc:
        raise Http404("No such data connection for this project.") from exc
