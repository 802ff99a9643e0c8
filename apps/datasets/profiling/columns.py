"""Per-column statistics: one pass per column (numbers sorted once, strings factorised once)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from apps.datasets.inference import cast_series, factorize
from apps.datasets.profiling.base import NUMERIC_TYPES, OUTLIER_RULE, QUANTILES, Context, ProfileConfig, display_value
from apps.datasets.profiling.summary import column_hash


# --------------------------------------------------------------------------------------------------- columns
def column_sections(ctx: Context, start: float, end: float) -> list[dict[str, Any]]:
    out = []
    names = list(ctx.df.columns)
    for i, name in enumerate(names):
        ctx.progress(start + (end - start) * i / max(len(names), 1), f"Profiling column {name}")
        entry = ctx.schema.get(name) or {"type": "text", "pandas_dtype": str(ctx.df[name].dtype)}
        column = _profile_column(ctx, name, entry)
        ctx.columns[name] = column
        out.append(column)
    return out


def _column_sample(ctx: Context, s: pd.Series) -> tuple[pd.Series, bool]:
    limit = ctx.config.stats_exact_rows
    if len(s) <= limit:
        return s, True
    idx = np.sort(np.random.default_rng(ctx.seed).choice(len(s), size=limit, replace=False))
    return s.iloc[idx], False


def _profile_column(ctx: Context, name: str, entry: dict[str, Any]) -> dict[str, Any]:
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
    labels = label_counts(s)
    col.update(_string_checks(labels))
    col.update(_invalid_values(ctx, name, type_, entry, labels))
    values = typed_values(s, type_, entry, labels)
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
        col["distinct"] = int(pd.unique(column_hash(full)[full.notna().to_numpy()]).size)
        col["distinct_note"] = (
            "statistics from a sample; distinct counted on all rows through 64-bit value hashes "
            "(approximate: two values could share a hash)"
        )
    present = n - missing
    col["distinct_ratio"] = col["distinct"] / present if present else 0.0
    col["is_unique"] = bool(present and col["distinct"] == present and exact)
    return col


@dataclass(frozen=True)
class Labels:
    """Factorised column: distinct values (``uniques``), their counts and each row's code (-1 = missing)."""

    codes: np.ndarray | None
    uniques: pd.Index | None
    counts: np.ndarray | None
    is_string: bool


def label_counts(s: pd.Series) -> Labels:
    """Factorise strings, categoricals, booleans and objects (numbers and dates are sorted instead)."""
    dtype = s.dtype
    is_string = ptypes.is_string_dtype(dtype) or ptypes.is_object_dtype(dtype)
    if not (is_string or isinstance(dtype, pd.CategoricalDtype) or ptypes.is_bool_dtype(dtype)):
        return Labels(None, None, None, False)
    if isinstance(dtype, pd.CategoricalDtype):
        codes = s.cat.codes.to_numpy()
        uniques = s.cat.categories
        is_string = ptypes.is_string_dtype(uniques.dtype) or ptypes.is_object_dtype(uniques.dtype)
    else:
        codes, uniques = factorize(s)
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques)).astype(np.int64)
    return Labels(codes, pd.Index(uniques), counts, is_string)


def _uniques_as_text(labels: Labels) -> pd.Series:
    return pd.Series(labels.uniques).astype("str")


def _string_checks(labels: Labels) -> dict[str, Any]:
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


def _invalid_values(ctx: Context, name: str, type_: str, entry: dict[str, Any], labels: Labels) -> dict[str, Any]:
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
    examples = [display_value(v) for v in np.asarray(labels.uniques, dtype=object)[failed][order]]
    return {"invalid": int(labels.counts[failed].sum()), "invalid_examples": examples}


def typed_values(s: pd.Series, type_: str, entry: dict[str, Any], labels: Labels) -> np.ndarray | None:
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
        {
            "value": display_value(values[i]),
            "count": int(counts[i]),
            "ratio": float(counts[i]) / total if total else 0.0,
        }
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


def _label_stats(labels: Labels, config: ProfileConfig, total: int) -> dict[str, Any]:
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


def _boolean_counts(s: pd.Series, labels: Labels) -> dict[str, int]:
    converted, _ = cast_series(pd.Series(labels.uniques) if labels.uniques is not None else s, "boolean")
    flags = converted.to_numpy(dtype=object, na_value=None)
    counts = labels.counts if labels.counts is not None else np.ones(len(flags), dtype=np.int64)
    return {"true": int(counts[flags == True].sum()), "false": int(counts[flags == False].sum())}  # noqa: E712
