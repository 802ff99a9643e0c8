"""The Data Quality and Insights report: one JSON-serialisable dict per dataset version.

Plain module: no Django imports. Design for speed and memory on millions of rows:

* one pass per column on all rows: numbers are sorted once (min, max, quantiles, distinct values, top values,
  histogram and outlier bounds all come from the sorted array); strings are factorised once and every string
  check (blank, whitespace, lengths, parse failures) runs on the distinct values weighted by their counts;
* duplicate rows by a 64-bit row hash, then confirmed exactly on the few candidate rows;
* everything that models or pairs columns (correlations, associations, leakage, quick model, anomalies, VIF)
  runs on one seeded random sample encoded once as float columns, and says the sample size it used.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from apps.datasets.inference import cast_series, factorize, infer_schema, with_string_names

Progress = Callable[[float, str], None]
NUMERIC_TYPES = frozenset({"numeric", "integer"})
LABEL_TYPES = frozenset({"categorical", "boolean", "text", "identifier"})
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
OUTLIER_RULE = "modified z-score |0.6745 * (x - median) / MAD| > 3.5 (Iglewicz and Hoaglin)"
REPORT_VERSION = 1


@dataclass(frozen=True)
class ProfileConfig:
    """Sample sizes and limits; every part that uses a sample reports the size it used."""

    sample_size: int = 100_000  # shared sample for correlations, associations, leakage
    model_sample: int = 50_000
    anomaly_sample: int = 20_000
    vif_sample: int = 50_000
    stats_exact_rows: int = 5_000_000  # above this, per-column distributions use a sample of this size
    max_numeric_columns: int = 30  # correlations and VIF
    max_categorical_columns: int = 20  # Cramér's V and correlation ratio
    max_levels: int = 50  # categories kept per column in associations (others pooled)
    top_k: int = 10
    histogram_bins: int = 30
    leakage_bins: int = 32
    leakage_folds: int = 5
    leakage_threshold: float = 0.95
    model_folds: int = 3
    model_rounds: int = 100
    anomaly_examples: int = 10
    duplicate_examples: int = 5


@dataclass
class _Context:
    df: pd.DataFrame
    schema: dict[str, dict[str, Any]]
    config: ProfileConfig
    seed: int
    target: str | None
    progress: Progress
    timings: dict[str, float] = field(default_factory=dict)
    encoded: dict[str, np.ndarray] = field(default_factory=dict)  # sample columns as floats (codes for labels)
    sample_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------- entry point
def profile_dataframe(
    df: pd.DataFrame,
    *,
    target: str | None = None,
    schema: list[dict[str, Any]] | None = None,
    progress: Progress | None = None,
    seed: int = 0,
    config: ProfileConfig | None = None,
) -> dict[str, Any]:
    """Profile ``df``; ``schema`` is the list from :func:`apps.datasets.inference.infer_schema` (inferred if None).

    Returns a JSON-serialisable dict (no numpy scalars; NaN and infinities as None).
    """
    df = with_string_names(df)
    if target is not None and target not in df.columns:
        raise ValueError(f"Target column {target!r} is not in the data")
    config = config or ProfileConfig()
    started = time.perf_counter()
    report_progress = progress or (lambda _f, _m: None)
    report_progress(0.0, "Reading the schema")
    schema = schema if schema is not None else infer_schema(df, seed=seed)
    ctx = _Context(
        df=df, schema={e["name"]: e for e in schema}, config=config, seed=seed, target=target, progress=report_progress
    )
    report: dict[str, Any] = {
        "version": REPORT_VERSION,
        "generated_at": datetime.now(UTC).isoformat(),
        "seed": seed,
        "target": None,
        "leakage": None,
        "quick_model": None,
    }
    report["summary"] = _timed(ctx, "summary", lambda: _summary(ctx))
    ctx.progress(0.1, "Profiling columns")
    report["columns"] = _timed(ctx, "columns", lambda: _columns(ctx, 0.1, 0.55))
    ctx.progress(0.55, "Sampling rows")
    _timed(ctx, "sample", lambda: _encode_sample(ctx))
    ctx.progress(0.6, "Correlations")
    report["correlations"] = _timed(ctx, "correlations", lambda: _correlations(ctx))
    if target is not None:
        ctx.progress(0.7, "Target analysis")
        report["target"] = _timed(ctx, "target", lambda: _target_analysis(ctx))
        ctx.progress(0.72, "Target leakage")
        report["leakage"] = _timed(ctx, "leakage", lambda: _leakage(ctx, report["target"]))
        ctx.progress(0.78, "Quick model")
        report["quick_model"] = _timed(ctx, "quick_model", lambda: _quick_model(ctx, report["target"]))
    ctx.progress(0.9, "Anomalous rows")
    report["anomalies"] = _timed(ctx, "anomalies", lambda: _anomalies(ctx))
    ctx.progress(0.95, "Multicollinearity")
    report["multicollinearity"] = _timed(ctx, "multicollinearity", lambda: _multicollinearity(ctx))
    report["warnings"] = _warnings(ctx, report)
    ctx.timings["total"] = time.perf_counter() - started
    report["timings"] = ctx.timings
    ctx.progress(1.0, "Done")
    return to_jsonable(report)


def _timed(ctx: _Context, name: str, fn: Callable[[], Any]) -> Any:
    t0 = time.perf_counter()
    try:
        return fn()
    finally:
        ctx.timings[name] = round(time.perf_counter() - t0, 4)


# --------------------------------------------------------------------------------------------------- JSON
def to_jsonable(obj: Any) -> Any:
    """Plain Python types only: numpy scalars unwrapped, NaN/inf/NA/NaT as None, timestamps as ISO strings."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [to_jsonable(v) for v in obj.tolist()]
    if obj is None or isinstance(obj, (str, bool)):
        return obj
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if obj is pd.NaT or obj is pd.NA:
        return None
    if isinstance(obj, (pd.Timestamp, datetime)):
        return obj.isoformat()
    if isinstance(obj, (pd.Timedelta, np.timedelta64)):
        return str(obj)
    if isinstance(obj, np.datetime64):
        return None if np.isnat(obj) else str(pd.Timestamp(obj).isoformat())
    if isinstance(obj, bytes):
        return obj.decode("utf-8", errors="replace")
    return str(obj)


