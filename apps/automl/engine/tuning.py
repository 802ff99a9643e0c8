"""The tuning-service core (AMT): a job spec validated from JSON, strategies mapped onto Optuna samplers and
pruners, completion criteria, warm start, and one-trial evaluation so that Celery tasks on several hosts can
share one Optuna study through a storage URL (RDB: sqlite:///…, postgresql://…; journal: journal:///path.log).

A worker task does: ``study = open_study(spec, storage_url)`` then ``run_worker(study, spec, X, y, ...)`` — each
call asks the shared study for trials until its own trial count or the study's completion criteria say stop.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import optuna
import pandas as pd

from .algorithms import ALGORITHMS, get_algorithm
from .columns import encode_target, infer_columns, validate_problem_type
from .evaluate import Data, Folds, TrialPruned, TrialTimeout, evaluate_candidate, make_folds
from .metrics import all_metrics, resolve_objective
from .space import ParamRange, SpecError, parse_range

STRATEGIES = ("random", "bayesian", "grid", "hyperband")
STORAGE_ATTEMPTS = 5
EARLY_STOPPING = ("off", "auto")
USABLE_KINDS = ("numeric", "categorical", "boolean", "datetime", "text")


@dataclass
class Completion:
    """Stop when the objective reaches ``target_value``, or when the best has not improved by
    ``min_improvement`` (relative, 0.01 = 1 %) within the last ``patience`` finished trials."""

    target_value: float | None = None
    patience: int | None = None
    min_improvement: float = 0.01


@dataclass
class TuningSpec:
    algorithm: str
    problem_type: str
    objective: str
    ranges: dict[str, ParamRange]
    strategy: str = "bayesian"
    early_stopping: str = "off"  # "auto" = median rule on per-fold reports
    max_trials: int = 20
    max_parallel: int = 1
    seed: int = 0
    grid_points: int = 3
    completion: Completion = field(default_factory=Completion)
    fixed: dict[str, Any] = field(default_factory=dict)  # static hyperparameters

    @property
    def direction(self) -> Literal["minimize", "maximize"]:
        return "maximize" if resolve_objective(self.problem_type, self.objective).greater_is_better else "minimize"


def default_ranges(algorithm: str, problem_type: str, n_rows: int = 10_000) -> dict[str, dict[str, Any]]:
    """The built-in ranges of an algorithm as JSON (what the UI pre-fills)."""
    return {r.name: r.as_dict() for r in get_algorithm(algorithm).ranges(problem_type, n_rows)}


def parse_spec(raw: dict[str, Any]) -> TuningSpec:
    """Validate a tuning job spec from JSON; SpecError names the field at fault."""
    if not isinstance(raw, dict):
        raise SpecError("The tuning spec must be an object.")
    algorithm = raw.get("algorithm")
    if algorithm not in ALGORITHMS:
        raise SpecError(f"algorithm must be one of {', '.join(ALGORITHMS)}.", "algorithm")
    problem_type = raw.get("problem_type")
    if problem_type not in ("binary", "multiclass", "regression"):
        raise SpecError("problem_type must be binary, multiclass or regression.", "problem_type")
    try:
        objective = resolve_objective(problem_type, raw.get("objective")).name
    except ValueError as exc:
        raise SpecError(str(exc), "objective") from None
    strategy = raw.get("strategy", "bayesian")
    if strategy not in STRATEGIES:
        raise SpecError(f"strategy must be one of {', '.join(STRATEGIES)}.", "strategy")
    early = raw.get("early_stopping", "off")
    if early not in EARLY_STOPPING:
        raise SpecError("early_stopping must be 'off' or 'auto'.", "early_stopping")
    known = get_algorithm(algorithm).range_map(problem_type, 10_000)
    raw_ranges = raw.get("ranges")
    if raw_ranges is None:
        ranges = dict(known)
    elif not isinstance(raw_ranges, dict) or not raw_ranges:
        raise SpecError("ranges must be a non-empty object of hyperparameter ranges.", "ranges")
    else:
        ranges = {}
        for name, r in raw_ranges.items():
            if name not in known:
                raise SpecError(
                    f"{algorithm} has no tunable hyperparameter {name!r}; tunable: {', '.join(known)}.",
                    f"ranges.{name}",
                )
            ranges[name] = parse_range(name, r)
    fixed = raw.get("static_hyperparameters", {}) or {}
    if not isinstance(fixed, dict) or any(k not in known for k in fixed):
        raise SpecError(f"static_hyperparameters may only set: {', '.join(known)}.", "static_hyperparameters")
    ints = {}
    for key, low, default in (("max_trials", 1, 20), ("max_parallel", 1, 1), ("grid_points", 2, 3), ("seed", 0, 0)):
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise SpecError(f"{key} must be a whole number >= {low}.", key)
        ints[key] = value
    comp_raw = raw.get("completion", {}) or {}
    if not isinstance(comp_raw, dict):
        raise SpecError("completion must be an object.", "completion")
    target = comp_raw.get("target_value")
    patience = comp_raw.get("patience")
    min_imp = comp_raw.get("min_improvement", 0.01)
    if target is not None and (isinstance(target, bool) or not isinstance(target, (int, float))):
        raise SpecError("completion.target_value must be a number.", "completion.target_value")
    if patience is not None and (isinstance(patience, bool) or not isinstance(patience, int) or patience < 1):
        raise SpecError("completion.patience must be a whole number >= 1.", "completion.patience")
    if isinstance(min_imp, bool) or not isinstance(min_imp, (int, float)) or min_imp < 0:
        raise SpecError("completion.min_improvement must be a number >= 0.", "completion.min_improvement")
    return TuningSpec(
        algorithm,
        problem_type,
        objective,
        ranges,
        strategy,
        early,
        ints["max_trials"],
        ints["max_parallel"],
        ints["seed"],
        ints["grid_points"],
        Completion(target, patience, float(min_imp)),
        dict(fixed),
    )


# --------------------------------------------------------------------------------------------------- studies
class GridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler for ask-and-tell use: its own stop() call only works inside study.optimize, so
    workers check ``is_exhausted`` instead."""

    def after_trial(self, study: optuna.Study, trial: Any, state: Any, values: Any) -> None:
        return None


