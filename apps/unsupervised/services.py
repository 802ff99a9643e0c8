"""Built-in algorithms: validate and start a run (a Job), and the job's work: read the version, run the engine
(apps/automl/engine/unsupervised.py), append its columns and store the result as a new dataset version."""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from apps.accounts.models import Project, User
from apps.automl.engine import unsupervised as engine
from apps.datasets import selectors as data_selectors
from apps.datasets import services as data_services
from apps.datasets.choices import VersionKind
from apps.datasets.models import DatasetVersion
from apps.jobs.runtime import JobContext, JobError
from apps.jobs.services import job_start
from apps.unsupervised.choices import (
    AUTO,
    DEFAULT_K_MAX,
    DEFAULT_K_MIN,
    DEFAULT_VARIANCE,
    K_HIGHEST,
    K_LOWEST,
    MAX_CONTAMINATION,
    MAX_SEED,
    OPTION_NAMES,
    Algorithm,
    KMethod,
)
from apps.unsupervised.models import UnsupervisedRun

DATASET_NAME_MAX = 100  # apps.datasets.services.NAME_MAX
TOP_ROW_COLUMNS = 8  # input columns shown next to the most anomalous rows
_INT = re.compile(r"[+-]?\d+")


# --- validation ----------------------------------------------------------------------------------------------


class _Errors(dict[str, list[str]]):
    def add(self, field: str, message: str) -> None:
        self.setdefault(field, []).append(message)


