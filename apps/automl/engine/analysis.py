"""Plain chart data for the model analysis: permutation importance, confusion matrix, ROC and precision-recall
curves (one-vs-rest for multiclass), residuals and error density for regression. Charts are drawn elsewhere."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.stats import gaussian_kde
from sklearn.metrics import auc, average_precision_score, confusion_matrix, precision_recall_curve, roc_curve

from .columns import to_python
from .metrics import REGRESSION, Metric

if TYPE_CHECKING:
    from .evaluate import CandidateResult, Data

MAX_CURVE_POINTS = 101
MAX_CURVE_CLASSES = 20
MAX_SCATTER_POINTS = 1000
IMPORTANCE_ROWS = 1000
IMPORTANCE_REPEATS = 3


def _r(values: Any, digits: int = 6) -> list[float]:
    return [round(float(v), digits) for v in np.asarray(values, dtype=float)]


def _cap(*arrays: np.ndarray, max_points: int = MAX_CURVE_POINTS) -> list[np.ndarray]:
    n = len(arrays[0])
    if n <= max_points:
        return list(arrays)
    idx = np.unique(np.linspace(0, n - 1, max_points).round().astype(int))
    return [a[idx] for a in arrays]


def _one_vs_rest(y: np.ndarray, proba: np.ndarray, classes: list[Any]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    if len(classes) == 2:
        return [(str(classes[1]), (y == 1).astype(int), proba[:, 1])]
    counts = np.bincount(y, minlength=len(classes))
    order = np.argsort(-counts)[:MAX_CURVE_CLASSES]
    return [(str(classes[k]), (y == k).astype(int), proba[:, k]) for k in sorted(order) if 0 < counts[k] < len(y)]


def roc_curves(y: np.ndarray, proba: np.ndarray, classes: list[Any]) -> list[dict[str, Any]]:
    out = []
    for label, truth, score in _one_vs_rest(y, proba, classes):
        fpr, tpr, _ = roc_curve(truth, score)
        area = auc(fpr, tpr)
        fpr, tpr = _cap(fpr, tpr)
        out.append({"class": label, "fpr": _r(fpr, 4), "tpr": _r(tpr, 4), "auc": round(float(area), 6)})
    return out


def pr_curves(y: np.ndarray, proba: np.ndarray, classes: list[Any]) -> list[dict[str, Any]]:
    out = []
    for label, truth, score in _one_vs_rest(y, proba, classes):
        precision, recall, _ = precision_recall_curve(truth, score)
        ap = average_precision_score(truth, score)
        precision, recall = _cap(precision[::-1], recall[::-1])
        out.append(
            {
                "class": label,
                "recall": _r(recall, 4),
                "precision": _r(precision, 4),
                "average_precision": round(float(ap), 6),
                "prevalence": round(float(truth.mean()), 6),
            }
        )
    return out


def regression_charts(y: np.ndarray, pred: np.ndarray, seed: int = 0) -> dict[str, Any]:
    residual = y - pred
    idx = np.arange(len(y))
    if len(idx) > MAX_SCATTER_POINTS:
        idx = np.sort(np.random.default_rng(seed).choice(len(y), MAX_SCATTER_POINTS, replace=False))
    counts, edges = np.histogram(residual, bins=min(40, max(5, len(y) // 10)))
    density: dict[str, Any] = {"x": [], "density": []}
    if len(residual) > 2 and np.std(residual) > 0:
        sample = residual if len(residual) <= 5000 else np.random.default_rng(seed).choice(residual, 5000, False)
        grid = np.linspace(residual.min(), residual.max(), 100)
        density = {"x": _r(grid), "density": _r(gaussian_kde(sample)(grid), 8)}
    return {
        "residuals": {"predicted": _r(pred[idx]), "actual": _r(y[idx]), "residual": _r(residual[idx])},
        "error_histogram": {"edges": _r(edges), "counts": [int(c) for c in counts]},
        "error_density": density,
        "error_summary": {
            "mean": round(float(residual.mean()), 6),
            "std": round(float(residual.std()), 6),
            "p05": round(float(np.quantile(residual, 0.05)), 6),
            "p95": round(float(np.quantile(residual, 0.95)), 6),
        },
    }


def analysis_for(problem_type: str, y: np.ndarray, oof: np.ndarray, classes: list[Any]) -> dict[str, Any]:
    """Chart data from the out-of-fold predictions of the chosen model (or blend)."""
    if problem_type == REGRESSION:
        return {"source": "out-of-fold predictions", **regression_charts(y, oof)}
    labels = list(range(len(classes)))
    cm = confusion_matrix(y, oof.argmax(axis=1), labels=labels)
    return {
        "source": "out-of-fold predictions",
        "confusion_matrix": {"labels": [to_python(c) for c in classes], "matrix": cm.astype(int).tolist()},
        "roc_curves": roc_curves(y, oof, classes),
        "pr_curves": pr_curves(y, oof, classes),
    }


def permutation_importance(
    members: list[tuple[CandidateResult, float]], data: Data, metric: Metric, *, deadline: float, seed: int = 0
) -> dict[str, Any]:
    """Drop in the objective when one original column is shuffled, on held-out rows: rows of the first
    validation fold, scored with the members' models fitted without them (positive = the column helps).

    The rows (100–1,000) and repeats (1–3) are chosen from the time one prediction takes so that the whole
    computation fits before ``deadline``; columns still not reached then get None."""
    from .evaluate import predict_pipeline

    models = [(r.first_model, w) for r, w in members if r.first_model is not None]
    first_val = members[0][0].first_val
    if not models or first_val is None:
        return {"rows": 0, "repeats": 0, "columns": []}
    rng = np.random.default_rng(seed)
    rows = first_val if len(first_val) <= IMPORTANCE_ROWS else np.sort(rng.choice(first_val, IMPORTANCE_ROWS, False))

    def score(frame: Any, y: np.ndarray) -> float:
        pred = sum(predict_pipeline(m, frame, data.problem_type, data.n_classes) * w for m, w in models)
        return metric.score(y, np.asarray(pred))

    X = data.X.iloc[rows].reset_index(drop=True)
    t = time.monotonic()
    base = score(X, data.y[rows])
    per_call = max(1e-4, time.monotonic() - t)
    n_cols = len(data.X.columns)
    left = max(0.0, deadline - time.monotonic())
    repeats = IMPORTANCE_REPEATS
    while repeats > 1 and n_cols * repeats * per_call > left:
        repeats -= 1
    if n_cols * repeats * per_call > left and len(rows) > 100:  # fewer rows (the cost is mostly per row)
        keep = max(100, int(len(rows) * left / (n_cols * repeats * per_call)))
        rows = np.sort(rng.choice(rows, keep, replace=False))
        X = data.X.iloc[rows].reset_index(drop=True)
        base = score(X, data.y[rows])
    y = data.y[rows]
    out: list[dict[str, Any]] = []
    for col in data.X.columns:
        if time.monotonic() > deadline:
            out.append({"column": str(col), "importance": None, "std": None})
            continue
        drops = []
        for _ in range(repeats):
            shuffled = X.copy()
            shuffled[col] = X[col].to_numpy()[rng.permutation(len(X))]
            drops.append(base - score(shuffled, y))
        out.append(
            {"column": str(col), "importance": round(float(np.mean(drops)), 6), "std": round(float(np.std(drops)), 6)}
        )
    out.sort(key=lambda d: -(d["importance"] if d["importance"] is not None else -np.inf))
    return {"rows": len(rows), "repeats": repeats, "columns": out}
