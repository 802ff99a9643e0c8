"""Anomalous rows (isolation forest on the shared sample) and multicollinearity (variance inflation factors)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from apps.datasets.profiling.base import NUMERIC_TYPES, Context, display_value
from apps.datasets.profiling.correlations import feature_names, usable


# --------------------------------------------------------------------------------------------------- anomalies
def anomaly_section(ctx: Context) -> dict[str, Any]:
    cfg = ctx.config
    n = min(cfg.anomaly_sample, len(ctx.sample_index))
    names = [
        c
        for c in ctx.df.columns
        if c in ctx.encoded and usable(ctx, c) and (ctx.schema.get(c) or {}).get("type") not in ("identifier", "text")
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
        {
            "row": display_value(index),
            "score": float(scores[t]),
            "values": {str(k): display_value(v) for k, v in row.items()},
        }
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
def multicollinearity_section(ctx: Context) -> dict[str, Any]:
    cfg = ctx.config
    names = [c for c in feature_names(ctx, NUMERIC_TYPES) if usable(ctx, c)][: cfg.max_numeric_columns]
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