def make_sampler(spec: TuningSpec, worker: int = 0) -> optuna.samplers.BaseSampler:
    """Each worker of a shared study gets its own seed (seed + worker): with one seed, parallel workers would draw
    the same random settings. With several workers, TPE lies about running trials (constant liar) so that they
    do not all try the same promising point."""
    seed = spec.seed + 7919 * worker
    if spec.strategy == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if spec.strategy == "grid":
        space = {name: r.grid(spec.grid_points) for name, r in spec.ranges.items()}
        return GridSampler(space, seed=seed)
    return optuna.samplers.TPESampler(
        seed=seed,
        n_startup_trials=min(10, max(3, spec.max_trials // 4)),
        multivariate=True,
        constant_liar=spec.max_parallel > 1,
    )


def make_pruner(spec: TuningSpec) -> optuna.pruners.BasePruner:
    if spec.strategy == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, reduction_factor=3)
    if spec.early_stopping == "auto":  # median rule: stop a trial whose running score is below the median
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    return optuna.pruners.NopPruner()


def storage_for(url: str | None) -> optuna.storages.BaseStorage | None:
    """An Optuna storage from a URL: journal:///path.log → journal file; sqlite/postgresql/mysql → RDB."""
    if url is None:
        return None
    if url.startswith("journal://"):
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(url[len("journal://") :]))
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.pool import NullPool

    # No pool: a web request or a worker that reads a study must not keep database sessions open after it.
    engine_kwargs: dict[str, Any] = {"poolclass": NullPool}
    if url.startswith("sqlite"):
        engine_kwargs["connect_args"] = {"timeout": 60}
    for attempt in range(STORAGE_ATTEMPTS):
        try:
            return optuna.storages.RDBStorage(url, heartbeat_interval=None, engine_kwargs=engine_kwargs)
        except SQLAlchemyError:
            # Two processes creating Optuna's tables in a fresh database at once: one loses the race
            # (PostgreSQL: duplicate pg_type entry); the tables exist on the next try.
            if attempt == STORAGE_ATTEMPTS - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def open_study(spec: TuningSpec, study_name: str, storage_url: str | None = None, worker: int = 0) -> optuna.Study:
    """Create or join the shared study (same name + storage from every worker; ``worker`` numbers them 0…)."""
    return optuna.create_study(
        study_name=study_name,
        storage=storage_for(storage_url),
        load_if_exists=True,
        direction=spec.direction,
        sampler=make_sampler(spec, worker),
        pruner=make_pruner(spec),
    )


