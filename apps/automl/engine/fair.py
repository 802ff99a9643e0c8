"""Fairness-constrained Canvas models (Fairlearn), as ordinary AtelierModel members.

* ``ReductionClassifier``: the model step of a member pipeline (the build's preprocessing, then this) that fits
  Fairlearn's ExponentiatedGradient with a DemographicParity or EqualizedOdds constraint over a base estimator
  (logistic regression or LightGBM). ``predict_proba`` is the randomized classifier's probability of each class
  (Fairlearn's ``_pmf_predict``: the weighted vote of the base predictors); Canvas predicts its most likely class.
  The sensitive column is read at fit time only.
* ``ThresholdClassifier``: per-group thresholds (Fairlearn's ThresholdOptimizer) over an existing fitted
  AtelierModel's positive-class probability. The sensitive column is read at prediction time too, so it must be one
  of the model's inputs. Rows of a group never seen at fit keep the base model's probability.

Both live here, in the Canvas engine, because stored models are pickles that name their classes: the registry's
MLflow export copies apps/automl/engine and nothing else of Atelier. ``fit_fair`` is a build's body for a
``fairness`` option; ``threshold_model`` adds a ThresholdOptimizer candidate on top of a fitted model.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from .algorithms import LABELS, LIGHTGBM, LINEAR, get_algorithm
from .analysis import analysis_for
from .builder import BuildConfig, BuildResult, _natural, prepare
from .columns import encode_target
from .evaluate import Data, evaluate_candidate, make_folds, measure_model
from .metrics import BINARY, all_metrics
from .model import AtelierModel, Member, check_rows, feature_specs, typical_values
from .preprocess import PrepSpec, build_preprocessor
from .report import _params

EXPONENTIATED_GRADIENT = "exponentiated_gradient"
THRESHOLD_OPTIMIZER = "threshold_optimizer"
MITIGATORS = (EXPONENTIATED_GRADIENT,)
DEMOGRAPHIC_PARITY = "demographic_parity"
EQUALIZED_ODDS = "equalized_odds"
CONSTRAINTS = (DEMOGRAPHIC_PARITY, EQUALIZED_ODDS)
CONSTRAINT_LABELS = {DEMOGRAPHIC_PARITY: "demographic parity", EQUALIZED_ODDS: "equalized odds"}
BASE_ALGORITHMS = (LIGHTGBM, LINEAR)
MITIGATOR_LABELS = {
    EXPONENTIATED_GRADIENT: "Exponentiated gradient (Fairlearn)",
    THRESHOLD_OPTIMIZER: "Per-group thresholds (Fairlearn ThresholdOptimizer)",
}
MAX_GROUPS = 20
MISSING_GROUP = "(missing)"
FAIR_FOLDS = 3  # each fold fits the base estimator up to max_iter times
EG_MAX_ITER = 50
EG_EPS = 0.01

Say = Callable[[float, str], None]


class FairnessError(ValueError):
    """A fairness option that cannot be used; ``field`` names the option at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# --------------------------------------------------------------------------------------------------- groups, metrics
def group_labels(values: pd.Series | np.ndarray) -> np.ndarray:
    """The sensitive groups as text (an object array), missing values as one group of their own."""
    s = pd.Series(values).reset_index(drop=True)
    out = s.astype(object).where(s.notna(), MISSING_GROUP)
    return np.asarray([v if isinstance(v, str) else str(v) for v in out], dtype=object)


def check_groups(groups: np.ndarray, column: str) -> list[str]:
    """The distinct groups (sorted); FairnessError when there are fewer than 2 or more than MAX_GROUPS."""
    found = sorted({str(g) for g in groups})
    if len(found) < 2:
        raise FairnessError(
            "sensitive",
            f"The sensitive column {column!r} has one value only ({found[0] if found else 'none'}): "
            "there are no groups to compare.",
        )
    if len(found) > MAX_GROUPS:
        raise FairnessError(
            "sensitive",
            f"The sensitive column {column!r} has {len(found):,} distinct values; a fairness constraint compares "
            f"groups, at most {MAX_GROUPS}. Bin it into groups first (a Data Wrangler step).",
        )
    return found


