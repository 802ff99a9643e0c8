"""Target analysis, target leakage per feature, and the quick model (cross-validated LightGBM or HGB)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from apps.datasets.profiling.base import NUMERIC_TYPES, Context, ProfileConfig, display_value
from apps.datasets.profiling.correlations import usable


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


def target_section(ctx: Context) -> dict[str, Any]:
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
            {"value": display_value(v), "count": c, "ratio": c / total if total else 0.0} for v, c in counts[:100]
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


def _target_in_sample(ctx: Context, target: dict[str, Any]) -> _Target | None:
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


def leakage_section(ctx: Context, target: dict[str, Any]) -> dict[str, Any]:
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
        if name == tgt.name or name not in ctx.encoded or not usable(ctx, name):
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
def _model_matrix(ctx: Context, rows: np.ndarray) -> tuple[np.ndarray, list[str], list[int], list[dict[str, str]]]:
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
        if not usable(ctx, name):
            excluded.append({"column": name, "reason": "constant or empty"})
            continue
        if type_ == "categorical":
            categorical.append(len(used))
        used.append(name)
    x = np.column_stack([ctx.encoded[c][rows] for c in used]) if used else np.zeros((len(rows), 0))
    return x, used, categorical, excluded


def quick_model_section(ctx: Context, target: dict[str, Any]) -> dict[str, Any]:
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
