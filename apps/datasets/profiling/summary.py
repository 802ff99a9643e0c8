"""The summary section: row and column counts, memory, duplicate rows (by a 64-bit row hash, confirmed exactly)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from apps.datasets.inference import factorize
from apps.datasets.profiling.base import Context, display_value


# --------------------------------------------------------------------------------------------------- summary
def summary_section(ctx: Context) -> dict[str, Any]:
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
            "row": display_value(subset.index[i]),
            "count": int(group_size.get(hashes[candidates][i], 0)),
            "values": {str(k): display_value(v) for k, v in subset.iloc[i].items()},
        }
        for i in firsts
    ]
    return {
        "duplicate_rows": n_dup,
        "duplicate_ratio": n_dup / len(df),
        "duplicate_examples": examples,
        "duplicate_method": "64-bit row hash, confirmed exactly on candidate rows",
    }


def column_hash(s: pd.Series) -> np.ndarray:
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
            out = (out ^ column_hash(df[name])) * multiplier
    return out