def fairness_metrics(y: np.ndarray, predicted: np.ndarray, groups: np.ndarray) -> dict[str, Any]:
    """Accuracy, and per group: rows, selection rate (share predicted positive), true and false positive rates;
    the demographic parity difference (largest minus smallest selection rate) and the equalized odds difference
    (the larger of the TPR and FPR spreads), as Fairlearn defines them. ``y``/``predicted`` are 0/1."""
    y = np.asarray(y).astype(int)
    p = np.asarray(predicted).astype(int)
    frame = pd.DataFrame({"g": groups, "y": y, "p": p})
    per: dict[str, dict[str, Any]] = {}
    for g, part in frame.groupby("g", sort=True):
        pos, neg = part[part.y == 1], part[part.y == 0]
        per[str(g)] = {
            "n": len(part),
            "selection_rate": float(part.p.mean()),
            "true_positive_rate": float(pos.p.mean()) if len(pos) else None,
            "false_positive_rate": float(neg.p.mean()) if len(neg) else None,
            "accuracy": float((part.p == part.y).mean()),
        }

    def spread(key: str) -> float | None:
        vals = [v[key] for v in per.values() if v[key] is not None]
        return float(max(vals) - min(vals)) if vals else None

    tpr, fpr = spread("true_positive_rate"), spread("false_positive_rate")
    return {
        "accuracy": float((p == y).mean()) if len(y) else None,
        "demographic_parity_difference": spread("selection_rate"),
        "equalized_odds_difference": None if tpr is None or fpr is None else max(tpr, fpr),
        "groups": per,
    }


def _compare(before: dict[str, Any], after: dict[str, Any], constraint: str) -> dict[str, Any]:
    key = "demographic_parity_difference" if constraint == DEMOGRAPHIC_PARITY else "equalized_odds_difference"
    acc_b, acc_a = before["accuracy"], after["accuracy"]
    return {
        "constrained_metric": key,
        "before": before[key],
        "after": after[key],
        "accuracy_before": acc_b,
        "accuracy_after": acc_a,
        "accuracy_cost": None if acc_b is None or acc_a is None else round(acc_b - acc_a, 6),
    }


# --------------------------------------------------------------------------------------------------- estimators
def _dense(X: Any) -> Any:
    return X.toarray() if sparse.issparse(X) else X


def _moment(constraint: str) -> Any:
    from fairlearn.reductions import DemographicParity, EqualizedOdds

    if constraint == DEMOGRAPHIC_PARITY:
        return DemographicParity()
    if constraint == EQUALIZED_ODDS:
        return EqualizedOdds()
    raise FairnessError("constraint", f"Unknown constraint {constraint!r}; choose {' or '.join(CONSTRAINTS)}.")


class ReductionClassifier(ClassifierMixin, BaseEstimator):
    """ExponentiatedGradient over ``base`` on preprocessed features (binary, classes encoded 0/1)."""

    def __init__(
        self, base: Any = None, constraint: str = DEMOGRAPHIC_PARITY, eps: float = EG_EPS, max_iter: int = EG_MAX_ITER
    ) -> None:
        self.base = base
        self.constraint = constraint
        self.eps = eps
        self.max_iter = max_iter

    def fit(self, X: Any, y: Any, *, sensitive_features: Any) -> ReductionClassifier:
        from fairlearn.reductions import ExponentiatedGradient

        base = clone(self.base) if self.base is not None else LogisticRegression(max_iter=1000)
        mitigator = ExponentiatedGradient(base, _moment(self.constraint), eps=self.eps, max_iter=self.max_iter)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mitigator.fit(_dense(X), np.asarray(y).astype(int), sensitive_features=group_labels(sensitive_features))
        self.mitigator_ = mitigator
        self.classes_ = np.array([0, 1])
        self.n_predictors_ = int((mitigator.weights_ > 0).sum())
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pmf = self.mitigator_._pmf_predict(_dense(X))
        return np.clip(np.asarray(pmf, dtype=float), 0.0, 1.0)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class _Scores(BaseEstimator):
    """The scores ThresholdOptimizer thresholds are the first column of what it is given (computed beforehand)."""

    def fit(self, X: Any, y: Any = None) -> _Scores:
        self.fitted_ = True
        return self

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(X, dtype=float)[:, 0]