def _blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _int(raw: Any) -> int | None:
    """A whole number from JSON or a form (7, 7.0, "7"); None when it is not one (booleans are not numbers)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str) and _INT.fullmatch(raw.strip()):
        return int(raw.strip())
    return None


def _float(raw: Any) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            return None
    else:
        return None
    return value if value == value and value not in (float("inf"), float("-inf")) else None


def _clean_seed(raw: Any, errors: _Errors) -> int:
    if _blank(raw):
        return 0
    seed = _int(raw)
    if seed is None or not 0 <= seed <= MAX_SEED:
        errors.add("seed", f"seed must be a whole number between 0 and {MAX_SEED}, not {raw!r}.")
        return 0
    return seed


def _clean_pca(options: dict[str, Any], version: DatasetVersion, errors: _Errors) -> dict[str, Any]:
    raw_n, raw_variance = options.get("n_components"), options.get("variance")
    out: dict[str, Any] = {}
    if not _blank(raw_n) and not _blank(raw_variance):
        errors.add(
            "variance",
            "Give either n_components (a number of components) or variance (the share of variance to keep), not both.",
        )
        return out
    if not _blank(raw_n):
        n = _int(raw_n)
        if n is None or n < 1:
            errors.add("n_components", f"n_components must be a whole number of at least 1, not {raw_n!r}.")
        elif n > version.row_count:
            errors.add(
                "n_components",
                f"n_components ({n}) cannot exceed the number of rows of {version} ({version.row_count}).",
            )
        else:
            out["n_components"] = n
        return out
    if _blank(raw_variance):
        out["variance"] = DEFAULT_VARIANCE
        return out
    variance = _float(raw_variance)
    if variance is None or not 0 < variance < 1:
        errors.add(
            "variance",
            f"variance must be a number between 0 and 1 (exclusive), e.g. 0.9 to keep 90 % of "
            f"the variance; got {raw_variance!r}.",
        )
    else:
        out["variance"] = variance
    return out


def _clean_k_bound(options: dict[str, Any], name: str, default: int, errors: _Errors) -> int | None:
    raw = options.get(name)
    if _blank(raw):
        return default
    value = _int(raw)
    if value is None or not K_LOWEST <= value <= K_HIGHEST:
        errors.add(name, f"{name} must be a whole number between {K_LOWEST} and {K_HIGHEST}, not {raw!r}.")
        return None
    return value


def _clean_kmeans(options: dict[str, Any], version: DatasetVersion, errors: _Errors) -> dict[str, Any]:
    raw_k = options.get("k")
    if not _blank(raw_k) and not (isinstance(raw_k, str) and raw_k.strip().lower() == AUTO):
        k = _int(raw_k)
        if k is None or k < K_LOWEST:
            errors.add("k", f"k must be 'auto' or a whole number of at least {K_LOWEST}, not {raw_k!r}.")
        elif k > version.row_count:
            errors.add("k", f"k ({k}) cannot exceed the number of rows of {version} ({version.row_count}).")
        return {"k": k}  # k_min, k_max and method only matter when k is auto
    k_min = _clean_k_bound(options, "k_min", DEFAULT_K_MIN, errors)
    k_max = _clean_k_bound(options, "k_max", DEFAULT_K_MAX, errors)
    if k_min is not None and k_max is not None and k_max < k_min:
        errors.add("k_max", f"k_max ({k_max}) must be at least k_min ({k_min}).")
    raw_method = options.get("method")
    method = KMethod.SILHOUETTE.value if _blank(raw_method) else str(raw_method).strip().lower()
    if method not in KMethod.values:
        errors.add("method", f"method must be 'silhouette' or 'elbow', not {raw_method!r}.")
    return {"k": AUTO, "k_min": k_min, "k_max": k_max, "method": method}


def _clean_isolation_forest(options: dict[str, Any], version: DatasetVersion, errors: _Errors) -> dict[str, Any]:
    raw = options.get("contamination")
    if _blank(raw) or (isinstance(raw, str) and raw.strip().lower() == AUTO):
        return {"contamination": AUTO}
    value = _float(raw)
    if value is None or not 0 < value <= MAX_CONTAMINATION:
        errors.add(
            "contamination",
            f"contamination must be 'auto' or a number above 0 and at most "
            f"{MAX_CONTAMINATION} (the expected share of anomalies), not {raw!r}.",
        )
    return {"contamination": value}


_CLEANERS = {
    Algorithm.PCA: _clean_pca,
    Algorithm.KMEANS: _clean_kmeans,
    Algorithm.ISOLATION_FOREST: _clean_isolation_forest,
}


def _clean_columns(raw: Any, version: DatasetVersion, errors: _Errors) -> list[str]:
    if _blank(raw):
        return []
    if isinstance(raw, str):
        raw = raw.split(",")
    if not isinstance(raw, list | tuple) or not all(isinstance(c, str) for c in raw):
        errors.add("columns", "Send columns as a list of column names (empty: every usable column).")
        return []
    columns = list(dict.fromkeys(c.strip() for c in raw if c.strip()))
    known = set(version.column_names)
    unknown = [c for c in columns if c not in known]
    if unknown:
        names = ", ".join(repr(c) for c in unknown)
        errors.add(
            "columns",
            f"{'Column' if len(unknown) == 1 else 'Columns'} {names} "
            f"{'is' if len(unknown) == 1 else 'are'} not in {version}; its columns are: "
            + ", ".join(version.column_names[:30])
            + ("…" if len(known) > 30 else "")
            + ".",
        )
    return columns


def unsupervised_options_clean(
    *, version: DatasetVersion, algorithm: Any, options: Any, columns: Any
) -> tuple[str, dict[str, Any], list[str]]:
    """(algorithm, options, columns) checked and normalised; a ValidationError names every field at fault."""
    errors = _Errors()
    algorithm = str(algorithm or "").strip()
    if algorithm not in Algorithm.values:
        errors.add("algorithm", f"Unknown algorithm {algorithm!r}; choose pca, kmeans or isolation_forest.")
    if options is None:
        options = {}
    if not isinstance(options, dict):
        errors.add("options", "Send options as an object of {name: value}.")
        options = {}
    if version.row_count < 2:
        errors.add(
            "dataset_version", f"{version} has {version.row_count} row(s); an unsupervised algorithm needs at least 2."
        )
    clean_columns = _clean_columns(columns, version, errors)
    clean: dict[str, Any] = {}
    if algorithm in Algorithm.values:
        names = OPTION_NAMES[algorithm]
        for key in options:
            if key not in names:
                label = Algorithm(algorithm).label
                errors.add("options", f"Unknown option {key!r} for {label}; its options are {', '.join(names)}.")
        clean = _CLEANERS[Algorithm(algorithm)](options, version, errors)
        clean["seed"] = _clean_seed(options.get("seed"), errors)
    if errors:
        raise ValidationError(dict(errors))
    return algorithm, clean, clean_columns


def unsupervised_run_start(
    *, project: Project, created_by: User, version: DatasetVersion, algorithm: Any, options: Any, columns: Any
) -> UnsupervisedRun:
    """Validate everything, record the run and start its job (`unsupervised.run`)."""
    if version.project_id != project.pk:
        raise ValidationError({"dataset_version": "The dataset version belongs to another project."})
    algorithm, clean, clean_columns = unsupervised_options_clean(
        version=version, algorithm=algorithm, options=options, columns=columns
    )
    with transaction.atomic():
        run = UnsupervisedRun.objects.create(
            project=project,
            created_by=created_by,
            algorithm=algorithm,
            dataset_version=version,
            options=clean,
            columns=clean_columns,
        )
        job = job_start(
            kind="unsupervised.run",
            project=project,
            created_by=created_by,
            params={"run": run.pk},
            title=f"{Algorithm(algorithm).label}: {version}",
        )
        run.job = job
        run.save(update_fields=["job", "updated_at"])
    return run


# --- the job -------------------------------------------------------------------------------------------------


def _engine_call(run: UnsupervisedRun, frame: pd.DataFrame) -> engine.UnsupervisedResult:
    o = run.options
    columns = list(run.columns) or None
    seed = int(o.get("seed") or 0)
    if run.algorithm == Algorithm.PCA:
        if o.get("n_components") is not None:
            return engine.pca(frame, columns=columns, n_components=int(o["n_components"]), seed=seed)
        return engine.pca(frame, columns=columns, variance=float(o.get("variance") or DEFAULT_VARIANCE), seed=seed)
    if run.algorithm == Algorithm.KMEANS:
        if o.get("k") not in (None, AUTO):
            return engine.kmeans(frame, columns=columns, k=int(o["k"]), seed=seed)
        return engine.kmeans(
            frame,
            columns=columns,
            k=None,
            k_min=int(o.get("k_min") or DEFAULT_K_MIN),
            k_max=int(o.get("k_max") or DEFAULT_K_MAX),
            method=o.get("method") or "silhouette",
            seed=seed,
        )
    if run.algorithm == Algorithm.ISOLATION_FOREST:
        contamination = o.get("contamination")
        return engine.isolation_forest(
            frame,
            columns=columns,
            contamination=AUTO if contamination in (None, AUTO) else float(contamination),
            seed=seed,
            n_jobs=int(getattr(settings, "AUTOML_N_JOBS", 2)),
        )
    raise JobError(f"Unknown algorithm {run.algorithm!r}.")


def append_columns(frame: pd.DataFrame, new: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """`frame` with `new`'s columns appended; a name already taken (ignoring case) gets a numeric suffix:
    `cluster` → `cluster_2`. Returns the frame and the final names of the new columns."""
    taken = {str(c).lower() for c in frame.columns}
    names: list[str] = []
    for name in map(str, new.columns):
        final, n = name, 2
        while final.lower() in taken:
            final, n = f"{name}_{n}", n + 1
        taken.add(final.lower())
        names.append(final)
    out = pd.concat([frame, new.set_axis(names, axis=1)], axis=1)
    return out, names


def _top_rows(chart: dict[str, Any], frame: pd.DataFrame, used: list[str]) -> dict[str, Any]:
    """The isolation forest's most anomalous rows, with their values in the first input columns used."""
    rows = chart.get("top_rows") or []
    columns = [c for c in used if c in frame.columns][:TOP_ROW_COLUMNS]
    if not rows or not columns:
        return chart
    positions = [int(r["row"]) for r in rows]
    values = json.loads(frame.iloc[positions][columns].to_json(orient="values", date_format="iso"))
    return {
        **chart,
        "top_columns": columns,
        "top_rows": [{**r, "values": v} for r, v in zip(rows, values, strict=True)],
    }