def _display(value: Any, limit: int = 200) -> Any:
    """A value as shown in the report: numbers and booleans kept, everything else as (truncated) text."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (pd.Timestamp, datetime, np.datetime64)):
        return pd.Timestamp(value).isoformat()
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------------------------------- summary
def _summary(ctx: _Context) -> dict[str, Any]:
    df = ctx.df
    n_rows, n_cols = df.shape
    missing_cells = sum(int(df[name].isna().sum()) for name in df.columns)
    types: dict[str, int] = {}
    for entry in ctx.schema.values():
        types[entry["type"]] = types.get(entry["type"], 0) + 1
    duplicates = _duplicates(df, ctx.config.duplicate_examples)
    return {
        "rows": n_rows,
        "columns": n_cols,
        "memory_bytes": int(df.memory_usage(deep=True, index=True).sum()),
        "missing_cells": missing_cells,
        "missing_cells_ratio": missing_cells / (n_rows * n_cols) if n_rows and n_cols else 0.0,
        "column_types": types,
        **duplicates,
    }


def _duplicates(df: pd.DataFrame, n_examples: int) -> dict[str, Any]:
    """Exact duplicate rows: 64-bit row hashes find candidates, pandas confirms them on the candidates only."""
    if len(df) < 2 or df.shape[1] == 0:
        return {"duplicate_rows": 0, "duplicate_ratio": 0.0, "duplicate_examples": [], "duplicate_method": "none"}
    hashes = _row_hashes(df)
    candidates = np.flatnonzero(pd.Series(hashes).duplicated(keep=False).to_numpy())
    if len(candidates) == 0:
        return {
            "duplicate_rows": 0,
            "duplicate_ratio": 0.0,
            "duplicate_examples": [],
            "duplicate_method": "64-bit row hash, confirmed exactly on candidate rows",
        }
    subset = df.iloc[candidates]
    try:
        is_dup = subset.duplicated(keep="first").to_numpy()
        in_group = subset.duplicated(keep=False).to_numpy()
    except TypeError:  # unhashable objects: compare their text
        is_dup = subset.astype("str").duplicated(keep="first").to_numpy()
        in_group = subset.astype("str").duplicated(keep=False).to_numpy()
    n_dup = int(is_dup.sum())
    group_size = pd.Series(hashes[candidates][in_group]).value_counts()
    firsts = np.flatnonzero(in_group & ~is_dup)[:n_examples]
    examples = [
        {
            "row": _display(subset.index[i]),
            "count": int(group_size.get(hashes[candidates][i], 0)),
            "values": {str(k): _display(v) for k, v in subset.iloc[i].items()},
        }
        for i in firsts
    ]
    return {
        "duplicate_rows": n_dup,
        "duplicate_ratio": n_dup / len(df),
        "duplicate_examples": examples,
        "duplicate_method": "64-bit row hash, confirmed exactly on candidate rows",
    }


def _column_hash(s: pd.Series) -> np.ndarray:
    """64-bit hash per value; labels are hashed through their factorisation codes (same value, same code)."""
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return pd.util.hash_array(s.cat.codes.to_numpy().astype(np.int64))
    if isinstance(dtype, np.dtype) and dtype.kind in "biufcmM":
        values = s.to_numpy()
        return pd.util.hash_array(values.view(np.int64) if dtype.kind in "mM" else values)
    if ptypes.is_numeric_dtype(dtype) or ptypes.is_bool_dtype(dtype):
        return pd.util.hash_array(s.to_numpy(dtype=float, na_value=np.nan))
    codes, _ = factorize(s)
    return pd.util.hash_array(codes.astype(np.int64))


def _row_hashes(df: pd.DataFrame) -> np.ndarray:
    """Combine the column hashes into one 64-bit hash per row (collisions only add candidates)."""
    out = np.zeros(len(df), dtype=np.uint64)
    multiplier = np.uint64(0x100000001B3)
    with np.errstate(over="ignore"):
        for name in df.columns:
            out = (out ^ _column_hash(df[name])) * multiplier
    return out


# --------------------------------------------------------------------------------------------------- columns
def _columns(ctx: _Context, start: float, end: float) -> list[dict[str, Any]]:
    out = []
    names = list(ctx.df.columns)
    for i, name in enumerate(names):
        ctx.progress(start + (end - start) * i / max(len(names), 1), f"Profiling column {name}")
        entry = ctx.schema.get(name) or {"type": "text", "pandas_dtype": str(ctx.df[name].dtype)}
        column = _profile_column(ctx, name, entry)
        ctx.columns[name] = column
        out.append(column)
    return out


def _column_sample(ctx: _Context, s: pd.Series) -> tuple[pd.Series, bool]:
    limit = ctx.config.stats_exact_rows
    if len(s) <= limit:
        return s, True
    idx = np.sort(np.random.default_rng(ctx.seed).choice(len(s), size=limit, replace=False))
    return s.iloc[idx], False


def _profile_column(ctx: _Context, name: str, entry: dict[str, Any]) -> dict[str, Any]:
    full = ctx.df[name]
    type_ = entry["type"]
    n = len(full)
    missing = int(full.isna().sum())
    s, exact = _column_sample(ctx, full)
    col: dict[str, Any] = {
        "name": name,
        "type": type_,
        "pandas_dtype": str(full.dtype),
        "declared_dtype": entry.get("pandas_dtype"),
        "missing": missing,
        "missing_ratio": missing / n if n else 0.0,
        "stats_sample_size": len(s),
        "stats_exact": exact,
    }
    labels = _label_counts(s)
    col.update(_string_checks(labels))
    col.update(_invalid_values(ctx, name, type_, entry, labels))
    values = _typed_values(s, type_, entry, labels)
    if values is not None and type_ in NUMERIC_TYPES:
        col.update(_numeric_stats(values, ctx.config, integral=type_ == "integer"))
    elif values is not None and type_ == "datetime":
        col.update(_datetime_stats(values, ctx.config))
    elif labels.codes is None:  # labels stored as numbers or dates (ids, 0/1 flags, coded categories)
        col.update(_stored_value_stats(s, ctx.config))
    else:
        col.update(_label_stats(labels, ctx.config, len(s)))
    if type_ == "boolean":
        col["boolean"] = _boolean_counts(s, labels)
    if not exact:
        col["distinct"] = int(pd.unique(_column_hash(full)[full.notna().to_numpy()]).size)
        col["distinct_note"] = (
            "statistics from a sample; distinct counted on all rows through 64-bit value hashes "
            "(approximate: two values could share a hash)"
        )
    present = n - missing
    col["distinct_ratio"] = col["distinct"] / present if present else 0.0
    col["is_unique"] = bool(present and col["distinct"] == present and exact)
    return col


@dataclass(frozen=True)
class _Labels:
    """Factorised column: distinct values (``uniques``), their counts and each row's code (-1 = missing)."""

    codes: np.ndarray | None
    uniques: pd.Index | None
    counts: np.ndarray | None
    is_string: bool


def _label_counts(s: pd.Series) -> _Labels:
    """Factorise strings, categoricals, booleans and objects (numbers and dates are sorted instead)."""
    dtype = s.dtype
    is_string = ptypes.is_string_dtype(dtype) or ptypes.is_object_dtype(dtype)
    if not (is_string or isinstance(dtype, pd.CategoricalDtype) or ptypes.is_bool_dtype(dtype)):
        return _Labels(None, None, None, False)
    if isinstance(dtype, pd.CategoricalDtype):
        codes = s.cat.codes.to_numpy()
        uniques = s.cat.categories
        is_string = ptypes.is_string_dtype(uniques.dtype) or ptypes.is_object_dtype(uniques.dtype)
    else:
        codes, uniques = factorize(s)
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques)).astype(np.int64)
    return _Labels(codes, pd.Index(uniques), counts, is_string)


def _uniques_as_text(labels: _Labels) -> pd.Series:
    return pd.Series(labels.uniques).astype("str")