def warm_start(study: optuna.Study, spec: TuningSpec, parents: list[optuna.Study], top: int = 3) -> int:
    """Enqueue the best parameters of earlier studies (clipped to this spec's ranges); returns how many."""
    n = 0
    for parent in parents:
        sign = 1.0 if parent.direction == optuna.study.StudyDirection.MINIMIZE else -1.0
        scored = [
            (sign * float(t.value), t)
            for t in parent.trials
            if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None
        ]
        scored.sort(key=lambda pair: pair[0])
        for _, t in scored[:top]:
            params = {k: v for k, v in t.params.items() if k in spec.ranges and spec.ranges[k].contains(v)}
            if params:
                study.enqueue_trial(params, skip_if_exists=True)
                n += 1
    return n


def should_stop(study: optuna.Study, completion: Completion) -> str | None:
    """The completion criterion that is met, if any."""
    done = sorted(
        (t.number, float(t.value))
        for t in study.trials
        if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None
    )
    if not done:
        return None
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    values = [v for _, v in done]
    best = max(values) if maximize else min(values)
    if completion.target_value is not None:
        if (maximize and best >= completion.target_value) or (not maximize and best <= completion.target_value):
            return "target_value_reached"
    if completion.patience and len(done) > completion.patience:
        earlier = values[: -completion.patience]
        before = max(earlier) if maximize else min(earlier)
        gain = (best - before) if maximize else (before - best)
        if gain <= completion.min_improvement * max(abs(before), 1e-12):
            return "no_improvement"
    return None


# --------------------------------------------------------------------------------------------------- one trial
def prepare_data(X: pd.DataFrame, y: pd.Series, problem_type: str, *, seed: int = 0, n_jobs: int = 1) -> Data:
    """Features typed and the target encoded the same way the AutoML builds do."""
    pt = validate_problem_type(problem_type, y.dropna())
    target = encode_target(y.reset_index(drop=True), pt)
    kinds = {c: i.kind for c, i in infer_columns(X).items() if i.kind in USABLE_KINDS}
    Xu = X.reset_index(drop=True).iloc[target.rows][list(kinds)].reset_index(drop=True)
    return Data(Xu, target.y, kinds, pt, len(target.classes), seed, n_jobs)


def cv_folds(data: Data, cv: dict[str, Any] | None = None) -> Folds:
    """The CV spec: {"method": "cv"|"holdout"|None, "n_splits": k?, "seed": s?}; same spec → same splits."""
    cv = cv or {}
    return make_folds(data.y, data.problem_type, int(cv.get("seed", 0)), cv.get("method"), cv.get("n_splits"))


def evaluate_trial(
    algorithm: str,
    params: dict[str, Any],
    data: Data,
    folds: Folds,
    objective: str,
    *,
    trial: optuna.Trial | None = None,
    timeout_s: float | None = None,
) -> dict[str, Any]:
    """Fit and score ONE hyperparameter setting out of fold. With ``trial``, per-fold running scores are
    reported to it and pruning raises optuna.TrialPruned. Returns plain JSON: value (objective), metrics,
    fit_time_s, iterations."""
    metric = resolve_objective(data.problem_type, objective)
    deadline = time.monotonic() + (timeout_s if timeout_s else 1e9)

    def report(step: int, score: float) -> None:
        if trial is None or not math.isfinite(score):
            return
        trial.report(score if metric.greater_is_better else -score, step)
        if trial.should_prune():
            raise TrialPruned()

    try:
        result = evaluate_candidate(data, folds, metric, algorithm, params, deadline, report=report, measure=False)
    except TrialPruned:
        raise optuna.TrialPruned() from None
    except TrialTimeout as exc:
        raise TimeoutError(str(exc)) from None
    metrics = all_metrics(data.problem_type, data.y[result.validated], result.oof[result.validated])
    iters = [i for i in result.iterations if i]
    return {
        "value": metrics[metric.name],
        "metrics": metrics,
        "fit_time_s": round(result.fit_time_s, 4),
        "iterations": int(np.mean(iters)) if iters else None,
    }