class ThresholdClassifier(ClassifierMixin, BaseEstimator):
    """Per-group thresholds over ``model``'s probability of the positive class; reads ``sensitive`` from the rows."""

    def __init__(self, model: AtelierModel | None = None, sensitive: str = "", constraint: str = DEMOGRAPHIC_PARITY):
        self.model = model
        self.sensitive = sensitive
        self.constraint = constraint

    def _scores(self, X: pd.DataFrame) -> np.ndarray:
        assert self.model is not None
        return np.asarray(self.model.raw(X[self.model.feature_names]), dtype=float)[:, 1]

    def fit(self, X: pd.DataFrame, y: Any) -> ThresholdClassifier:
        from fairlearn.postprocessing import ThresholdOptimizer

        if self.constraint not in CONSTRAINTS:
            choices = " or ".join(CONSTRAINTS)
            raise FairnessError("constraint", f"Unknown constraint {self.constraint!r}; choose {choices}.")
        groups = group_labels(X[self.sensitive])
        optimizer = ThresholdOptimizer(
            estimator=_Scores().fit(None),
            constraints=self.constraint,
            objective="accuracy_score",
            prefit=True,
            predict_method="predict",
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            optimizer.fit(self._scores(X).reshape(-1, 1), np.asarray(y).astype(int), sensitive_features=groups)
        self.optimizer_ = optimizer
        self.groups_ = sorted({str(g) for g in groups})
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        scores = self._scores(X)
        groups = group_labels(X[self.sensitive])
        positive = scores.copy()  # a group never seen at fit keeps the model's own probability
        known = np.isin(groups, self.groups_)
        if known.any():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pmf = self.optimizer_._pmf_predict(scores[known].reshape(-1, 1), sensitive_features=groups[known])
            positive[known] = np.asarray(pmf, dtype=float)[:, 1]
        positive = np.clip(positive, 0.0, 1.0)
        return np.column_stack([1.0 - positive, positive])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def thresholds(self) -> dict[str, dict[str, Any]]:
        """Per group: the rule ThresholdOptimizer chose (thresholds on the probability of the positive class and how
        often each applies)."""
        out: dict[str, dict[str, Any]] = {}
        for group, rule in self.optimizer_.interpolated_thresholder_.interpolation_dict.items():
            out[str(group)] = {
                "p0": round(float(rule.p0), 6),
                "operation0": str(rule.operation0),
                "p1": round(float(rule.p1), 6),
                "operation1": str(rule.operation1),
                **({"p_ignore": round(float(rule.p_ignore), 6)} if "p_ignore" in rule else {}),
            }
        return out


def _base_estimator(algorithm: str, seed: int, n_jobs: int) -> Any:
    if algorithm == LINEAR:
        return LogisticRegression(C=1.0, max_iter=1000, random_state=seed)
    if algorithm == LIGHTGBM:
        import lightgbm as lgb

        return lgb.LGBMClassifier(
            n_estimators=100,
            learning_rate=0.1,
            num_leaves=15,
            min_child_samples=20,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            random_state=seed,
            n_jobs=n_jobs,
            verbose=-1,
        )
    raise FairnessError("base", f"Unknown base algorithm {algorithm!r}; choose {' or '.join(BASE_ALGORITHMS)}.")


_PREP = {
    LINEAR: PrepSpec(scale=True, one_hot=True, max_one_hot=64, sparse_text=False),
    LIGHTGBM: PrepSpec(native_trees=True, one_hot=False, sparse_text=False),
}


def _fit_reduction(data: Data, rows: np.ndarray, groups: np.ndarray, option: dict[str, Any], seed: int) -> Pipeline:
    base = option.get("base") or LINEAR
    prep = build_preprocessor(data.kinds, _PREP[base], data.n_rows)
    Xt = prep.fit_transform(data.X.iloc[rows])
    # one thread: many small fits; OpenMP threads spinning on a busy machine made them 20x slower
    model = ReductionClassifier(_base_estimator(base, seed, 1), option["constraint"])
    model.fit(Xt, data.y[rows], sensitive_features=groups[rows])
    return Pipeline([("prep", prep), ("model", model)])


# --------------------------------------------------------------------------------------------------- options
def clean_fairness(option: Any, columns: list[str], target: str) -> dict[str, Any]:
    """The fairness option as ``{mitigator, constraint, sensitive, base}``; FairnessError naming the key at fault."""
    if not isinstance(option, dict):
        raise FairnessError("fairness", "The fairness option must be an object {mitigator, constraint, sensitive}.")
    mitigator = str(option.get("mitigator") or EXPONENTIATED_GRADIENT)
    if mitigator not in MITIGATORS:
        raise FairnessError("mitigator", f"Unknown mitigator {mitigator!r}; choose {' or '.join(MITIGATORS)}.")
    constraint = str(option.get("constraint") or "")
    if constraint not in CONSTRAINTS:
        raise FairnessError("constraint", f"Unknown constraint {constraint!r}; choose {' or '.join(CONSTRAINTS)}.")
    sensitive = str(option.get("sensitive") or "").strip()
    if not sensitive:
        raise FairnessError("sensitive", "Choose the sensitive column (the groups the constraint compares).")
    if sensitive not in columns:
        raise FairnessError(
            "sensitive",
            f"The sensitive column {sensitive!r} is not in the data; its columns are: " + ", ".join(columns[:30]) + ".",
        )
    if sensitive == target:
        raise FairnessError("sensitive", "The sensitive column cannot be the target.")
    base = str(option.get("base") or LIGHTGBM)
    if base not in BASE_ALGORITHMS:
        raise FairnessError("base", f"Unknown base algorithm {base!r}; choose {' or '.join(BASE_ALGORITHMS)}.")
    return {"mitigator": mitigator, "constraint": constraint, "sensitive": sensitive, "base": base}


# --------------------------------------------------------------------------------------------------- a fair build
def fit_fair(
    df: pd.DataFrame, config: BuildConfig, option: dict[str, Any], *, progress: Say | None = None
) -> BuildResult:
    """A build whose model is ExponentiatedGradient with the option's constraint (binary targets only).

    Validated out of fold on FAIR_FOLDS folds next to the unmitigated base algorithm (Canvas's own fit of it, with
    the same folds), so the report states what the constraint cost in accuracy and what it bought in parity; then
    refitted on all rows. The leaderboard holds both: the mitigated model (the build's model) and the unmitigated
    reference (selectable: refitted on request like any candidate)."""
    say: Say = progress or (lambda fraction, message: None)
    start = time.monotonic()
    if any(not isinstance(c, str) for c in df.columns):
        df = df.rename(columns=str)
    option = clean_fairness(option, list(df.columns), config.target)
    with threadpool_limits(limits=config.n_jobs):
        say(0.02, "Checking the data")
        p = prepare(df, config)
        if p.problem_type != BINARY:
            raise FairnessError(
                "target",
                f"A fairness-constrained build needs a binary target; {config.target!r} is a {p.problem_type} target.",
            )
        data, metric = p.data, p.metric
        groups = group_labels(df[option["sensitive"]].iloc[p.target.rows])
        names = check_groups(groups, option["sensitive"])
        folds = make_folds(data.y, BINARY, config.seed, config.validation, n_splits=FAIR_FOLDS)
        base = option["base"]
        say(0.05, f"Validating the unmitigated {LABELS[base]} on {len(folds.splits)} fold(s)")
        base_params = get_algorithm(base).defaults(BINARY, data.n_rows)[0]
        reference = evaluate_candidate(
            data, folds, metric, base, dict(base_params), deadline=time.monotonic() + 1e9, measure=False
        )
        oof = np.full((data.n_rows, 2), np.nan)
        fit_s: list[float] = []
        for i, (train, val) in enumerate(folds.splits):
            say(0.15 + 0.5 * i / len(folds.splits), f"Exponentiated gradient: fold {i + 1} of {len(folds.splits)}")
            t = time.monotonic()
            pipe = _fit_reduction(data, train, groups, option, config.seed)
            fit_s.append(time.monotonic() - t)
            oof[val] = pipe.predict_proba(data.X.iloc[val])
        rows = reference.validated
        y = data.y[rows]
        say(0.7, "Refitting the mitigated model on all rows")
        refit_start = time.monotonic()
        pipe = _fit_reduction(data, np.arange(data.n_rows), groups, option, config.seed)
        refit_s = time.monotonic() - refit_start
        name = f"{EXPONENTIATED_GRADIENT}-{option['constraint']}"
        model = AtelierModel(
            BINARY,
            config.target,
            metric.name,
            p.target.classes,
            feature_specs(df, p.X, p.kinds),
            [str(c) for c in df.columns if c not in p.kinds],
            [Member(name, EXPONENTIATED_GRADIENT, 1.0, pipe)],
            1.0,
            typical_values(p.X, p.kinds),
            floor=0.0,
        )
        say(0.85, "Analysing the model")
        analysis = analysis_for(BINARY, y, oof[rows], p.target.classes)
        latency, size = measure_model(pipe, p.X.iloc[folds.splits[0][1]])
        mitigated = fairness_metrics(y, oof[rows].argmax(axis=1), groups[rows])
        unmitigated = fairness_metrics(y, reference.oof[rows].argmax(axis=1), groups[rows])
    score = _natural(metric, metric.score(y, oof[rows]))
    entry = {
        "name": name,
        "algorithm": EXPONENTIATED_GRADIENT,
        "algorithm_label": f"{MITIGATOR_LABELS[EXPONENTIATED_GRADIENT]}, {CONSTRAINT_LABELS[option['constraint']]}"
        f" on {option['sensitive']}, over {LABELS[base]}",
        "trial": None,
        "params": {**option, "eps": EG_EPS, "max_iter": EG_MAX_ITER, "n_predictors": pipe[-1].n_predictors_},
        "score": score,
        "metrics": all_metrics(BINARY, y, oof[rows]),
        "fit_time_s": round(float(np.median(fit_s)), 4),
        "cv_time_s": round(float(sum(fit_s)), 4),
        "iterations": None,
        "predict_ms_per_row": latency,
        "model_size_bytes": size,
        "ensemble_weight": None,
        "best": True,
        "rank": 1,
    }
    reference_name = f"{base}-unmitigated"
    reference_entry = {
        "name": reference_name,
        "algorithm": base,
        "algorithm_label": f"{LABELS[base]} (unmitigated reference)",
        "trial": None,
        "params": _params(base_params),
        "score": _natural(metric, reference.score),
        "metrics": all_metrics(BINARY, y, reference.oof[rows]),
        "fit_time_s": round(reference.fit_time_s, 4),
        "cv_time_s": round(reference.wall_s, 4),
        "iterations": None,
        "predict_ms_per_row": None,
        "model_size_bytes": None,
        "ensemble_weight": None,
        "best": False,
        "rank": 2,
    }
    report = {
        "problem_type": BINARY,
        "objective": metric.name,
        "objective_direction": metric.direction,
        "target": config.target,
        "classes": list(p.target.classes),
        "mode": config.mode,
        "checks": p.checks,
        "validation": folds.as_dict(),
        "rows_used": int(data.n_rows),
        "leaderboard": [entry, reference_entry],
        "best": name,
        "best_score": score,
        "ensemble": None,
        "calibration": {"temperature": 1.0, "floor": 0.0},
        "analysis": analysis,
        "schema": model.schema(),
        "typical_values": model.typical,
        "trials": {"total": 2, "complete": 2, "pruned": 0, "failed": 0, "timeout": 0},
        "final_models": [{"name": name, "how": "refit on all rows"}],
        "fairness": {
            **option,
            "groups": names,
            "evaluated_on": f"out-of-fold predictions ({len(folds.splits)} folds, {int(rows.sum()):,} rows)",
            "unmitigated_candidate": reference_name,
            "mitigated": mitigated,
            "unmitigated": unmitigated,
            "comparison": _compare(unmitigated, mitigated, option["constraint"]),
        },
        "timings": {
            "budget_s": None,
            "search_s": round(reference.wall_s + sum(fit_s), 3),
            "refit_s": round(refit_s, 3),
            "analysis_s": None,
            "elapsed_s": round(time.monotonic() - start, 3),
        },
    }
    say(1.0, "Done")
    return BuildResult(model, report)


# --------------------------------------------------------------------------------------------------- thresholds
def threshold_model(
    model: AtelierModel,
    df: pd.DataFrame,
    *,
    sensitive: str,
    constraint: str,
    name: str,
    base_name: str = "",
    progress: Say | None = None,
) -> BuildResult:
    """``model`` with per-group thresholds (ThresholdOptimizer, objective accuracy) chosen on ``df``'s labelled rows.

    The thresholds are chosen on the model's predictions for the rows given (the build's training rows: the model
    has seen them, which the report says); the report compares the model before and after on the same rows."""
    say: Say = progress or (lambda fraction, message: None)
    start = time.monotonic()
    if model.problem_type != BINARY:
        raise FairnessError(
            "candidate", f"Per-group thresholds need a binary classifier; this model is {model.problem_type}."
        )
    if constraint not in CONSTRAINTS:
        raise FairnessError("constraint", f"Unknown constraint {constraint!r}; choose {' or '.join(CONSTRAINTS)}.")
    if sensitive not in model.feature_names:
        raise FairnessError(
            "sensitive",
            f"The sensitive column {sensitive!r} is not an input of the model, and per-group thresholds read it "
            "at every prediction. The model reads: " + ", ".join(model.feature_names[:30]) + ".",
        )
    if model.target not in df.columns:
        raise FairnessError("target", f"The data has no target column {model.target!r}.")
    labelled = df[df[model.target].notna()].reset_index(drop=True)
    target = encode_target(labelled[model.target], BINARY, model.classes[1])
    if [str(c) for c in target.classes] != [str(c) for c in model.classes]:
        raise FairnessError("target", f"The data's classes {target.classes} are not the model's {list(model.classes)}.")
    X = check_rows(model, labelled.iloc[target.rows].reset_index(drop=True), allow_extra=True)
    y = target.y
    groups = group_labels(X[sensitive])
    names = check_groups(groups, sensitive)
    say(0.1, "Choosing per-group thresholds")
    step = ThresholdClassifier(model, sensitive, constraint).fit(X, y)
    pipe = Pipeline([("model", step)])
    fitted = AtelierModel(
        BINARY,
        model.target,
        model.objective,
        list(model.classes),
        list(model.features),
        list(model.ignored_columns),
        [Member(name, THRESHOLD_OPTIMIZER, 1.0, pipe)],
        1.0,
        dict(model.typical),
        floor=0.0,
    )
    say(0.6, "Comparing the model before and after")
    before_proba = model.raw(X)
    after_proba = fitted.raw(X)
    before = fairness_metrics(y, before_proba.argmax(axis=1), groups)
    after = fairness_metrics(y, after_proba.argmax(axis=1), groups)
    from .metrics import resolve_objective

    metric = resolve_objective(BINARY, model.objective)
    score = _natural(metric, metric.score(y, after_proba))
    latency, size = measure_model(pipe, X)
    option = {"mitigator": THRESHOLD_OPTIMIZER, "constraint": constraint, "sensitive": sensitive, "base": base_name}
    entry = {
        "name": name,
        "algorithm": THRESHOLD_OPTIMIZER,
        "algorithm_label": f"{MITIGATOR_LABELS[THRESHOLD_OPTIMIZER]}, {CONSTRAINT_LABELS[constraint]} on "
        f"{sensitive}, over {base_name or 'the model'}",
        "trial": None,
        "params": {"base": base_name, "sensitive": sensitive, "constraint": constraint, "objective": "accuracy_score"},
        "score": score,
        "metrics": all_metrics(BINARY, y, after_proba),
        "fit_time_s": round(time.monotonic() - start, 4),
        "cv_time_s": None,
        "iterations": None,
        "predict_ms_per_row": latency,
        "model_size_bytes": size,
        "ensemble_weight": None,
        "best": False,
        "rank": None,
    }
    report = {
        "problem_type": BINARY,
        "objective": metric.name,
        "objective_direction": metric.direction,
        "target": model.target,
        "classes": list(model.classes),
        "validation": {"method": "training rows", "n_splits": 0, "validation_rows": len(y)},
        "rows_used": len(y),
        "leaderboard": [entry],
        "best": name,
        "best_score": score,
        "ensemble": None,
        "calibration": {"temperature": 1.0, "floor": 0.0},
        "analysis": {
            **analysis_for(BINARY, y, after_proba, list(model.classes)),
            "source": "predictions on the training rows",
        },
        "schema": fitted.schema(),
        "typical_values": fitted.typical,
        "trials": {"total": 1, "complete": 1, "pruned": 0, "failed": 0, "timeout": 0},
        "final_models": [{"name": name, "how": f"per-group thresholds over {base_name or 'the model'}"}],
        "fairness": {
            **option,
            "groups": names,
            "thresholds": step.thresholds(),
            "evaluated_on": f"the training rows ({len(y):,}), which the base model has seen",
            "mitigated": after,
            "unmitigated": before,
            "comparison": _compare(before, after, constraint),
        },
        "timings": {"elapsed_s": round(time.monotonic() - start, 3)},
    }
    say(1.0, "Done")
    return BuildResult(fitted, report)
