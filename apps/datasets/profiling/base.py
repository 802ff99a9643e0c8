"""The report's configuration, the context every section reads, and JSON conversion."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

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
class Context:
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


def timed(ctx: Context, name: str, fn: Callable[[], Any]) -> Any:
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


def display_value(value: Any, limit: int = 200) -> Any:
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