def _string_checks(labels: _Labels) -> dict[str, Any]:
    if not labels.is_string or labels.uniques is None or not len(labels.uniques):
        return {"empty_strings": 0, "whitespace_only": 0}
    text = _uniques_as_text(labels)
    assert labels.counts is not None
    is_str: np.ndarray | bool = True
    if ptypes.is_object_dtype(labels.uniques.dtype):  # mixed objects: only real strings can be blank
        is_str = np.asarray([isinstance(v, str) for v in labels.uniques])
    empty = (text == "").to_numpy() & is_str
    blank = (text.str.strip() == "").to_numpy() & is_str & ~empty
    return {"empty_strings": int(labels.counts[empty].sum()), "whitespace_only": int(labels.counts[blank].sum())}


def _invalid_values(ctx: _Context, name: str, type_: str, entry: dict[str, Any], labels: _Labels) -> dict[str, Any]:
    """Values present but not parseable as the declared type (from apply_schema's report, or checked here)."""
    cast_report = ctx.df.attrs.get("cast_report", {}).get(name)
    if cast_report is not None:
        return {
            "invalid": int(cast_report.get("failed", 0)),
            "invalid_examples": cast_report.get("examples", []),
            "invalid_source": "apply_schema",
        }
    if type_ in ("text", "categorical", "identifier") or not labels.is_string or labels.uniques is None:
        return {"invalid": 0, "invalid_examples": []}
    assert labels.counts is not None
    _converted, failed = cast_series(pd.Series(labels.uniques), type_, fmt=entry.get("format"))
    order = np.argsort(-labels.counts[failed], kind="stable")[:5]
    examples = [_display(v) for v in np.asarray(labels.uniques, dtype=object)[failed][order]]
    return {"invalid": int(labels.counts[failed].sum()), "invalid_examples": examples}


def _typed_values(s: pd.Series, type_: str, entry: dict[str, Any], labels: _Labels) -> np.ndarray | None:
    """Floats for numeric types, int64 nanoseconds for dates (NaN/NaT where missing or invalid), else None."""
    if type_ in NUMERIC_TYPES:
        if labels.is_string and labels.uniques is not None:
            converted, _ = cast_series(pd.Series(labels.uniques), "numeric")
            return _spread(converted.to_numpy(dtype=float, na_value=np.nan), labels.codes, np.nan)
        if ptypes.is_bool_dtype(s.dtype) or ptypes.is_numeric_dtype(s.dtype):
            return s.to_numpy(dtype=float, na_value=np.nan)
        return None
    if type_ == "datetime":
        if ptypes.is_datetime64_any_dtype(s.dtype):
            return _datetime_ns(s)
        if labels.is_string and labels.uniques is not None:
            converted, _ = cast_series(pd.Series(labels.uniques), "datetime", fmt=entry.get("format"))
            return _spread(_datetime_ns(converted).astype(float), labels.codes, np.nan)
        if ptypes.is_numeric_dtype(s.dtype):
            converted, _ = cast_series(s, "datetime")
            return _datetime_ns(converted)
    return None


