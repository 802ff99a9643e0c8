"""Plain computations of a Clarify report around the metric engine (no Django): which rows are positive (values as
the user wrote them), accuracy, and the before/after comparison of a mitigation."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd


def as_text(value: Any) -> str:
    """A value as a person reads it (1.0 → "1", True → "True", "Yes" → "Yes")."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def positive_mask(series: pd.Series, *, values: Iterable[Any] = (), threshold: float | None = None) -> np.ndarray:
    """Rows whose value counts as positive: above `threshold` for a numeric column, else one of `values`."""
    if threshold is not None:
        numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        return np.nan_to_num(numbers, nan=-np.inf) > float(threshold)
    wanted = list(values)
    text = {as_text(v) for v in wanted}  # "1" names 1 in a column of numbers, 1 names "1" in a column of text
    chosen = [u for u in pd.unique(series.dropna()) if as_text(u) in text]
    return np.array(series.isin(chosen).to_numpy(dtype=bool, na_value=False))


def accuracy(label_positive: np.ndarray, predicted_positive: np.ndarray) -> float | None:
    """The share of rows whose predicted label (positive or not) is the observed one."""
    return float((label_positive == predicted_positive).mean()) if len(label_positive) else None


# --- before / after -----------------------------------------------------------------------------------------


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def deviation(value: float, ideal: float) -> float:
    """How far a metric is from its ideal (∞ for ±∞)."""
    return math.inf if math.isinf(value) else abs(value - ideal)


def compare(
    *,
    before: list[dict[str, Any]],
    after: list[dict[str, Any]],
    before_accuracy: float | None,
    after_accuracy: float | None,
) -> dict[str, Any]:
    """Accuracy and every metric flagged before or after (flag rows of the two reports under the same thresholds),
    side by side: did it move toward its ideal?"""

    def key(r: dict[str, Any]) -> tuple[str, str, str, str]:
        return (r["stage"], r["facet"], str(r["value_or_threshold"]), r["name"])

    rows_before = {key(r): r for r in before}
    rows_after = {key(r): r for r in after}
    metrics = []
    for k in [*rows_before, *[k for k in rows_after if k not in rows_before]]:
        b, a = rows_before.get(k), rows_after.get(k)
        if not ((b and b["flagged"]) or (a and a["flagged"])):
            continue
        ref = b or a
        assert ref is not None
        vb, va = _finite((b or {}).get("value")), _finite((a or {}).get("value"))
        toward = None
        if vb is not None and va is not None and vb == vb and va == va:
            toward = deviation(va, ref["ideal"]) < deviation(vb, ref["ideal"])
        metrics.append(
            {
                "stage": k[0],
                "facet": k[1],
                "value_or_threshold": k[2],
                "name": k[3],
                "ideal": ref["ideal"],
                "threshold": ref["threshold"],
                "before": (b or {}).get("value"),
                "after": (a or {}).get("value"),
                "flagged_before": bool(b and b["flagged"]),
                "flagged_after": bool(a and a["flagged"]),
                "toward_ideal": toward,
            }
        )
    cost = None if before_accuracy is None or after_accuracy is None else after_accuracy - before_accuracy
    return {"accuracy": {"before": before_accuracy, "after": after_accuracy, "change": cost}, "metrics": metrics}