def _dataset_name(version: DatasetVersion, algorithm: str) -> str:
    base = " ".join(version.dataset.name.split())
    return f"{base[: DATASET_NAME_MAX - len(algorithm) - 1].rstrip()} {algorithm}"


def unsupervised_run_execute(ctx: JobContext) -> dict[str, Any]:
    run = UnsupervisedRun.objects.select_related("dataset_version__dataset").get(
        pk=ctx.params["run"], project_id=ctx.project_id
    )
    if run.output_version_id and run.info:  # a redelivery after success: nothing to do
        return {"run": run.pk, "dataset_version": run.output_version_id}
    version = run.dataset_version
    label = Algorithm(run.algorithm).label
    ctx.progress(0.02, f"Reading {version.row_count:,} rows of {version}", force=True)
    frame = data_selectors.version_frame(version=version)
    ctx.progress(0.15, f"Running {label} on {len(frame):,} rows", force=True)
    try:
        result = _engine_call(run, frame)
    except ValueError as exc:
        raise JobError(f"{label} failed: {exc}") from exc
    ctx.progress(0.6, f"Appending {result.columns.shape[1]} column(s)", force=True)
    output, names = append_columns(frame, result.columns)
    info = {**result.info, "new_columns": names, "rows": len(output)}
    chart = result.chart
    if run.algorithm == Algorithm.ISOLATION_FOREST:
        chart = _top_rows(chart, frame, list(result.info.get("columns_used") or []))
    # A redelivery after the version was stored (the worker died before the run was updated) reuses it.
    new = DatasetVersion.objects.filter(job_id=ctx.job_id).first()
    if new is None:
        new = data_services.dataset_version_create_from_frame(
            ctx,
            frame=output,
            kind=VersionKind.MODEL_OUTPUT,
            dataset_name=_dataset_name(version, run.algorithm),
            source={
                "kind": "unsupervised",
                "algorithm": run.algorithm,
                "run": run.pk,
                "dataset_version": version.pk,
                "options": run.options,
                "columns": names,
            },
            parents=[version],
        )
    UnsupervisedRun.objects.filter(pk=run.pk).update(chart=chart, info=info, output_version=new)
    summary = {
        Algorithm.PCA: lambda: (
            f"{info.get('n_components')} component(s) explain "
            f"{float(info.get('variance_explained') or 0):.1%} of the variance"
        ),
        Algorithm.KMEANS: lambda: f"{info.get('k')} clusters",
        Algorithm.ISOLATION_FOREST: lambda: f"{info.get('n_flagged', 0):,} of {len(output):,} rows flagged",
    }[Algorithm(run.algorithm)]()
    ctx.final_message = f"{summary}; saved as {new}."
    return {"run": run.pk, "dataset_version": new.pk, "dataset": new.dataset_id, "rows": len(output), "columns": names}
