"""Plain computations of a Clarify report around the metric engine (no Django): which rows are positive and which
form a facet group, the measurement-bias check against a trusted reference column, accuracy, flags against
thresholds, and the before/after comparison of a mitigation."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
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


def facet_groups(series: pd.Series, facet: Mapping[str, Any]) -> list[tuple[str, np.ndarray]]:
    """(value_or_threshold, mask of the sensitive group d) for one facet of the config, as the engine groups them:
    the given values together, values above the threshold, or one group per distinct value."""
    values, threshold = list(facet.get("values") or []), facet.get("threshold")
    if threshold is not None:
        return [(f"(>{as_text(threshold)})", positive_mask(series, threshold=float(threshold)))]
    if values:
        return [(",".join(as_text(v) for v in values), positive_mask(series, values=values))]
    uniques = [v for v in pd.unique(series.dropna())]
    return [(as_text(v), (series == v).to_numpy(dtype=bool, na_value=False)) for v in sorted(uniques, key=as_text)]


def _rate(mask: np.ndarray, within: np.ndarray) -> float | None:
    n = int(within.sum())
    return float(mask[within].mean()) if n else None


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def measurement_bias(
    frame: pd.DataFrame,
    *,
    label_positive: np.ndarray,
    reference_positive: np.ndarray,
    facets: list[Mapping[str, Any]],
    predicted_positive: np.ndarray | None = None,
) -> dict[str, Any]:
    """The label measured against a trusted reference column, per facet group d and the rest a.

    For each group: positive rate of the label and of the reference (their difference is how far the recorded
    label is from the truth), the share of rows where they disagree (the label's error rate) and, with a model,
    the prediction's error rate against the label and against the reference. A disagreement rate that differs
    between d and a (`disagreement_gap` = d − a) means the label was measured worse for one group: measurement bias."""
    out: dict[str, Any] = {"overall": {}, "facets": {}}
    everyone = np.ones(len(frame), dtype=bool)
    disagree = label_positive != reference_positive
    wrong_label = None if predicted_positive is None else predicted_positive != label_positive
    wrong_truth = None if predicted_positive is None else predicted_positive != reference_positive

    def rates(within: np.ndarray) -> dict[str, Any]:
        row: dict[str, Any] = {
            "n": int(within.sum()),
            "label_positive_rate": _rate(label_positive, within),
            "reference_positive_rate": _rate(reference_positive, within),
            "label_error_rate": _rate(disagree, within),
        }
        row["rate_difference"] = _diff(row["label_positive_rate"], row["reference_positive_rate"])
        if wrong_label is not None and wrong_truth is not None:
            row["prediction_error_rate_vs_label"] = _rate(wrong_label, within)
            row["prediction_error_rate_vs_reference"] = _rate(wrong_truth, within)
        return row

    out["overall"] = rates(everyone)
    for facet in facets:
        name = str(facet["name"])
        groups = []
        for value, d in facet_groups(frame[name], facet):
            a = ~d
            row_d, row_a = rates(d), rates(a)
            entry = {
                "value_or_threshold": value,
                "d": row_d,
                "a": row_a,
                "disagreement_gap": _diff(row_d["label_error_rate"], row_a["label_error_rate"]),
                "rate_difference_gap": _diff(row_d["rate_difference"], row_a["rate_difference"]),
            }
            if wrong_label is not None:
                entry["prediction_error_gap_vs_reference"] = _diff(
                    row_d.get("prediction_error_rate_vs_reference"), row_a.get("prediction_error_rate_vs_reference")
                )
            groups.append(entry)
        out["facets"][name] = groups
    return out


def accuracy(label_positive: np.ndarray, predicted_positive: np.ndarray) -> float | None:
    """The share of rows whose predicted label (positive or not) is the observed one."""
    return float((label_positive == predicted_positive).mean()) if len(label_positive) else None


# --- flags ---------------------------------------------------------------------------------------------------


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def deviation(value: float, ideal: float) -> float:
    """How far a metric is from its ideal (∞ for ±∞)."""
    return math.inf if math.isinf(value) else abs(value - ideal)


def metric_rows(analysis: Mapping[str, Any] | None) -> Iterable[tuple[str, str, str, dict[str, Any]]]:
    """(stage, facet, value_or_threshold, metric) for every metric of an analysis.json."""
    for stage, key in (("pre_training", "pre_training_bias_metrics"), ("post_training", "post_training_bias_metrics")):
        part = (analysis or {}).get(key) or {}
        for facet, groups in (part.get("facets") or {}).items():
            for group in groups or []:
                for metric in group.get("metrics") or []:
                    yield stage, str(facet), str(group.get("value_or_threshold")), metric


def flags(
    analysis: Mapping[str, Any] | None, *, thresholds: Mapping[str, float], info: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """One row per metric value: flagged when it is further from its ideal than the threshold (the user's for that
    metric, else its default). A metric that could not be computed (value null) is never flagged."""
    out = []
    for stage, facet, group, metric in metric_rows(analysis):
        name = str(metric.get("name"))
        meta = info.get(name) or {}
        ideal = float(meta.get("ideal", 0.0))
        threshold = thresholds.get(name, meta.get("threshold"))
        value = _finite(metric.get("value"))
        flagged = value is not None and threshold is not None and deviation(value, ideal) > float(threshold)
        out.append(
            {
                "facet": facet,
                "value_or_threshold": group,
                "stage": stage,
                "name": name,
                "description": metric.get("description") or meta.get("description", ""),
                "value": metric.get("value"),
                "error": metric.get("error", ""),
                "ideal": ideal,
                "range": list(meta.get("range") or []),
                "threshold": None if threshold is None else float(threshold),
                "flagged": bool(flagged),
                "meaning": meta.get("meaning", ""),
                "bias_kinds": list(meta.get("bias_kinds") or []),
            }
        )
    return out


def compare(
    *,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    before_accuracy: float | None,
    after_accuracy: float | None,
    thresholds: Mapping[str, float],
    info: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """Accuracy and every metric flagged before or after, side by side: did it move toward its ideal?"""
    rows_before = {
        (r["stage"], r["facet"], r["value_or_threshold"], r["name"]): r
        for r in flags(before, thresholds=thresholds, info=info)
    }
    rows_after = {
        (r["stage"], r["facet"], r["value_or_threshold"], r["name"]): r
        for r in flags(after, thresholds=thresholds, info=info)
    }
    metrics = []
    for key in [*rows_before, *[k for k in rows_after if k not in rows_before]]:
        b, a = rows_before.get(key), rows_after.get(key)
        if not ((b and b["flagged"]) or (a and a["flagged"])):
            continue
        ref = b or a
        assert ref is not None
        vb, va = _finite((b or {}).get("value")), _finite((a or {}).get("value"))
        toward = None
        if vb is not None and va is not None:
            toward = deviation(va, ref["ideal"]) < deviation(vb, ref["ideal"])
        metrics.append(
            {
                "stage": key[0],
                "facet": key[1],
                "value_or_threshold": key[2],
                "name": key[3],
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
    return {
        "accuracy": {"before": before_accuracy, "after": after_accuracy, "change": cost},
        "metrics": metrics,
    }