STOP_ATTR = "atelier_stop_reason"


def stop_study(study: optuna.Study, reason: str) -> None:
    """Tell every worker of the shared study to stop before its next trial."""
    study.set_user_attr(STOP_ATTR, reason)


def fail_running_trials(study: optuna.Study, worker: str | None = None) -> int:
    """Mark RUNNING trials as failed: one worker's own (it restarted after being killed) or all (the job is over).
    Returns how many."""
    n = 0
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if worker is None or t.user_attrs.get("worker") == worker:
            study.tell(t.number, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
            n += 1
    return n


def run_worker(
    study: optuna.Study,
    spec: TuningSpec,
    data: Data,
    folds: Folds,
    *,
    n_trials: int,
    worker: str = "worker",
    timeout_s: float | None = None,
    trial_timeout_s: float | None = None,
) -> dict[str, Any]:
    """One worker's share of a tuning job: ask the shared study, evaluate, tell; stop at ``n_trials`` of its own,
    at spec.max_trials across all workers, at ``timeout_s``, or when a completion criterion is met."""
    start = time.monotonic()
    ran = 0
    stop_reason = "trials"
    while ran < n_trials:
        stopped = study.user_attrs.get(STOP_ATTR)
        if stopped:
            stop_reason = str(stopped)
            break
        # Running trials count too: with several workers, max_trials is never overshot.
        started = sum(1 for t in study.trials if t.state != optuna.trial.TrialState.WAITING)
        if started >= spec.max_trials:
            stop_reason = "max_trials"
            break
        sampler = study.sampler
        if isinstance(sampler, optuna.samplers.GridSampler) and sampler.is_exhausted(study):
            stop_reason = "grid_done"
            break
        reason = should_stop(study, spec.completion)
        if reason:
            stop_reason = reason
            break
        if timeout_s is not None and time.monotonic() - start > timeout_s:
            stop_reason = "timeout"
            break
        trial = study.ask()
        trial.set_user_attr("worker", worker)
        params = {**spec.fixed, **{name: r.suggest(trial) for name, r in spec.ranges.items()}}
        try:
            out = evaluate_trial(
                spec.algorithm, params, data, folds, spec.objective, trial=trial, timeout_s=trial_timeout_s
            )
        except optuna.TrialPruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        except Exception as exc:  # noqa: BLE001 - a failed trial is recorded; the worker goes on with the next
            trial.set_user_attr("error", f"{type(exc).__name__}: {exc}")
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            trial.set_user_attr("metrics", out["metrics"])
            trial.set_user_attr("fit_time_s", out["fit_time_s"])
            value = out["value"]
            study.tell(
                trial,
                value if value is not None else None,
                state=None if value is not None else optuna.trial.TrialState.FAIL,
            )
        ran += 1
    return {"worker": worker, "trials_run": ran, "stop_reason": stop_reason}


def study_summary(study: optuna.Study) -> dict[str, Any]:
    """Plain JSON for the UI: every trial with state, params, value, worker; the best trial."""
    complete = optuna.trial.TrialState.COMPLETE
    # A pruned trial's value is its last partial score (a few folds): shown apart, never as a result.
    trials = [
        {
            "number": t.number,
            "state": t.state.name.lower(),
            "params": t.params,
            "value": t.value if t.state == complete else None,
            "partial": t.value if t.state == optuna.trial.TrialState.PRUNED else None,
            "worker": t.user_attrs.get("worker"),
            "metrics": t.user_attrs.get("metrics"),
            "error": t.user_attrs.get("error"),
        }
        for t in study.trials
    ]
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = None
    if done:
        bt = study.best_trial
        best = {"number": bt.number, "params": bt.params, "value": bt.value}
    return {"direction": study.direction.name.lower(), "trials": trials, "best": best}
