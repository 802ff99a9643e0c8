"""The shared encoded sample and the pairwise sections: Pearson, Spearman, Cramér's V, correlation ratio."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from apps.datasets.profiling.base import NUMERIC_TYPES, Context
from apps.datasets.profiling.columns import Labels, label_counts, typed_values


# --------------------------------------------------------------------------------------------------- sample
def encode_sample(ctx: Context) -> None:
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
        labels = label_counts(s)
        values = typed_values(s, type_, entry, labels)
        if values is not None:
            ctx.encoded[name] = values / 1e9 if type_ == "datetime" else values
        elif labels.codes is not None:
            ctx.encoded[name] = _pooled_codes(labels, 254)
        elif ptypes.is_numeric_dtype(s.dtype):
            ctx.encoded[name] = s.to_numpy(dtype=float, na_value=np.nan)


def _pooled_codes(labels: Labels, max_levels: int) -> np.ndarray:
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


def feature_names(ctx: Context, types: frozenset[str]) -> list[str]:
    return [
        name
        for name in ctx.df.columns
        if name in ctx.encoded and (ctx.schema.get(name) or {}).get("type") in types and name != ctx.target
    ]


def usable(ctx: Context, name: str) -> bool:
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


def correlation_section(ctx: Context) -> dict[str, Any]:
    cfg = ctx.config
    numeric = [c for c in feature_names(ctx, NUMERIC_TYPES | {"boolean"}) if usable(ctx, c)]
    if ctx.target and ctx.target in ctx.encoded and usable(ctx, ctx.target):
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
        if c in ctx.encoded and usable(ctx, c) and (ctx.schema.get(c) or {}).get("type") in ("categorical", "boolean")
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
