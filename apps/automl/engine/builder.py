"""A Canvas build: checks → search inside the budget → ensemble → refit on all rows → analysis → plain JSON."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from .algorithms import ALGORITHMS, EXTRA_TREES, HIST_GB, KNN, KNN_MAX_ROWS, LIGHTGBM, LINEAR, RANDOM_FOREST
from .analysis import IMPORTANCE_REPEATS, IMPORTANCE_ROWS, analysis_for, permutation_importance
from .checks import check_data, has_errors
from .columns import FEATURE_KINDS, IDENTIFIER, EncodedTarget, encode_target, infer_columns, validate_problem_type
from .ensemble import Blend, apply_temperature, blend, caruana, fit_calibration, min_floor
from .evaluate import CandidateResult, Data, Folds, make_folds, measure_model, parallel_folds, refit
from .metrics import REGRESSION, Metric, all_metrics, resolve_objective
from .model import AtelierModel, Member, feature_specs, typical_values
from .report import leaderboard
from .search import CancelFn, ProgressFn, Searcher

MODES: dict[str, dict[str, Any]] = {
    "quick": {
        "budget_s": 120.0,
        "algorithms": [LIGHTGBM, LINEAR, EXTRA_TREES, HIST_GB, RANDOM_FOREST],
        "pool": 10,
        "rounds": 30,
    },
    "standard": {"budget_s": 900.0, "algorithms": list(ALGORITHMS), "pool": 25, "rounds": 60},
}
FINISH_SAFETY = 1.25  # refit estimates are multiplied by this when reserving time for the finish
MIN_FINISH_S = 0.3
REFIT_GRACE = 0.05  # a refit may run this fraction of the budget past it rather than be cut short
ANALYSIS_SHARE = 0.05  # permutation importance gets at most this fraction of the budget


class BuildError(ValueError):
    """The checklist has errors; ``checks`` holds the whole list."""

    def __init__(self, checks: list[dict[str, Any]]) -> None:
        errors = [c["message"] for c in checks if c["severity"] == "error"]
        super().__init__("The data cannot be used: " + " ".join(errors))
        self.checks = checks


@dataclass
class BuildConfig:
    target: str
    problem_type: str | None = None
    objective: str | None = None
    mode: str = "quick"
    time_budget_s: float | None = None
    seed: int = 0
    n_jobs: int = 2
    algorithms: list[str] | None = None
    exclude_columns: list[str] = field(default_factory=list)
    leaky_columns: list[str] = field(default_factory=list)
    drop_identifiers: bool = True
    ensemble: bool = True
    validation: str | None = None  # "cv" | "holdout" | None (by size)
    max_trials: int | None = None  # stop after this many trials (reproducible runs)
    positive_class: Any = None


@dataclass
class BuildResult:
    model: AtelierModel
    report: dict[str, Any]


class _Clock:
    def __init__(self, budget: float) -> None:
        self.start = time.monotonic()
        self.end = self.start + budget
        self.budget = budget

    def left(self) -> float:
        return self.end - time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.start


@dataclass
class Prepared:
    """A frame checked and split into typed features and an encoded target, as every fit of a build sees it."""

    checks: list[dict[str, Any]]
    problem_type: str
    metric: Metric
    target: EncodedTarget
    kinds: dict[str, str]
    X: pd.DataFrame
    data: Data


def prepare(df: pd.DataFrame, config: BuildConfig) -> Prepared:
    """Run the checklist (errors raise BuildError), type the columns and encode the target."""
    columns = infer_columns(df, config.target)
    checks = check_data(
        df,
        config.target,
        problem_type=config.problem_type,
        leaky_columns=config.leaky_columns,
        exclude_columns=config.exclude_columns,
        drop_identifiers=config.drop_identifiers,
        seed=config.seed,
        columns=columns,
    )
    if has_errors(checks):
        raise BuildError(checks)
    y_series = df[config.target]
    problem_type = validate_problem_type(config.problem_type, y_series.dropna())
    metric = resolve_objective(problem_type, config.objective)
    target = encode_target(y_series, problem_type, config.positive_class)
    excluded = set(config.exclude_columns)
    usable = [k for k in FEATURE_KINDS] + ([] if config.drop_identifiers else [IDENTIFIER])
    kinds = {
        c: ("categorical" if i.kind == IDENTIFIER else i.kind)
        for c, i in columns.items()
        if i.kind in usable and c not in excluded
    }
    X = df.iloc[target.rows][list(kinds)].reset_index(drop=True)
    data = Data(X, target.y, kinds, problem_type, len(target.classes), config.seed, config.n_jobs)
    return Prepared(checks, problem_type, metric, target, kinds, X, data)


def build(
    df: pd.DataFrame, config: BuildConfig, *, progress: ProgressFn | None = None, cancel: CancelFn | None = None
) -> BuildResult:
    """Train, compare and pick a model for ``config.target`` within the time budget (all steps included)."""
    if config.mode not in MODES:
        raise ValueError(f"Unknown mode {config.mode!r}; expected quick or standard.")
    mode = MODES[config.mode]
    budget = float(config.time_budget_s or mode["budget_s"])
    if budget <= 0:
        raise ValueError("The time budget must be positive.")
    clock = _Clock(budget)
    if any(not isinstance(c, str) for c in df.columns):
        df = df.rename(columns=str)
    with threadpool_limits(limits=config.n_jobs):
        return _build(df, config, mode, clock, progress, cancel)


def _build(
    df: pd.DataFrame,
    config: BuildConfig,
    mode: dict[str, Any],
    clock: _Clock,
    progress: ProgressFn | None,
    cancel: CancelFn | None,
) -> BuildResult:
    best_value: list[float | None] = [None]

    def say(message: str, fraction: float | None = None, trials: int = 0) -> None:
        if progress is not None:
            f = min(0.99, clock.elapsed() / clock.budget) if fraction is None else fraction
            progress(round(f, 4), message, best_value[0], trials)

    say("Checking the data", 0.0)
    prepared = prepare(df, config)
    checks, problem_type, metric, target, kinds, X, data = (
        prepared.checks,
        prepared.problem_type,
        prepared.metric,
        prepared.target,
        prepared.kinds,
        prepared.X,
        prepared.data,
    )
    folds = make_folds(data.y, problem_type, config.seed, config.validation)
    algorithms = [a for a in (config.algorithms or mode["algorithms"]) if a in ALGORITHMS]
    if data.n_rows > KNN_MAX_ROWS:
        algorithms = [a for a in algorithms if a != KNN] or [LIGHTGBM]
    if not algorithms:
        raise ValueError(f"No known algorithm selected; choose from {', '.join(ALGORITHMS)}.")

    def metrics_fn(r: CandidateResult) -> dict[str, float | None]:
        return all_metrics(problem_type, data.y[r.validated], r.oof[r.validated])

    searcher = Searcher(
        data,
        folds,
        metric,
        algorithms,
        config.seed,
        int(mode["pool"]),
        metrics_fn,
        lambda m: say(m),
        cancel,
        config.max_trials,
    )
    search_start = time.monotonic()
    # Small data: folds fit side by side on one thread each, and the refit on one thread too.
    with threadpool_limits(limits=1 if parallel_folds(data, folds) > 1 else config.n_jobs):
        _search(searcher, data, clock, metric, best_value, say)
        search_s = time.monotonic() - search_start
        best = searcher.state.best()
        if best is None:
            errors = sorted({t.error for t in searcher.state.trials if t.error})
            raise RuntimeError("No candidate finished within the time budget. " + " ".join(errors[:3]))
        return _finish(
            df,
            config,
            mode,
            clock,
            say,
            checks,
            problem_type,
            metric,
            target,
            kinds,
            X,
            data,
            folds,
            searcher,
            best,
            search_s,
        )


def _search(
    searcher: Searcher,
    data: Data,
    clock: _Clock,
    metric: Metric,
    best_value: list[float | None],
    say: Callable[..., None],
) -> None:
    while not searcher.out_of_trials():
        finish = _finish_estimate(searcher, data, clock.budget)
        search_left = clock.left() - finish
        first = not searcher.state.complete
        if search_left <= 0 and not first:
            break
        # The first candidate may use most of the budget (a booster stops at its deadline with a smaller model).
        share = clock.left() * 0.5 if first else search_left
        trial_deadline = time.monotonic() + max(0.05, share)
        say(f"Trial {searcher.done_trials() + 1} running", trials=searcher.done_trials())
        t = searcher.run_trial(trial_deadline)
        if t is None:
            break
        best = searcher.state.best()
        if best is not None:
            best_value[0] = best.score if metric.greater_is_better else -best.score
        say(f"Trial {t.number} ({t.algorithm}) {t.state}", trials=searcher.done_trials())
        if first and not searcher.state.complete and clock.left() < clock.budget * 0.2:
            break


def _finish(
    df: pd.DataFrame,
    config: BuildConfig,
    mode: dict[str, Any],
    clock: _Clock,
    say: Callable[..., None],
    checks: list[dict[str, Any]],
    problem_type: str,
    metric: Metric,
    target: EncodedTarget,
    kinds: dict[str, str],
    X: pd.DataFrame,
    data: Data,
    folds: Folds,
    searcher: Searcher,
    best: CandidateResult,
    search_s: float,
) -> BuildResult:

    # ---------------------------------------------------------------------------------------- ensemble
    say("Blending the best candidates", trials=searcher.done_trials())
    pool = [r for r in searcher.state.pool if r.oof.size]
    rows = best.validated
    chosen: Blend = Blend([pool.index(best)], [1.0], best.score, 1)
    ensemble_kept = False
    ensemble_info: dict[str, Any] | None = None
    if config.ensemble and len(pool) > 1:
        preds = [r.oof[rows] for r in pool]
        cand = caruana(
            preds,
            data.y[rows],
            metric,
            rounds=int(mode["rounds"]),
            deadline=time.monotonic() + max(0.1, clock.left() * 0.1),
        )
        kept = len(cand.indices) > 1 and cand.score > best.score
        ensemble_info = {
            "kept": bool(kept),
            "score": _natural(metric, cand.score),
            "best_single_score": _natural(metric, best.score),
            "members": [
                {"name": _name(pool[i], searcher), "weight": round(w, 4)}
                for i, w in zip(cand.indices, cand.weights, strict=True)
            ],
        }
        if kept:
            chosen, ensemble_kept = cand, True
    members = [(pool[i], w) for i, w in zip(chosen.indices, chosen.weights, strict=True)]
    oof = blend([r.oof[rows] for r, _ in members], [w for _, w in members])
    temperature, floor = 1.0, 0.0
    if problem_type != REGRESSION:
        floor = min_floor(data.n_rows)
        if metric.name == "log_loss":
            temperature, floor = fit_calibration(oof, data.y[rows], metric, data.n_rows)
        oof = apply_temperature(oof, temperature, floor)

    # ---------------------------------------------------------------------------------------- refit
    say("Refitting the chosen model on all rows", trials=searcher.done_trials())
    refit_start = time.monotonic()
    fitted: list[Member] = []
    refit_info: list[dict[str, Any]] = []
    # Heaviest members first; one that cannot be refitted in time keeps its first-fold model.
    for r, w in sorted(members, key=lambda m: -m[1]):
        estimate = r.refit_estimate_s(data.n_rows)
        left = clock.left() - _analysis_estimate([m for m, _ in members], data, clock.budget)
        name = _name(r, searcher)
        pipe, how = None, "refit on all rows"
        if estimate <= left + REFIT_GRACE * clock.budget or r.first_model is None:
            # A booster cut short is a poor model: give it at least 1.5× its estimate.
            deadline = time.monotonic() + max(
                1.5 * estimate + 0.5, min(2.0 * estimate, left + REFIT_GRACE * clock.budget)
            )
            pipe, complete = refit(data, r, deadline)
            if not complete and r.first_model is not None:
                pipe, how = None, "the refit ran out of time: the model fitted on the first fold's training rows"
        else:
            how = "no time left for a refit: the model fitted on the first fold's training rows"
        if pipe is None:
            pipe = r.first_model
        assert pipe is not None
        refit_info.append({"name": name, "how": how})
        fitted.append(Member(name, r.algorithm, float(w), pipe))
    refit_s = time.monotonic() - refit_start
    model = AtelierModel(
        problem_type,
        config.target,
        metric.name,
        target.classes,
        feature_specs(df, X, kinds),
        [str(c) for c in df.columns if c not in kinds],
        fitted,
        temperature,
        typical_values(X, kinds),
        floor=floor,
    )

    # ---------------------------------------------------------------------------------------- analysis
    say("Analysing the model", trials=searcher.done_trials())
    analysis_start = time.monotonic()
    analysis = analysis_for(problem_type, data.y[rows], oof, target.classes)
    analysis["permutation_importance"] = permutation_importance(
        members,
        data,
        metric,
        deadline=time.monotonic() + max(0.03 * clock.budget, clock.left() - 0.2),
        seed=config.seed,
    )
    latency, size = measure_model(_Predictor(model), X.iloc[folds.splits[0][1]])
    analysis_s = time.monotonic() - analysis_start

    board = leaderboard(
        searcher,
        metric,
        best,
        ensemble_info if ensemble_kept else None,
        all_metrics(problem_type, data.y[rows], oof),
        {"predict_ms_per_row": latency, "model_size_bytes": size},
    )
    report = {
        "problem_type": problem_type,
        "objective": metric.name,
        "objective_direction": metric.direction,
        "target": config.target,
        "classes": list(target.classes),
        "mode": config.mode,
        "checks": checks,
        "validation": folds.as_dict(),
        "rows_used": int(data.n_rows),
        "leaderboard": board,
        "best": board[0]["name"] if board else None,
        "best_score": _natural(metric, metric.score(data.y[rows], oof)),
        "ensemble": ensemble_info,
        "calibration": {"temperature": round(temperature, 4), "floor": round(floor, 8)},
        "analysis": analysis,
        "schema": model.schema(),
        "typical_values": model.typical,
        "trials": _trial_counts(searcher),
        "final_models": refit_info,
        "timings": {
            "budget_s": round(clock.budget, 3),
            "search_s": round(search_s, 3),
            "refit_s": round(refit_s, 3),
            "analysis_s": round(analysis_s, 3),
            "elapsed_s": round(clock.elapsed(), 3),
        },
    }
    say("Done", 1.0, searcher.done_trials())
    return BuildResult(model, report)


class _Predictor:
    """Adapter so the whole model can be timed and sized like a pipeline."""

    def __init__(self, model: AtelierModel) -> None:
        self.model = model

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.model.raw(X)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Predictor, (self.model,))


def _natural(metric: Any, score: float) -> float | None:
    if not np.isfinite(score):
        return None
    return round(float(score if metric.greater_is_better else -score), 6)


def _name(r: CandidateResult, searcher: Searcher) -> str:
    for t in searcher.state.trials:
        if t.result is r:
            return f"{r.algorithm}-{t.number}"
    return r.algorithm


def _trial_counts(searcher: Searcher) -> dict[str, int]:
    out = {"total": len(searcher.state.trials)}
    for state in ("complete", "pruned", "failed", "timeout"):
        out[state] = sum(1 for t in searcher.state.trials if t.state == state)
    return out


def _analysis_estimate(members: list[CandidateResult], data: Data, budget: float) -> float:
    """Permutation importance: (columns × repeats + 1) predictions of every member on up to 1,000 rows, capped
    at a tenth of the budget (it uses fewer rows and repeats to fit in that)."""
    per_row = sum((r.predict_ms_per_row or 0.01) for r in members) / 1000.0
    rows = min(IMPORTANCE_ROWS, len(members[0].first_val) if members[0].first_val is not None else 1000)
    calls = len(data.kinds) * IMPORTANCE_REPEATS + 1
    return min(ANALYSIS_SHARE * budget, per_row * rows * calls * 1.5 + 0.005 * calls) + 0.2


def _finish_estimate(searcher: Searcher, data: Data, budget: float) -> float:
    """Seconds to keep for blending, refitting (best + likely blend members) and the analysis."""
    pool = sorted(searcher.state.pool, key=lambda r: -r.score)
    if not pool:
        return MIN_FINISH_S
    # The best candidate's refit is reserved in full; other blend members are refitted if time allows, else they
    # keep their first-fold models, so only a part of theirs is reserved.
    refit_s = pool[0].refit_estimate_s(data.n_rows) + 0.25 * sum(r.refit_estimate_s(data.n_rows) for r in pool[1:3])
    blend_s = 0.02 * len(pool) * (data.n_rows / 5000 + 0.2)
    return FINISH_SAFETY * refit_s + blend_s + _analysis_estimate(pool[:3], data, budget) + MIN_FINISH_S