def _datetime_ns(s: pd.Series) -> np.ndarray:
    """Nanoseconds since the epoch as floats, NaN for missing."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    values = s.to_numpy(dtype="datetime64[ns]")
    out = values.view(np.int64).astype(float)
    out[np.isnat(values)] = np.nan
    return out


def _spread(per_unique: np.ndarray, codes: np.ndarray | None, fill: float) -> np.ndarray:
    padded = np.append(per_unique, fill)
    return padded[codes] if codes is not None else per_unique  # code -1 picks the fill value


def _sorted_finite(values: np.ndarray) -> tuple[np.ndarray, int]:
    finite = values[np.isfinite(values)]
    infinite = int(np.isinf(values).sum())
    finite.sort()
    return finite, infinite


def _quantile_sorted(xs: np.ndarray, q: float) -> float:
    """Linear interpolation between order statistics (numpy's default method) on sorted data."""
    pos = (len(xs) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return float(xs[lo] + (xs[hi] - xs[lo]) * (pos - lo))


def _runs(xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of sorted ``xs`` and how often each occurs."""
    starts = np.flatnonzero(np.concatenate(([True], xs[1:] != xs[:-1])))
    counts = np.diff(np.append(starts, len(xs)))
    return xs[starts], counts


def _top(values: np.ndarray, counts: np.ndarray, k: int, total: int) -> list[dict[str, Any]]:
    if len(counts) == 0:
        return []
    k = min(k, len(counts))
    idx = np.argpartition(-counts, k - 1)[:k]
    idx = idx[np.lexsort((idx, -counts[idx]))]
    return [
        {"value": _display(values[i]), "count": int(counts[i]), "ratio": float(counts[i]) / total if total else 0.0}
        for i in idx
    ]


def _moments(xs: np.ndarray) -> tuple[float | None, float | None]:
    """Bias-corrected sample skewness and excess kurtosis (as pandas computes them)."""
    n = len(xs)
    if n < 4:
        return None, None
    d = xs - xs.mean()
    d2 = d * d
    m2 = float(d2.mean())
    if m2 <= 1e-300:
        return 0.0, 0.0
    m3 = float((d2 * d).mean())
    m4 = float((d2 * d2).mean())
    g1 = m3 / m2**1.5
    g2 = m4 / m2**2 - 3.0
    skew = math.sqrt(n * (n - 1)) / (n - 2) * g1
    kurt = ((n + 1) * g2 + 6.0) * (n - 1) / ((n - 2) * (n - 3))
    return skew, kurt


def _histogram_sorted(xs: np.ndarray, bins: int, integral: bool) -> dict[str, Any]:
    lo, hi = float(xs[0]), float(xs[-1])
    if integral and hi - lo < 1e15:  # bins of whole-number width so every bin holds the same number of values
        width = max(1.0, math.ceil((hi - lo + 1) / bins))
        edges = lo - 0.5 + width * np.arange(math.ceil((hi - lo + 1) / width) + 1)
    elif hi == lo:
        edges = np.array([lo - 0.5, hi + 0.5])
    else:
        edges = np.linspace(lo, hi, bins + 1)
    cut = np.searchsorted(xs, edges[1:-1], side="left")
    counts = np.diff(np.concatenate(([0], cut, [len(xs)])))
    return {"edges": edges.tolist(), "counts": counts.tolist()}


def _outliers(xs: np.ndarray, median: float) -> dict[str, Any]:
    deviations = np.abs(xs - median)
    mad = float(np.median(deviations))
    rule = OUTLIER_RULE
    scale = mad / 0.6745
    if mad == 0:
        mean_ad = float(deviations.mean())
        scale, rule = mean_ad * 1.253314, OUTLIER_RULE + "; MAD is 0, so 1.253314 * mean absolute deviation is used"
    if scale == 0:
        return {"rule": rule, "count": 0, "ratio": 0.0, "lower": None, "upper": None}
    lower, upper = median - 3.5 * scale, median + 3.5 * scale
    count = int(np.searchsorted(xs, lower, side="left") + len(xs) - np.searchsorted(xs, upper, side="right"))
    return {"rule": rule, "count": count, "ratio": count / len(xs), "lower": lower, "upper": upper}


def _numeric_stats(values: np.ndarray, config: ProfileConfig, *, integral: bool) -> dict[str, Any]:
    xs, infinite = _sorted_finite(values)
    if len(xs) == 0:
        return {"distinct": 0, "top_values": [], "numeric": None, "infinite": infinite}
    uniq, counts = _runs(xs)
    median = _quantile_sorted(xs, 0.5)
    skew, kurt = _moments(xs)
    stats = {
        "min": float(xs[0]),
        "max": float(xs[-1]),
        "mean": float(xs.mean()),
        "median": median,
        "std": float(xs.std(ddof=1)) if len(xs) > 1 else None,
        "quantiles": {f"p{round(q * 100)}": _quantile_sorted(xs, q) for q in QUANTILES},
        "skew": skew,
        "kurtosis": kurt,
        "zeros": int(np.searchsorted(xs, 0, side="right") - np.searchsorted(xs, 0, side="left")),
        "negatives": int(np.searchsorted(xs, 0, side="left")),
        "histogram": _histogram_sorted(xs, config.histogram_bins, integral),
        "outliers": _outliers(xs, median),
    }
    top = _top(uniq.astype(np.int64) if integral else uniq, counts, config.top_k, len(values))
    return {"distinct": len(uniq), "top_values": top, "numeric": stats, "infinite": infinite}


def _datetime_stats(values: np.ndarray, config: ProfileConfig) -> dict[str, Any]:
    xs, _ = _sorted_finite(values)
    if len(xs) == 0:
        return {"distinct": 0, "top_values": [], "datetime": None}
    uniq, counts = _runs(xs)

    def iso(ns: float) -> str:
        return pd.Timestamp(int(ns)).isoformat()

    hist = _histogram_sorted(xs, config.histogram_bins, integral=False)
    stats = {
        "min": iso(xs[0]),
        "max": iso(xs[-1]),
        "median": iso(_quantile_sorted(xs, 0.5)),
        "quantiles": {f"p{round(q * 100)}": iso(_quantile_sorted(xs, q)) for q in QUANTILES},
        "range_days": (xs[-1] - xs[0]) / 86_400e9,
        "histogram": {"edges": [iso(e) for e in hist["edges"]], "counts": hist["counts"]},
    }
    top = _top(uniq, counts, config.top_k, len(values))
    for item in top:
        item["value"] = iso(item["value"])
    return {"distinct": len(uniq), "top_values": top, "datetime": stats}


def _stored_value_stats(s: pd.Series, config: ProfileConfig) -> dict[str, Any]:
    """Distinct and top values of a label column stored as numbers or dates (from the sorted values)."""
    is_date = ptypes.is_datetime64_any_dtype(s.dtype)
    values = _datetime_ns(s) if is_date else s.to_numpy(dtype=float, na_value=np.nan)
    xs, _ = _sorted_finite(values)
    uniq, counts = _runs(xs)
    integral = not is_date and len(uniq) > 0 and bool(np.all(uniq == np.round(uniq))) and abs(uniq).max() < 2**53
    top = _top(uniq.astype(np.int64) if integral or is_date else uniq, counts, config.top_k, len(values))
    if is_date:
        for item in top:
            item["value"] = pd.Timestamp(item["value"]).isoformat()
    return {"distinct": len(uniq), "top_values": top}


def _label_stats(labels: _Labels, config: ProfileConfig, total: int) -> dict[str, Any]:
    if labels.uniques is None or labels.counts is None:
        return {"distinct": 0, "top_values": []}
    present = labels.counts > 0
    values = np.asarray(labels.uniques, dtype=object)
    out: dict[str, Any] = {
        "distinct": int(present.sum()),
        "top_values": _top(values, labels.counts, config.top_k, total),
    }
    if labels.is_string and len(values):
        lengths = _uniques_as_text(labels).str.len().to_numpy(dtype=float)
        weights = labels.counts
        if weights.sum():
            out["text"] = {
                "min_length": float(lengths[present].min()),
                "max_length": float(lengths[present].max()),
                "mean_length": float(np.average(lengths, weights=weights)),
            }
    return out


def _boolean_counts(s: pd.Series, labels: _Labels) -> dict[str, int]:
    converted, _ = cast_series(pd.Series(labels.uniques) if labels.uniques is not None else s, "boolean")
    flags = converted.to_numpy(dtype=object, na_value=None)
    counts = labels.counts if labels.counts is not None else np.ones(len(flags), dtype=np.int64)
    return {"true": int(counts[flags == True].sum()), "false": int(counts[flags == False].sum())}  # noqa: E712


# --------------------------------------------------------------------------------------------------- sample
def _encode_sample(ctx: _Context) -> None:
    """One seeded random sample (in random order, so any prefix is a random sample too), encoded as floats:
    numbers as they are, dates as seconds, labels as codes of their most frequent levels (rarer ones pooled)."""
    n = len(ctx.df)
    size = min(n, max(ctx.config.sample_size, ctx.config.model_sample, ctx.config.vif_sample))
    ctx.sample_index = np.random.default_rng(ctx.seed).permutation(n)[:size]
    sample = ctx.df.take(ctx.sample_index)
    for name in ctx.df.columns:
        entry = ctx.schema.get(name) or {"type": "text"}
        type_ = entry["type"]
        s = sample[name]
        labels = _label_counts(s)
        values = _typed_values(s, type_, entry, labels)
        if values is not None:
            ctx.encoded[name] = values / 1e9 if type_ == "datetime" else values
        elif labels.codes is not None:
            ctx.encoded[name] = _pooled_codes(labels, 254)
        elif ptypes.is_numeric_dtype(s.dtype):
            ctx.encoded[name] = s.to_numpy(dtype=float, na_value=np.nan)


def _pooled_codes(labels: _Labels, max_levels: int) -> np.ndarray:
    """Codes ranked by frequency (0 = most frequent), levels past ``max_levels`` pooled into one, NaN = missing."""
    counts, codes = labels.counts, labels.codes
    assert codes is not None
    if counts is None or len(counts) == 0:
        return np.full(len(codes), np.nan)
    rank = np.empty(len(counts), dtype=np.int64)
    rank[np.argsort(-counts, kind="stable")] = np.arange(len(counts))
    rank = np.minimum(rank, max_levels)
    out = np.where(codes >= 0, rank[np.maximum(codes, 0)], -1).astype(float)
    out[codes < 0] = np.nan
    return out


def _feature_names(ctx: _Context, types: frozenset[str]) -> list[str]:
    return [
        name
        for name in ctx.df.columns
        if name in ctx.encoded and (ctx.schema.get(name) or {}).get("type") in types and name != ctx.target
    ]


def _usable(ctx: _Context, name: str) -> bool:
    col = ctx.columns.get(name, {})
    return col.get("distinct", 0) > 1


# --------------------------------------------------------------------------------------------------- correlations
def _pairwise_pearson(x: np.ndarray) -> np.ndarray:
    """Pearson correlation of each column pair over the rows where both are present (matrix products only)."""
    mask = np.isfinite(x)
    m = mask.astype(float)
    centre = np.nanmean(np.where(mask, x, np.nan), axis=0) if mask.any() else np.zeros(x.shape[1])
    x0 = np.where(mask, x - np.nan_to_num(centre)[None, :], 0.0)  # centred first: no cancellation on large values
    n = m.T @ m
    sx = x0.T @ m  # sx[i, j]: sum of column i over rows where j is present
    sxx = (x0 * x0).T @ m
    sxy = x0.T @ x0
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy - sx * sx.T / n
        var_i = sxx - sx * sx / n
        corr = cov / np.sqrt(var_i * var_i.T)
    corr[n < 3] = np.nan
    np.fill_diagonal(corr, 1.0)
    return np.clip(corr, -1.0, 1.0)


def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks per column, NaN kept."""
    return pd.DataFrame(x).rank(method="average").to_numpy()


def _matrix(columns: list[str], values: np.ndarray) -> dict[str, Any]:
    return {"columns": columns, "values": np.round(values, 6).tolist()}


def _correlations(ctx: _Context) -> dict[str, Any]:
    cfg = ctx.config
    numeric = [c for c in _feature_names(ctx, NUMERIC_TYPES | {"boolean"}) if _usable(ctx, c)]
    if ctx.target and ctx.target in ctx.encoded and _usable(ctx, ctx.target):
        numeric.append(ctx.target)
    numeric = numeric[: cfg.max_numeric_columns]
    n = min(cfg.sample_size, len(ctx.sample_index))
    out: dict[str, Any] = {
        "sample_size": n,
        "max_columns": cfg.max_numeric_columns,
        "note": "Pearson on pairwise-complete rows; Spearman ranks each column on its own rows",
    }
    if len(numeric) >= 2:
        x = np.column_stack([ctx.encoded[c][:n] for c in numeric])
        out["pearson"] = _matrix(numeric, _pairwise_pearson(x))
        out["spearman"] = _matrix(numeric, _pairwise_pearson(_ranks(x)))
    labels = [
        c
        for c in ctx.df.columns
        if c in ctx.encoded and _usable(ctx, c) and (ctx.schema.get(c) or {}).get("type") in ("categorical", "boolean")
    ][: cfg.max_categorical_columns]
    if ctx.target and ctx.target not in labels and (ctx.schema.get(ctx.target) or {}).get("type") == "categorical":
        labels.append(ctx.target)
    if len(labels) >= 2:
        codes = {c: _level_codes(ctx.encoded[c][:n], cfg.max_levels) for c in labels}
        out["cramers_v"] = _matrix(labels, _cramers_v_matrix([codes[c] for c in labels]))
    if labels and numeric:
        codes = {c: _level_codes(ctx.encoded[c][:n], cfg.max_levels) for c in labels}
        eta = np.array(
            [[_correlation_ratio(codes[c], ctx.encoded[v][:n]) if c != v else np.nan for v in numeric] for c in labels]
        )
        out["correlation_ratio"] = {"rows": labels, "columns": numeric, "values": np.round(eta, 6).tolist()}
    out["max_levels"] = cfg.max_levels
    return out


def _level_codes(encoded: np.ndarray, max_levels: int) -> np.ndarray:
    """Frequency-ranked codes capped at ``max_levels`` (the last level pools the rest); missing is its own level."""
    codes = np.where(np.isnan(encoded), max_levels + 1, np.minimum(encoded, max_levels))
    return codes.astype(np.int64)


def _cramers_v(a: np.ndarray, b: np.ndarray) -> float:
    """Bias-corrected Cramér's V (Bergsma 2013) from the contingency table of two code arrays."""
    _, a = np.unique(a, return_inverse=True)
    _, b = np.unique(b, return_inverse=True)
    ka, kb = int(a.max()) + 1, int(b.max()) + 1
    n = len(a)
    if ka < 2 or kb < 2 or n < 2:
        return float("nan")
    table = np.bincount(a * kb + b, minlength=ka * kb).reshape(ka, kb).astype(float)
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    phi2 = max(0.0, chi2 / n - (ka - 1) * (kb - 1) / (n - 1))
    kr = ka - (ka - 1) ** 2 / (n - 1)
    kc = kb - (kb - 1) ** 2 / (n - 1)
    denom = min(kr - 1, kc - 1)
    return math.sqrt(phi2 / denom) if denom > 0 else float("nan")


def _cramers_v_matrix(codes: list[np.ndarray]) -> np.ndarray:
    k = len(codes)
    out = np.eye(k)
    for i in range(k):
        for j in range(i + 1, k):
            out[i, j] = out[j, i] = _cramers_v(codes[i], codes[j])
    return out


def _correlation_ratio(codes: np.ndarray, values: np.ndarray) -> float:
    """η: sqrt(between-group variance / total variance) of ``values`` grouped by ``codes``."""
    ok = np.isfinite(values)
    codes, values = codes[ok], values[ok]
    if len(values) < 2:
        return float("nan")
    counts = np.bincount(codes).astype(float)
    sums = np.bincount(codes, weights=values)
    mean = values.mean()
    total = float(((values - mean) ** 2).sum())
    if total == 0:
        return float("nan")
    present = counts > 0
    between = float((counts[present] * (sums[present] / counts[present] - mean) ** 2).sum())
    return math.sqrt(min(1.0, between / total))


# --------------------------------------------------------------------------------------------------- target
@dataclass(frozen=True)
class _Target:
    name: str
    problem_type: str  # binary | multiclass | regression | unsupported
    y: np.ndarray  # sample rows with a target: class codes or floats
    rows: np.ndarray  # positions in the encoded sample
    classes: list[Any]


def _problem_type(type_: str, distinct: int) -> str:
    if distinct < 2:
        return "unsupported"
    if type_ == "boolean" or distinct == 2:
        return "binary"
    if type_ == "integer":
        return "multiclass" if distinct <= 20 else "regression"
    if type_ == "numeric":
        return "regression"
    if type_ in ("categorical", "text", "identifier"):
        return "multiclass" if distinct <= 100 else "unsupported"
    return "unsupported"


def _target_analysis(ctx: _Context) -> dict[str, Any]:
    name = ctx.target
    assert name is not None
    col = ctx.columns[name]
    problem = _problem_type(col["type"], col["distinct"])
    out: dict[str, Any] = {
        "name": name,
        "type": col["type"],
        "problem_type": problem,
        "missing": col["missing"],
        "guess_reason": _problem_reason(col["type"], col["distinct"], problem),
    }
    if problem in ("binary", "multiclass"):
        counts = _class_counts(ctx.df[name])
        sizes = [c for _, c in counts]
        total = sum(sizes)
        out["classes"] = [
            {"value": _display(v), "count": c, "ratio": c / total if total else 0.0} for v, c in counts[:100]
        ]
        out["class_count"] = len(counts)
        smallest, largest = (min(sizes), max(sizes)) if sizes else (0, 0)
        out["imbalance_ratio"] = largest / smallest if smallest else None
        out["minority_ratio"] = smallest / total if total else None
    elif problem == "regression":
        num = col.get("numeric") or {}
        out["distribution"] = {
            k: num.get(k) for k in ("min", "max", "mean", "median", "std", "skew", "kurtosis", "quantiles", "histogram")
        }
    return out


def _problem_reason(type_: str, distinct: int, problem: str) -> str:
    if problem == "unsupported":
        return f"a {type_} column with {distinct} distinct values cannot be a prediction target here"
    return f"{type_} column with {distinct} distinct values"


def _class_counts(s: pd.Series) -> list[tuple[Any, int]]:
    counts = s.value_counts(dropna=True, sort=True)
    return [(k, int(v)) for k, v in counts.items()]


def _target_in_sample(ctx: _Context, target: dict[str, Any]) -> _Target | None:
    name = target["name"]
    problem = target["problem_type"]
    if problem == "unsupported" or name not in ctx.encoded:
        return None
    raw = ctx.encoded[name]
    rows = np.flatnonzero(np.isfinite(raw))
    if len(rows) < 20:
        return None
    y = raw[rows]
    if problem == "regression":
        return _Target(name, problem, y, rows, [])
    classes, codes = np.unique(y, return_inverse=True)
    if problem == "multiclass" and len(classes) > 20:  # rare classes pooled for the models
        codes = np.minimum(codes, 20)  # codes are frequency ranks for label columns
    if len(np.unique(codes)) < 2:
        return None
    return _Target(
        name, "binary" if len(np.unique(codes)) == 2 else "multiclass", codes.astype(np.int64), rows, classes.tolist()
    )


# --------------------------------------------------------------------------------------------------- leakage
def _leakage_bins(values: np.ndarray, type_: str, n_bins: int, max_levels: int = 255) -> np.ndarray:
    """Bin codes: quantile bins for numbers, dates and numeric ids; the ``max_levels`` most frequent labels
    (the rest pooled); missing values get the last bin."""
    finite = np.isfinite(values)
    if type_ in NUMERIC_TYPES or type_ in ("datetime", "identifier"):
        edges = (
            np.unique(np.quantile(values[finite], np.linspace(0, 1, n_bins + 1)[1:-1])) if finite.any() else np.zeros(0)
        )
        bins = np.searchsorted(edges, values, side="right")
        top = len(edges) + 1
    else:
        _, inverse, counts = np.unique(values[finite], return_inverse=True, return_counts=True)
        rank = np.empty(len(counts), dtype=np.int64)
        rank[np.argsort(-counts, kind="stable")] = np.arange(len(counts))
        bins = np.zeros(len(values), dtype=np.int64)
        bins[finite] = np.minimum(rank[inverse], max_levels)
        top = max_levels + 1
    return np.where(finite, bins, top).astype(np.int64)


def _oof_predictions(bins: np.ndarray, y: np.ndarray, folds: np.ndarray, n_folds: int, n_classes: int) -> np.ndarray:
    """Out-of-fold target means per bin (smoothed towards the training prior), one column per class."""
    nb = int(bins.max()) + 1
    key = folds * nb + bins
    count = np.bincount(key, minlength=n_folds * nb).reshape(n_folds, nb).astype(float)
    if n_classes == 0:
        sums = np.bincount(key, weights=y, minlength=n_folds * nb).reshape(n_folds, nb)[..., None]
        targets = y[:, None]
    else:
        sums = (
            np.bincount(key * n_classes + y, minlength=n_folds * nb * n_classes)
            .reshape(n_folds, nb, n_classes)
            .astype(float)
        )
        targets = np.eye(n_classes)[y]
    train_count = count.sum(0) - count
    train_sums = sums.sum(0) - sums
    prior = (targets.sum(0) - np.stack([targets[folds == f].sum(0) for f in range(n_folds)])) / np.maximum(
        (len(y) - np.bincount(folds, minlength=n_folds))[:, None], 1
    )
    smoothing = 1.0
    pred = (train_sums + smoothing * prior[:, None, :]) / (train_count[..., None] + smoothing)
    return pred[folds, bins]


def _score(problem: str, y: np.ndarray, pred: np.ndarray) -> tuple[float, str]:
    """Predictive power in [0, 1]: 2·AUC − 1 for classification (macro one-vs-rest), R² for regression."""
    from sklearn.metrics import r2_score, roc_auc_score

    if problem == "regression":
        return max(0.0, float(r2_score(y, pred[:, 0]))), "R²"
    if problem == "binary":
        auc = float(roc_auc_score(y, pred[:, 1]))
    else:
        present = np.unique(y)
        probs = pred[:, present] / pred[:, present].sum(1, keepdims=True)
        if len(present) == 2:
            auc = float(roc_auc_score(y == present[1], probs[:, 1]))
        else:
            auc = float(roc_auc_score(np.searchsorted(present, y), probs, multi_class="ovr", average="macro"))
    return max(0.0, 2.0 * auc - 1.0), "2·AUC−1"


def _leakage(ctx: _Context, target: dict[str, Any]) -> dict[str, Any]:
    cfg = ctx.config
    tgt = _target_in_sample(ctx, target)
    if tgt is None:
        return {"skipped": "the target is not usable for a model (too few rows or classes, or unsupported type)"}
    rows = tgt.rows[tgt.rows < cfg.sample_size]
    y = tgt.y[: len(rows)]
    folds = np.random.default_rng(ctx.seed + 1).permutation(len(rows)) % cfg.leakage_folds
    n_classes = 0 if tgt.problem_type == "regression" else int(y.max()) + 1
    features = []
    for name in ctx.df.columns:
        if name == tgt.name or name not in ctx.encoded or not _usable(ctx, name):
            continue
        type_ = (ctx.schema.get(name) or {}).get("type", "text")
        bins = _leakage_bins(ctx.encoded[name][rows], type_, cfg.leakage_bins)
        pred = _oof_predictions(bins, y, folds, cfg.leakage_folds, n_classes)
        score, metric = _score(tgt.problem_type, y, pred)
        features.append(
            {"column": name, "score": round(score, 6), "metric": metric, "flag": score >= cfg.leakage_threshold}
        )
    features.sort(key=lambda f: -f["score"])
    return {
        "method": (
            f"single-feature model per column: {cfg.leakage_bins} quantile bins for numbers, dates and numeric "
            "ids, the 255 most frequent levels for labels (the rest pooled), out-of-fold smoothed target "
            f"mean, {cfg.leakage_folds}-fold cross-validation"
        ),
        "sample_size": len(rows),
        "threshold": cfg.leakage_threshold,
        "problem_type": tgt.problem_type,
        "features": features,
    }


# --------------------------------------------------------------------------------------------------- quick model
def _model_matrix(ctx: _Context, rows: np.ndarray) -> tuple[np.ndarray, list[str], list[int], list[dict[str, str]]]:
    used: list[str] = []
    categorical: list[int] = []
    excluded: list[dict[str, str]] = []
    for name in ctx.df.columns:
        if name == ctx.target or name not in ctx.encoded:
            continue
        type_ = (ctx.schema.get(name) or {}).get("type", "text")
        if type_ in ("identifier", "text"):
            excluded.append({"column": name, "reason": f"{type_} columns are not used by the quick model"})
            continue
        if not _usable(ctx, name):
            excluded.append({"column": name, "reason": "constant or empty"})
            continue
        if type_ == "categorical":
            categorical.append(len(used))
        used.append(name)
    x = np.column_stack([ctx.encoded[c][rows] for c in used]) if used else np.zeros((len(rows), 0))
    return x, used, categorical, excluded


def _quick_model(ctx: _Context, target: dict[str, Any]) -> dict[str, Any]:
    cfg = ctx.config
    tgt = _target_in_sample(ctx, target)
    if tgt is None:
        return {"skipped": "the target is not usable for a model (too few rows or classes, or unsupported type)"}
    keep = tgt.rows < cfg.model_sample
    rows, y = tgt.rows[keep], tgt.y[keep]
    x, used, categorical, excluded = _model_matrix(ctx, rows)
    if not used:
        return {"skipped": "no usable feature columns", "excluded": excluded}
    folds = _folds(y, tgt.problem_type, cfg.model_folds, ctx.seed)
    scores, importance, algorithm = _cross_validate(x, y, tgt.problem_type, folds, categorical, cfg, ctx.seed)
    total = float(importance.sum()) or 1.0
    ranked = sorted(zip(used, importance / total, strict=True), key=lambda t: -t[1])
    metric = {"binary": "ROC AUC", "multiclass": "accuracy", "regression": "R²"}[tgt.problem_type]
    return {
        "algorithm": algorithm,
        "metric": metric,
        "score": float(np.mean(scores)),
        "score_std": float(np.std(scores)),
        "fold_scores": scores,
        "folds": cfg.model_folds,
        "sample_size": len(rows),
        "problem_type": tgt.problem_type,
        "baseline": _baseline(y, tgt.problem_type),
        "features_used": used,
        "excluded": excluded,
        "feature_importance": [{"column": c, "importance": float(v)} for c, v in ranked],
        "importance_type": "total gain, normalised to sum to 1",
    }


def _folds(y: np.ndarray, problem: str, k: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed + 2)
    if problem == "regression":
        return rng.permutation(len(y)) % k
    order = np.lexsort((rng.random(len(y)), y))  # stratified: deal each class round-robin over the folds
    folds = np.empty(len(y), dtype=np.int64)
    folds[order] = np.arange(len(y)) % k
    return folds


def _baseline(y: np.ndarray, problem: str) -> dict[str, Any]:
    if problem == "regression":
        return {"description": "predict the mean", "score": 0.0}
    if problem == "binary":
        return {"description": "constant prediction", "score": 0.5}
    return {"description": "predict the majority class", "score": float(np.bincount(y).max() / len(y))}


def _cross_validate(
    x: np.ndarray, y: np.ndarray, problem: str, folds: np.ndarray, categorical: list[int], cfg: ProfileConfig, seed: int
) -> tuple[list[float], np.ndarray, str]:
    scores: list[float] = []
    importance = np.zeros(x.shape[1])
    algorithm = "LightGBM"
    for f in range(cfg.model_folds):
        train, test = folds != f, folds == f
        if problem != "regression" and len(np.unique(y[train])) < 2:
            continue
        try:
            pred, imp = _fit_lightgbm(x[train], y[train], x[test], problem, categorical, cfg, seed)
        except ImportError:
            algorithm = "HistGradientBoosting"
            pred, imp = _fit_hgb(x[train], y[train], x[test], problem, categorical, seed)
        scores.append(_model_score(problem, y[test], pred))
        importance += imp
    return scores, importance, algorithm


def _fit_lightgbm(
    x: np.ndarray,
    y: np.ndarray,
    x_test: np.ndarray,
    problem: str,
    categorical: list[int],
    cfg: ProfileConfig,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    import lightgbm as lgb

    n_classes = int(y.max()) + 1 if problem == "multiclass" else 1
    # One thread: OpenMP threads spin-wait and slow down badly when Celery workers share the cores.
    params = {
        "objective": problem,
        "num_leaves": 31,
        "learning_rate": 0.1,
        "min_data_in_leaf": 20,
        "max_bin": 63,
        "feature_fraction": 0.9,
        "num_threads": 1,
        "verbose": -1,
        "seed": seed,
        "deterministic": True,
        "force_col_wise": True,
    }
    if problem == "multiclass":
        params["num_class"] = n_classes
    data = lgb.Dataset(x, label=y, categorical_feature=categorical or "auto", free_raw_data=True)
    booster = lgb.train(params, data, num_boost_round=cfg.model_rounds)
    pred = booster.predict(x_test)
    return np.asarray(pred), booster.feature_importance(importance_type="gain")


def _fit_hgb(
    x: np.ndarray, y: np.ndarray, x_test: np.ndarray, problem: str, categorical: list[int], seed: int
) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    mask = np.zeros(x.shape[1], dtype=bool)
    mask[categorical] = True
    cls = HistGradientBoostingRegressor if problem == "regression" else HistGradientBoostingClassifier
    model = cls(max_iter=100, categorical_features=mask, random_state=seed).fit(x, y)
    pred = model.predict(x_test) if problem == "regression" else model.predict_proba(x_test)
    if problem == "binary":
        pred = pred[:, 1]
    return pred, np.zeros(x.shape[1])


def _model_score(problem: str, y: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import r2_score, roc_auc_score

    if problem == "regression":
        return float(r2_score(y, pred))
    if problem == "binary":
        return float(roc_auc_score(y, pred)) if len(np.unique(y)) == 2 else float("nan")
    return float((pred.argmax(1) == y).mean())


# --------------------------------------------------------------------------------------------------- anomalies
def _anomalies(ctx: _Context) -> dict[str, Any]:
    cfg = ctx.config
    n = min(cfg.anomaly_sample, len(ctx.sample_index))
    names = [
        c
        for c in ctx.df.columns
        if c in ctx.encoded and _usable(ctx, c) and (ctx.schema.get(c) or {}).get("type") not in ("identifier", "text")
    ]
    if n < 50 or not names:
        return {"skipped": "fewer than 50 rows or no usable columns", "sample_size": n}
    from sklearn.ensemble import IsolationForest

    x = np.column_stack([ctx.encoded[c][:n] for c in names])
    medians = np.nanmedian(np.where(np.isfinite(x), x, np.nan), axis=0)
    x = np.where(np.isfinite(x), x, np.nan_to_num(medians)[None, :])
    forest = IsolationForest(n_estimators=100, max_samples=min(256, n), random_state=ctx.seed, n_jobs=1).fit(x)
    scores = -forest.score_samples(x)  # higher is more anomalous
    median = float(np.median(scores))
    mad = float(np.median(np.abs(scores - median))) or float(np.std(scores)) or 1.0
    cutoff = median + 3.5 * mad / 0.6745
    flagged = int((scores > cutoff).sum())
    top = np.argsort(-scores, kind="stable")[: cfg.anomaly_examples]
    positions = ctx.sample_index[:n][top]
    rows = ctx.df.iloc[positions]
    examples = [
        {"row": _display(index), "score": float(scores[t]), "values": {str(k): _display(v) for k, v in row.items()}}
        for t, (index, row) in zip(top, rows.iterrows(), strict=True)
    ]
    return {
        "method": "IsolationForest (100 trees, 256 rows each); labels as frequency-rank codes, missing as the "
        "column median",
        "sample_size": n,
        "features": names,
        "score_cutoff": cutoff,
        "count_rule": "anomaly score above median + 3.5 * MAD / 0.6745 of the sample's scores",
        "anomaly_count": flagged,
        "anomaly_ratio": flagged / n,
        "examples": examples,
    }


# --------------------------------------------------------------------------------------------------- VIF
def _multicollinearity(ctx: _Context) -> dict[str, Any]:
    cfg = ctx.config
    names = [c for c in _feature_names(ctx, NUMERIC_TYPES) if _usable(ctx, c)][: cfg.max_numeric_columns]
    n = min(cfg.vif_sample, len(ctx.sample_index))
    if len(names) < 2:
        return {"skipped": "fewer than two numeric feature columns", "sample_size": n, "columns": []}
    x = np.column_stack([ctx.encoded[c][:n] for c in names])
    complete = np.isfinite(x).all(1)
    method = "rows with all values present"
    if complete.sum() < max(50, 5 * len(names)):
        medians = np.nanmedian(np.where(np.isfinite(x), x, np.nan), axis=0)
        x = np.where(np.isfinite(x), x, medians[None, :])
        method = "missing values replaced by the column median"
    else:
        x = x[complete]
    vif = variance_inflation_factors(x)
    cols = [
        {"column": c, "vif": min(float(v), 1e9), "perfect": not math.isfinite(float(v)) or v > 1e9}
        for c, v in zip(names, vif, strict=True)
    ]
    return {
        "method": f"VIF_j = 1 / (1 - R²_j) from the correlation matrix ({method}); 1e9 means perfect collinearity",
        "sample_size": len(x),
        "columns": cols,
    }


def variance_inflation_factors(x: np.ndarray) -> np.ndarray:
    """VIF of each column: R²_j from regressing column j on the others, solved on the correlation matrix."""
    std = x.std(0)
    ok = std > 0
    out = np.full(x.shape[1], np.nan)
    if ok.sum() < 2:
        out[ok] = 1.0
        return out
    z = (x[:, ok] - x[:, ok].mean(0)) / std[ok]
    corr = (z.T @ z) / len(z)
    k = corr.shape[0]
    vif = np.empty(k)
    for j in range(k):
        others = np.delete(np.arange(k), j)
        beta, *_ = np.linalg.lstsq(corr[np.ix_(others, others)], corr[others, j], rcond=1e-12)
        r2 = float(corr[others, j] @ beta)
        vif[j] = np.inf if r2 >= 1 - 1e-12 else 1.0 / (1.0 - r2)
    out[ok] = vif
    return out


# --------------------------------------------------------------------------------------------------- warnings
def _warn(severity: str, code: str, column: str | None, message: str) -> dict[str, Any]:
    return {"severity": severity, "code": code, "column": column, "message": message}


def _warnings(ctx: _Context, report: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    summary = report["summary"]
    if summary["duplicate_rows"]:
        ratio = summary["duplicate_ratio"]
        out.append(
            _warn(
                "medium" if ratio >= 0.05 else "low",
                "duplicates",
                None,
                f"{summary['duplicate_rows']:,} duplicate rows ({ratio:.1%}).",
            )
        )
    for col in report["columns"]:
        out.extend(_column_warnings(col, summary["rows"]))
    out.extend(_correlation_warnings(report.get("correlations") or {}, ctx.target))
    out.extend(_target_warnings(report))
    for item in (report.get("multicollinearity") or {}).get("columns", []):
        if item["perfect"]:
            out.append(
                _warn(
                    "high",
                    "perfect_collinearity",
                    item["column"],
                    f"{item['column']} is a linear combination of other numeric columns.",
                )
            )
        elif item["vif"] is not None and item["vif"] > 10:
            out.append(
                _warn(
                    "medium",
                    "high_vif",
                    item["column"],
                    f"VIF {item['vif']:.1f} (> 10): strongly explained by other numeric columns.",
                )
            )
    order = {"high": 0, "medium": 1, "low": 2}
    out.sort(key=lambda w: order[w["severity"]])
    return out


def _column_warnings(col: dict[str, Any], rows: int) -> list[dict[str, Any]]:
    name, out = col["name"], []
    ratio = col["missing_ratio"]
    if rows and col["missing"] == rows:
        return [_warn("high", "empty_column", name, f"{name} has no values.")]
    if ratio >= 0.5:
        out.append(_warn("high", "high_missing", name, f"{ratio:.1%} of {name} is missing."))
    elif ratio >= 0.2:
        out.append(_warn("medium", "high_missing", name, f"{ratio:.1%} of {name} is missing."))
    elif ratio >= 0.1:
        out.append(_warn("low", "missing", name, f"{ratio:.1%} of {name} is missing."))
    if col["distinct"] == 1:
        out.append(_warn("high", "constant", name, f"{name} has a single value; it carries no information."))
    if col["type"] == "identifier":
        out.append(_warn("low", "identifier", name, f"{name} looks like an identifier; leave it out of models."))
    if col["type"] == "categorical" and (col["distinct"] > 1000 or col["distinct_ratio"] > 0.5):
        out.append(_warn("medium", "high_cardinality", name, f"{name} has {col['distinct']:,} distinct values."))
    if col.get("invalid"):
        out.append(
            _warn(
                "medium",
                "invalid_values",
                name,
                f"{col['invalid']:,} values of {name} are not valid {col['type']} values.",
            )
        )
    blanks = col.get("empty_strings", 0) + col.get("whitespace_only", 0)
    if blanks:
        out.append(_warn("low", "blank_strings", name, f"{blanks:,} values of {name} are empty or only spaces."))
    num = col.get("numeric") or {}
    if num.get("skew") is not None and abs(num["skew"]) > 2:
        out.append(_warn("low", "skewed", name, f"{name} is highly skewed (skew {num['skew']:.1f})."))
    if num.get("outliers", {}).get("ratio", 0) > 0.05:
        out.append(_warn("low", "outliers", name, f"{num['outliers']['ratio']:.1%} of {name} are outliers."))
    if col.get("infinite"):
        out.append(_warn("medium", "infinite_values", name, f"{name} has {col['infinite']:,} infinite values."))
    return out


def _correlation_warnings(corr: dict[str, Any], target: str | None) -> list[dict[str, Any]]:
    """Feature pairs with |Pearson| >= 0.95 (pairs with the target are the leakage check's business)."""
    pearson = corr.get("pearson")
    if not pearson:
        return []
    out: list[dict[str, Any]] = []
    cols, values = pearson["columns"], pearson["values"]
    for i in range(len(cols)):
        for j in range(i + 1, len(cols)):
            v = values[i][j]
            if target in (cols[i], cols[j]):
                continue
            if v is not None and math.isfinite(v) and abs(v) >= 0.95:
                out.append(
                    _warn(
                        "medium",
                        "high_correlation",
                        cols[i],
                        f"{cols[i]} and {cols[j]} are highly correlated (Pearson {v:.3f}).",
                    )
                )
    return out


def _target_warnings(report: dict[str, Any]) -> list[dict[str, Any]]:
    target = report.get("target")
    out: list[dict[str, Any]] = []
    if not target:
        return out
    name = target["name"]
    if target["problem_type"] == "unsupported":
        out.append(_warn("high", "target_unsupported", name, target["guess_reason"] + "."))
    if target.get("missing"):
        out.append(_warn("medium", "target_missing", name, f"{target['missing']:,} rows have no target value."))
    minority = target.get("minority_ratio")
    if minority is not None and minority < 0.1:
        out.append(
            _warn(
                "high" if minority < 0.01 else "medium",
                "imbalance",
                name,
                f"The smallest class is {minority:.1%} of rows (imbalance ratio {target['imbalance_ratio']:.1f}).",
            )
        )
    for feature in (report.get("leakage") or {}).get("features", []):
        if feature["flag"]:
            out.append(
                _warn(
                    "high",
                    "target_leakage",
                    feature["column"],
                    f"{feature['column']} alone predicts {name} almost perfectly "
                    f"({feature['metric']} {feature['score']:.3f}); check it is known at prediction time.",
                )
            )
    return out
