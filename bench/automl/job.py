"""One fit of one system on one outer split of one dataset; prints one JSON line (the last line of stdout).

Run by run.py with bench/.venv-automl/bin/python, one subprocess per fit, with the repository root on PYTHONPATH.
    job.py --system atelier|flaml|hgb|constant --dataset NAME --budget 60 [--fold 0 --outer-folds 1 --seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
import warnings

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from datasets import BINARY, MULTICLASS, REGRESSION, load

TASK_METRIC = {BINARY: "roc_auc", MULTICLASS: "log_loss", REGRESSION: "rmse"}
HIGHER_IS_BETTER = {"roc_auc": True, "log_loss": False, "rmse": False}


def outer_split(y: pd.Series, task: str, folds: int, fold: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The same outer split for every system: a seeded 75/25 split, or fold ``fold`` of a seeded k-fold."""
    idx = np.arange(len(y))
    strat = y.to_numpy() if task != REGRESSION else None
    if folds <= 1:
        tr, te = train_test_split(idx, test_size=0.25, random_state=seed, stratify=strat)
        return np.sort(tr), np.sort(te)
    splitter = (
        StratifiedKFold(folds, shuffle=True, random_state=seed)
        if strat is not None
        else KFold(folds, shuffle=True, random_state=seed)
    )
    tr, te = list(splitter.split(idx, strat))[fold]
    return tr, te


def score(task: str, y_test: pd.Series, pred: np.ndarray, classes: list) -> float:
    if task == REGRESSION:
        return float(np.sqrt(np.mean((y_test.to_numpy(dtype=float) - pred) ** 2)))
    if task == BINARY:
        return float(roc_auc_score((y_test == classes[1]).to_numpy(), pred[:, 1]))
    return float(log_loss(y_test.to_numpy(), pred, labels=classes))


def _as_category(X: pd.DataFrame) -> pd.DataFrame:
    X = X.copy()
    for c in X.columns:
        if not pd.api.types.is_numeric_dtype(X[c].dtype) and not pd.api.types.is_bool_dtype(X[c].dtype):
            X[c] = X[c].astype(object).astype("category")
    return X


def run_atelier(
    task: str,
    Xtr: pd.DataFrame,
    ytr: pd.Series,
    Xte: pd.DataFrame,
    classes: list,
    budget: float,
    seed: int,
    n_jobs: int,
) -> tuple[np.ndarray, dict]:
    from apps.automl.engine import BuildConfig, build

    df = Xtr.copy()
    target = "__target__"
    df[target] = ytr.to_numpy()
    cfg = BuildConfig(target=target, problem_type=task, mode="quick", time_budget_s=budget, seed=seed, n_jobs=n_jobs)
    res = build(df, cfg)
    raw = res.model.raw(Xte[res.model.feature_names])
    info = {
        "best": res.report["best"],
        "trials": res.report["trials"],
        "timings": res.report["timings"],
        "ensemble_kept": bool(res.report["ensemble"] and res.report["ensemble"]["kept"]),
    }
    if task == REGRESSION:
        return raw, info
    order = [classes.index(c) for c in res.model.classes]  # model's class order → bench's sorted order
    out = np.zeros((len(Xte), len(classes)))
    out[:, order] = raw
    return out, info


def run_flaml(
    task: str,
    Xtr: pd.DataFrame,
    ytr: pd.Series,
    Xte: pd.DataFrame,
    classes: list,
    budget: float,
    seed: int,
    n_jobs: int,
) -> tuple[np.ndarray, dict]:
    from flaml import AutoML

    automl = AutoML()
    kind = "regression" if task == REGRESSION else "classification"
    automl.fit(
        _as_category(Xtr),
        ytr.astype(object) if task != REGRESSION else ytr,
        task=kind,
        metric=TASK_METRIC[task],
        time_budget=budget,
        n_jobs=n_jobs,
        seed=seed,
        verbose=0,
    )
    info = {"best": automl.best_estimator, "best_config": automl.best_config}
    if task == REGRESSION:
        return np.asarray(automl.predict(_as_category(Xte)), dtype=float), info
    proba = np.asarray(automl.predict_proba(_as_category(Xte)), dtype=float)
    flaml_classes = list(automl.classes_)
    out = np.zeros((len(Xte), len(classes)))
    for j, c in enumerate(flaml_classes):
        out[:, classes.index(c)] = proba[:, j]
    return out, info


def run_hgb(
    task: str,
    Xtr: pd.DataFrame,
    ytr: pd.Series,
    Xte: pd.DataFrame,
    classes: list,
    budget: float,
    seed: int,
    n_jobs: int,
) -> tuple[np.ndarray, dict]:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    Xc, Xt = _as_category(Xtr), _as_category(Xte)
    for c in Xc.columns:  # test levels unseen in training become missing
        if isinstance(Xc[c].dtype, pd.CategoricalDtype):
            Xt[c] = pd.Categorical(Xt[c].astype(object), categories=Xc[c].cat.categories)
    if task == REGRESSION:
        m = HistGradientBoostingRegressor(random_state=seed, categorical_features="from_dtype").fit(Xc, ytr)
        return m.predict(Xt), {}
    m = HistGradientBoostingClassifier(random_state=seed, categorical_features="from_dtype").fit(Xc, ytr)
    proba = m.predict_proba(Xt)
    out = np.zeros((len(Xte), len(classes)))
    for j, c in enumerate(m.classes_):
        out[:, classes.index(c)] = proba[:, j]
    return out, {}


def run_constant(
    task: str,
    Xtr: pd.DataFrame,
    ytr: pd.Series,
    Xte: pd.DataFrame,
    classes: list,
    budget: float,
    seed: int,
    n_jobs: int,
) -> tuple[np.ndarray, dict]:
    if task == REGRESSION:
        return np.full(len(Xte), float(ytr.mean())), {}
    freq = ytr.value_counts(normalize=True)
    return np.tile([float(freq.get(c, 0.0)) for c in classes], (len(Xte), 1)), {}


SYSTEMS = {"atelier": run_atelier, "flaml": run_flaml, "hgb": run_hgb, "constant": run_constant}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--system", required=True, choices=sorted(SYSTEMS))
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--budget", type=float, default=60.0)
    ap.add_argument("--fold", type=int, default=0)
    ap.add_argument("--outer-folds", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-jobs", type=int, default=2)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    out: dict = {"system": args.system, "dataset": args.dataset, "budget": args.budget, "fold": args.fold}
    try:
        task, X, y = load(args.dataset)
        tr, te = outer_split(y, task, args.outer_folds, args.fold, args.seed)
        Xtr, Xte = X.iloc[tr].reset_index(drop=True), X.iloc[te].reset_index(drop=True)
        ytr, yte = y.iloc[tr].reset_index(drop=True), y.iloc[te].reset_index(drop=True)
        classes = sorted(ytr.unique().tolist()) if task != REGRESSION else []
        t0 = time.monotonic()
        pred, info = SYSTEMS[args.system](task, Xtr, ytr, Xte, classes, args.budget, args.seed, args.n_jobs)
        out.update(
            {
                "task": task,
                "metric": TASK_METRIC[task],
                "score": score(task, yte, pred, classes),
                "fit_predict_s": round(time.monotonic() - t0, 3),
                "n_train": len(tr),
                "n_test": len(te),
                "info": info,
            }
        )
    except Exception as exc:
        out.update({"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-2000:]})
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
