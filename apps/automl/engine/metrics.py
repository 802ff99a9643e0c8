"""Objective metrics per problem type, with their direction.

Predictions are always passed in one shape per problem type:
* classification: an (n, K) probability matrix over the encoded classes 0..K-1 (binary: K = 2, column 1 positive);
* regression: a 1-d array of predicted values.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn import metrics as skm

BINARY = "binary"
MULTICLASS = "multiclass"
REGRESSION = "regression"
PROBLEM_TYPES = (BINARY, MULTICLASS, REGRESSION)

PROBA_FLOOR = 1e-7  # probabilities are clipped here before log loss, so one confident mistake costs ~16, not ~36


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    greater_is_better: bool
    problem_types: tuple[str, ...]
    fn: Callable[[np.ndarray, np.ndarray], float]

    @property
    def direction(self) -> str:
        return "maximize" if self.greater_is_better else "minimize"

    def __call__(self, y: np.ndarray, pred: np.ndarray) -> float:
        try:
            value = float(self.fn(y, pred))
        except ValueError:  # e.g. ROC AUC with one class present in a tiny holdout
            return math.nan
        return value

    def score(self, y: np.ndarray, pred: np.ndarray) -> float:
        """The metric as 'higher is better' (losses negated); NaN becomes -inf so it never wins."""
        value = self(y, pred)
        if not math.isfinite(value):
            return -math.inf
        return value if self.greater_is_better else -value


def clip_proba(proba: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(proba, dtype=float), PROBA_FLOOR, 1.0)
    return p / p.sum(axis=1, keepdims=True)


def _labels(proba: np.ndarray) -> np.ndarray:
    return np.asarray(proba).argmax(axis=1)


def _log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    p = clip_proba(proba)
    return float(-np.mean(np.log(p[np.arange(len(y)), y.astype(int)])))


def _roc_auc_binary(y: np.ndarray, proba: np.ndarray) -> float:
    return float(skm.roc_auc_score(y, proba[:, 1]))


def _roc_auc_ovr(y: np.ndarray, proba: np.ndarray) -> float:
    present = np.unique(y)
    if len(present) < 2:
        raise ValueError("one class only")
    if len(present) == 2:
        sub = proba[:, present]
        return float(skm.roc_auc_score(y == present[1], sub[:, 1] / np.maximum(sub.sum(1), 1e-12)))
    if len(present) < proba.shape[1]:  # a class absent from this split: score the classes that are present
        sub = proba[:, present]
        sub = sub / np.maximum(sub.sum(1, keepdims=True), 1e-12)
        return float(skm.roc_auc_score(np.searchsorted(present, y), sub, multi_class="ovr", average="macro"))
    return float(skm.roc_auc_score(y, proba, multi_class="ovr", average="macro"))


def _binary(fn: Callable[..., float], **kw: object) -> Callable[[np.ndarray, np.ndarray], float]:
    return lambda y, p: fn(y, _labels(p), zero_division=0, **kw)


def _macro(fn: Callable[..., float]) -> Callable[[np.ndarray, np.ndarray], float]:
    return lambda y, p: fn(y, _labels(p), average="macro", zero_division=0, labels=np.arange(p.shape[1]))


def _rmse(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(y, float) - np.asarray(pred, float)) ** 2)))


def _mape(y: np.ndarray, pred: np.ndarray) -> float:
    return float(skm.mean_absolute_percentage_error(y, pred))


_C = (BINARY, MULTICLASS)
METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("roc_auc", "ROC AUC", True, (BINARY,), _roc_auc_binary),
        Metric("log_loss", "Log loss", False, _C, _log_loss),
        Metric("accuracy", "Accuracy", True, _C, lambda y, p: skm.accuracy_score(y, _labels(p))),
        Metric(
            "balanced_accuracy", "Balanced accuracy", True, _C, lambda y, p: skm.balanced_accuracy_score(y, _labels(p))
        ),
        Metric("f1", "F1", True, (BINARY,), _binary(skm.f1_score)),
        Metric("precision", "Precision", True, (BINARY,), _binary(skm.precision_score)),
        Metric("recall", "Recall", True, (BINARY,), _binary(skm.recall_score)),
        Metric("f1_macro", "F1 (macro)", True, (MULTICLASS,), _macro(skm.f1_score)),
        Metric("precision_macro", "Precision (macro)", True, (MULTICLASS,), _macro(skm.precision_score)),
        Metric("recall_macro", "Recall (macro)", True, (MULTICLASS,), _macro(skm.recall_score)),
        Metric("roc_auc_ovr", "ROC AUC (one-vs-rest, macro)", True, (MULTICLASS,), _roc_auc_ovr),
        Metric("rmse", "RMSE", False, (REGRESSION,), _rmse),
        Metric("mae", "MAE", False, (REGRESSION,), lambda y, p: skm.mean_absolute_error(y, p)),
        Metric("r2", "R²", True, (REGRESSION,), lambda y, p: skm.r2_score(y, p)),
        Metric("mape", "MAPE", False, (REGRESSION,), _mape),
    ]
}

DEFAULT_OBJECTIVE = {BINARY: "roc_auc", MULTICLASS: "log_loss", REGRESSION: "rmse"}
# Names people type for the other problem type's variant.
_ALIASES = {
    MULTICLASS: {"f1": "f1_macro", "precision": "precision_macro", "recall": "recall_macro", "roc_auc": "roc_auc_ovr"},
    BINARY: {"f1_macro": "f1", "roc_auc_ovr": "roc_auc", "auc": "roc_auc"},
    REGRESSION: {"mse": "rmse"},
}


class MetricError(ValueError):
    pass


def metrics_for(problem_type: str) -> list[Metric]:
    return [m for m in METRICS.values() if problem_type in m.problem_types]


def resolve_objective(problem_type: str, objective: str | None) -> Metric:
    """The objective metric for a problem type: the default when ``objective`` is None, else the named one."""
    if problem_type not in PROBLEM_TYPES:
        raise MetricError(f"Unknown problem type {problem_type!r}; expected one of {', '.join(PROBLEM_TYPES)}.")
    if objective is None:
        return METRICS[DEFAULT_OBJECTIVE[problem_type]]
    name = _ALIASES[problem_type].get(objective.lower(), objective.lower())
    metric = METRICS.get(name)
    if metric is None or problem_type not in metric.problem_types:
        allowed = ", ".join(m.name for m in metrics_for(problem_type))
        raise MetricError(
            f"Objective {objective!r} does not apply to {problem_type} problems; choose one of {allowed}."
        )
    return metric


def all_metrics(problem_type: str, y: np.ndarray, pred: np.ndarray) -> dict[str, float | None]:
    """Every selectable metric of the problem type; None where it is undefined (JSON has no NaN)."""
    out: dict[str, float | None] = {}
    for m in metrics_for(problem_type):
        value = m(y, pred)
        out[m.name] = round(value, 6) if math.isfinite(value) else None
    return out


def metric_catalogue() -> dict[str, list[dict[str, str]]]:
    """For the UI: the selectable metrics per problem type with label and direction, default first."""
    out: dict[str, list[dict[str, str]]] = {}
    for pt in PROBLEM_TYPES:
        items = sorted(metrics_for(pt), key=lambda m: m.name != DEFAULT_OBJECTIVE[pt])
        out[pt] = [{"name": m.name, "label": m.label, "direction": m.direction} for m in items]
    return out
