"""The candidate algorithms: defaults, search ranges, and how each is fitted under a deadline.

Deadlines are cooperative: LightGBM checks the clock after every boosting round (a callback), histogram
gradient boosting and the forests grow in chunks (warm start) and stop between chunks, so a slow fit stops
close to its deadline with a smaller but valid model. Linear models and k-NN have predictable costs and are
bounded by their iteration cap / data size.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from .metrics import REGRESSION
from .preprocess import PrepSpec
from .space import ParamRange, cat, cont, integer

LIGHTGBM = "lightgbm"
HIST_GB = "hist_gradient_boosting"
RANDOM_FOREST = "random_forest"
EXTRA_TREES = "extra_trees"
LINEAR = "linear"
KNN = "knn"
ALGORITHMS = (LIGHTGBM, LINEAR, EXTRA_TREES, HIST_GB, RANDOM_FOREST, KNN)  # default trials run in this order
LABELS = {
    LIGHTGBM: "LightGBM",
    HIST_GB: "Histogram gradient boosting",
    RANDOM_FOREST: "Random forest",
    EXTRA_TREES: "Extra trees",
    LINEAR: "Linear / logistic regression",
    KNN: "k-nearest neighbours",
}
MAX_BOOST_ROUNDS = 4000
FOREST_TREES = 300


def forest_trees(n_rows: int) -> int:
    """Fewer trees on bigger data: more configurations get tried in the same time, at a small cost in accuracy."""
    return FOREST_TREES if n_rows < 5000 else 200 if n_rows < 20_000 else 120


KNN_MAX_ROWS = 50_000
# Boosting stops when the validation log loss has not improved by this much for `patience` rounds: on
# near-separable data the loss creeps down for thousands of rounds at no gain in ranking.
CLASSIFICATION_MIN_DELTA = 1e-4  # k-NN prediction cost grows with rows × rows: not offered above this


@dataclass
class FitContext:
    problem_type: str
    n_classes: int  # 0 for regression
    n_rows: int  # rows in the whole training set (sets size-dependent defaults)
    cat_indices: list[int]
    seed: int = 0
    n_jobs: int = 2
    deadline: float = float("inf")  # time.monotonic() value


@dataclass
class FitInfo:
    iterations: int | None = None  # boosting rounds / trees actually used
    stopped_by_deadline: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _patience(n_rows: int, learning_rate: float = 0.05) -> int:
    """Rounds without improvement before boosting stops: fewer for big steps and big data."""
    cap = 50 if n_rows < 50_000 else 30
    return int(max(10, min(cap, 2.5 / max(learning_rate, 1e-3))))


# --------------------------------------------------------------------------------------------------- LightGBM
def _lgb_defaults(problem: str, n: int) -> list[dict[str, Any]]:
    mcs = 5 if n < 1000 else 10 if n < 5000 else 20
    return [
        {
            "learning_rate": 0.1,
            "num_leaves": 31,
            "min_child_samples": mcs,
            "colsample_bytree": 0.8,
            "subsample": 0.8,
            "reg_lambda": 1.0,
            "reg_alpha": 1e-3,
        },
        {
            "learning_rate": 0.05,
            "num_leaves": 8,
            "min_child_samples": max(3, mcs // 2),
            "colsample_bytree": 0.5,
            "subsample": 0.9,
            "reg_lambda": 5.0,
            "reg_alpha": 1e-3,
        },
    ]


def _lgb_ranges(problem: str, n: int) -> list[ParamRange]:
    return [
        cont("learning_rate", 0.01, 0.3, log=True),
        integer("num_leaves", 4, 256, log=True),
        integer("min_child_samples", 2, 100, log=True),
        cont("colsample_bytree", 0.2, 1.0),
        cont("subsample", 0.5, 1.0),
        cont("reg_lambda", 1e-3, 30.0, log=True),
        cont("reg_alpha", 1e-3, 10.0, log=True),
    ]


def _deadline_callback(deadline: float, info: FitInfo) -> Callable[[Any], None]:
    def callback(env: Any) -> None:
        if time.monotonic() > deadline:
            info.stopped_by_deadline = True
            raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list or [])

    callback.order = 40  # type: ignore[attr-defined]  # after LightGBM's own early stopping (order 30)
    return callback


def _fit_lightgbm(
    params: dict[str, Any], ctx: FitContext, X: Any, y: np.ndarray, Xv: Any, yv: Any, rounds: int | None
) -> tuple[Any, FitInfo]:
    info = FitInfo()
    p = dict(params)
    kw: dict[str, Any] = {
        "n_estimators": rounds or MAX_BOOST_ROUNDS,
        "subsample_freq": 1,
        "random_state": ctx.seed,
        "n_jobs": ctx.n_jobs,
        "verbose": -1,
        "min_data_per_group": int(max(5, min(100, ctx.n_rows // 100))),
        "cat_smooth": 10.0 if ctx.n_rows >= 1000 else 3.0,
        "max_bin": 255,
    }
    kw.update(p)
    cls = lgb.LGBMRegressor if ctx.problem_type == REGRESSION else lgb.LGBMClassifier
    model = cls(**kw)
    callbacks = [_deadline_callback(ctx.deadline, info)]
    fit_kw: dict[str, Any] = {"categorical_feature": ctx.cat_indices or "auto", "callbacks": callbacks}
    if Xv is not None and rounds is None:
        fit_kw["eval_X"], fit_kw["eval_y"] = Xv, yv
        min_delta = 0.0 if ctx.problem_type == REGRESSION else CLASSIFICATION_MIN_DELTA
        patience = _patience(ctx.n_rows, float(params.get("learning_rate", 0.1)))
        callbacks.append(lgb.early_stopping(patience, first_metric_only=True, verbose=False, min_delta=min_delta))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y, **fit_kw)
    best = model.booster_.best_iteration or model.booster_.current_iteration()
    info.iterations = int(best)
    return model, info


# --------------------------------------------------------------------------------------------------- HGB
def _hgb_defaults(problem: str, n: int) -> list[dict[str, Any]]:
    msl = 5 if n < 1000 else 10 if n < 5000 else 20
    return [
        {
            "learning_rate": 0.1,
            "max_leaf_nodes": 31,
            "min_samples_leaf": msl,
            "l2_regularization": 0.1,
            "max_features": 1.0,
        }
    ]


def _hgb_ranges(problem: str, n: int) -> list[ParamRange]:
    return [
        cont("learning_rate", 0.01, 0.3, log=True),
        integer("max_leaf_nodes", 4, 128, log=True),
        integer("min_samples_leaf", 2, 100, log=True),
        cont("l2_regularization", 1e-4, 10.0, log=True),
        cont("max_features", 0.3, 1.0),
    ]


def _fit_hgb(
    params: dict[str, Any], ctx: FitContext, X: Any, y: np.ndarray, Xv: Any, yv: Any, rounds: int | None
) -> tuple[Any, FitInfo]:
    info = FitInfo()
    cls = HistGradientBoostingRegressor if ctx.problem_type == REGRESSION else HistGradientBoostingClassifier
    patience = min(30, _patience(ctx.n_rows, float(params.get("learning_rate", 0.1))))
    early = Xv is not None and rounds is None
    cap = rounds or MAX_BOOST_ROUNDS
    model = cls(
        **params,
        max_iter=0,
        warm_start=True,
        random_state=ctx.seed,
        categorical_features=ctx.cat_indices or None,
        early_stopping=early,
        n_iter_no_change=patience,
        tol=1e-7 if ctx.problem_type == REGRESSION else CLASSIFICATION_MIN_DELTA,
    )
    done, chunk = 0, 25
    while done < cap:
        target = min(cap, done + chunk)
        model.set_params(max_iter=target)
        t = time.monotonic()
        if early:
            model.fit(X, y, X_val=Xv, y_val=yv)
        else:
            model.fit(X, y)
        done_now = int(model.n_iter_)
        per_iter = (time.monotonic() - t) / max(1, done_now - done)
        if done_now < target:  # early stopping ended it
            done = done_now
            break
        done = done_now
        left = ctx.deadline - time.monotonic()
        if left <= 0:
            info.stopped_by_deadline = True
            break
        chunk = int(max(5, min(400, chunk * 2, 0.5 * left / max(per_iter, 1e-6))))
    info.iterations = max(1, done - patience) if early and done < cap else done
    return model, info


# --------------------------------------------------------------------------------------------------- forests
def _forest_defaults(name: str) -> Callable[[str, int], list[dict[str, Any]]]:
    def defaults(problem: str, n: int) -> list[dict[str, Any]]:
        return [{"max_features": "sqrt", "min_samples_leaf": 1}, {"max_features": 0.5, "min_samples_leaf": 4}]

    return defaults


def _forest_ranges(problem: str, n: int) -> list[ParamRange]:
    out = [cat("max_features", "sqrt", "log2", 0.2, 0.35, 0.5, 0.75, 1.0), integer("min_samples_leaf", 1, 32, log=True)]
    if problem != REGRESSION:
        out.append(cat("criterion", "gini", "entropy"))
    return out


def _forest_params(params: dict[str, Any], problem: str) -> dict[str, Any]:
    p = dict(params)
    if problem == REGRESSION and p.get("max_features") == "sqrt":
        p["max_features"] = 0.5
    return p


def _fit_forest(kind: str) -> Callable[..., tuple[Any, FitInfo]]:
    def fit(
        params: dict[str, Any], ctx: FitContext, X: Any, y: np.ndarray, Xv: Any, yv: Any, rounds: int | None
    ) -> tuple[Any, FitInfo]:
        info = FitInfo()
        reg = ctx.problem_type == REGRESSION
        if kind == RANDOM_FOREST:
            cls: Any = RandomForestRegressor if reg else RandomForestClassifier
        else:
            cls = ExtraTreesRegressor if reg else ExtraTreesClassifier
        total = rounds or forest_trees(ctx.n_rows)
        model = cls(
            n_estimators=0,
            warm_start=True,
            n_jobs=ctx.n_jobs,
            random_state=ctx.seed,
            **_forest_params(params, ctx.problem_type),
        )
        grown, chunk = 0, 8
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            while grown < total:
                before, t = grown, time.monotonic()
                grown = min(total, grown + chunk)
                model.set_params(n_estimators=grown)
                model.fit(X, y)
                left = ctx.deadline - time.monotonic()
                if left <= 0:
                    info.stopped_by_deadline = grown < total
                    break
                per_tree = (time.monotonic() - t) / max(1, grown - before)
                chunk = int(max(1, min(100, chunk * 2, 0.5 * left / max(per_tree, 1e-6))))
        info.iterations = grown
        return model, info

    return fit


# --------------------------------------------------------------------------------------------------- linear, kNN
def _linear_defaults(problem: str, n: int) -> list[dict[str, Any]]:
    return [{"alpha": 1.0}] if problem == REGRESSION else [{"C": 1.0}]


def _linear_ranges(problem: str, n: int) -> list[ParamRange]:
    if problem == REGRESSION:
        return [cont("alpha", 1e-4, 1e4, log=True)]
    return [cont("C", 1e-4, 1e3, log=True)]


def _fit_linear(
    params: dict[str, Any], ctx: FitContext, X: Any, y: np.ndarray, Xv: Any, yv: Any, rounds: int | None
) -> tuple[Any, FitInfo]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if ctx.problem_type == REGRESSION:
            alpha = float(params.get("alpha", 1.0 / float(params.get("C", 1.0))))
            model: Any = Ridge(alpha=alpha, random_state=ctx.seed).fit(X, y)
        else:
            model = LogisticRegression(C=float(params.get("C", 1.0)), max_iter=1000, random_state=ctx.seed)
            model.fit(X, y)
    return model, FitInfo()


def _knn_defaults(problem: str, n: int) -> list[dict[str, Any]]:
    return [{"n_neighbors": 10, "weights": "distance", "p": 2}]


def _knn_ranges(problem: str, n: int) -> list[ParamRange]:
    return [integer("n_neighbors", 1, 64, log=True), cat("weights", "uniform", "distance"), cat("p", 1, 2)]


def _fit_knn(
    params: dict[str, Any], ctx: FitContext, X: Any, y: np.ndarray, Xv: Any, yv: Any, rounds: int | None
) -> tuple[Any, FitInfo]:
    p = dict(params)
    p["n_neighbors"] = int(max(1, min(int(p.get("n_neighbors", 10)), X.shape[0] - 1)))
    cls = KNeighborsRegressor if ctx.problem_type == REGRESSION else KNeighborsClassifier
    return cls(n_jobs=ctx.n_jobs, **p).fit(X, y), FitInfo()


# --------------------------------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class Algorithm:
    name: str
    prep: PrepSpec
    defaults: Callable[[str, int], list[dict[str, Any]]]
    ranges: Callable[[str, int], list[ParamRange]]
    fit: Callable[..., tuple[Any, FitInfo]]
    iterative: bool = False  # boosting: refit with the rounds early stopping found

    @property
    def label(self) -> str:
        return LABELS[self.name]

    def range_map(self, problem: str, n: int) -> dict[str, ParamRange]:
        return {r.name: r for r in self.ranges(problem, n)}


_TREES = PrepSpec(native_trees=True, one_hot=False, sparse_text=True)
_FORESTS = PrepSpec(one_hot=True, max_one_hot=16, sparse_text=False)
REGISTRY: dict[str, Algorithm] = {
    LIGHTGBM: Algorithm(LIGHTGBM, _TREES, _lgb_defaults, _lgb_ranges, _fit_lightgbm, iterative=True),
    HIST_GB: Algorithm(
        HIST_GB,
        PrepSpec(native_trees=True, one_hot=False, sparse_text=False),
        _hgb_defaults,
        _hgb_ranges,
        _fit_hgb,
        iterative=True,
    ),
    LINEAR: Algorithm(
        LINEAR,
        PrepSpec(scale=True, one_hot=True, max_one_hot=64, sparse_text=True),
        _linear_defaults,
        _linear_ranges,
        _fit_linear,
    ),
    EXTRA_TREES: Algorithm(
        EXTRA_TREES, _FORESTS, _forest_defaults(EXTRA_TREES), _forest_ranges, _fit_forest(EXTRA_TREES)
    ),
    RANDOM_FOREST: Algorithm(
        RANDOM_FOREST, _FORESTS, _forest_defaults(RANDOM_FOREST), _forest_ranges, _fit_forest(RANDOM_FOREST)
    ),
    KNN: Algorithm(
        KNN, PrepSpec(scale=True, one_hot=True, max_one_hot=16, sparse_text=False), _knn_defaults, _knn_ranges, _fit_knn
    ),
}


def get_algorithm(name: str) -> Algorithm:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"Unknown algorithm {name!r}; expected one of {', '.join(ALGORITHMS)}.") from None


def predict_raw(model: Any, Xt: Any, problem_type: str, n_classes: int) -> np.ndarray:
    """(n, K) probabilities over all K encoded classes for classifiers; values for regressors."""
    if problem_type == REGRESSION:
        return np.asarray(model.predict(Xt), dtype=float)
    proba = np.asarray(model.predict_proba(Xt), dtype=float)
    classes = np.asarray(model.classes_).astype(int)
    if proba.shape[1] == n_classes and np.array_equal(classes, np.arange(n_classes)):
        return proba
    full = np.zeros((proba.shape[0], n_classes))
    full[:, classes] = proba
    return full
