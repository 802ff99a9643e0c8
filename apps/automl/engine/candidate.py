"""One named candidate fitted on its own: validated out of fold with the build's folds, refitted on all rows and
analysed like a build's chosen model. Used when a user selects a candidate other than the best (only the best is
refitted during the build) and when a tuning job exports its best trial as a candidate."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from threadpoolctl import threadpool_limits

from .algorithms import LABELS, get_algorithm
from .analysis import analysis_for, permutation_importance
from .builder import BuildConfig, BuildResult, _natural, prepare
from .ensemble import apply_temperature, fit_calibration, min_floor
from .evaluate import evaluate_candidate, make_folds, measure_model, refit
from .metrics import REGRESSION, all_metrics
from .model import AtelierModel, Member, feature_specs, typical_values
from .report import _params

Say = Callable[[float, str], None]


def fit_candidate(
    df: Any,
    config: BuildConfig,
    algorithm: str,
    params: dict[str, Any],
    *,
    name: str | None = None,
    progress: Say | None = None,
    extra_report: dict[str, Any] | None = None,
) -> BuildResult:
    """Fit ``algorithm`` with ``params`` for ``config.target`` (no time budget: it runs to the end).

    The report has the same shape as a build's (leaderboard of one entry, analysis, schema, typical values), so
    every page and API that reads a build's report reads this one too."""
    get_algorithm(algorithm)  # ValueError naming the known ones, before any work
    say: Say = progress or (lambda fraction, message: None)
    start = time.monotonic()
    if any(not isinstance(c, str) for c in df.columns):
        df = df.rename(columns=str)
    with threadpool_limits(limits=config.n_jobs):
        say(0.02, "Checking the data")
        p = prepare(df, config)
        data, metric = p.data, p.metric
        folds = make_folds(data.y, p.problem_type, config.seed, config.validation)
        say(0.1, f"Validating {LABELS[algorithm]} on {len(folds.splits)} fold(s)")
        result = evaluate_candidate(
            data, folds, metric, algorithm, dict(params), deadline=time.monotonic() + 1e9, measure=True
        )
        rows = result.validated
        oof = result.oof[rows]
        temperature, floor = 1.0, 0.0
        if p.problem_type != REGRESSION:
            floor = min_floor(data.n_rows)
            if metric.name == "log_loss":
                temperature, floor = fit_calibration(oof, data.y[rows], metric, data.n_rows)
            oof = apply_temperature(oof, temperature, floor)
        say(0.6, "Refitting on all rows")
        refit_start = time.monotonic()
        pipe, _ = refit(data, result, deadline=time.monotonic() + 1e9)
        refit_s = time.monotonic() - refit_start
        label = name or algorithm
        model = AtelierModel(
            p.problem_type,
            config.target,
            metric.name,
            p.target.classes,
            feature_specs(df, p.X, p.kinds),
            [str(c) for c in df.columns if c not in p.kinds],
            [Member(label, algorithm, 1.0, pipe)],
            temperature,
            typical_values(p.X, p.kinds),
            floor=floor,
        )
        say(0.8, "Analysing the model")
        analysis = analysis_for(p.problem_type, data.y[rows], oof, p.target.classes)
        analysis["permutation_importance"] = permutation_importance(
            [(result, 1.0)], data, metric, deadline=time.monotonic() + 60.0, seed=config.seed
        )
        latency, size = measure_model(pipe, p.X.iloc[folds.splits[0][1]])
    metrics = all_metrics(p.problem_type, data.y[rows], oof)
    score = _natural(metric, metric.score(data.y[rows], oof))
    iterations = [i for i in result.iterations if i]
    entry = {
        "name": label,
        "algorithm": algorithm,
        "algorithm_label": LABELS[algorithm],
        "trial": None,
        "params": _params(params),
        "score": score,
        "metrics": metrics,
        "fit_time_s": round(result.fit_time_s, 4),
        "cv_time_s": round(result.wall_s, 4),
        "iterations": int(sum(iterations) / len(iterations)) if iterations else None,
        "predict_ms_per_row": latency,
        "model_size_bytes": size,
        "ensemble_weight": None,
        "best": True,
        "rank": 1,
    }
    report = {
        "problem_type": p.problem_type,
        "objective": metric.name,
        "objective_direction": metric.direction,
        "target": config.target,
        "classes": list(p.target.classes),
        "mode": config.mode,
        "checks": p.checks,
        "validation": folds.as_dict(),
        "rows_used": int(data.n_rows),
        "leaderboard": [entry],
        "best": label,
        "best_score": score,
        "ensemble": None,
        "calibration": {"temperature": round(temperature, 4), "floor": round(floor, 8)},
        "analysis": analysis,
        "schema": model.schema(),
        "typical_values": model.typical,
        "trials": {"total": 1, "complete": 1, "pruned": 0, "failed": 0, "timeout": 0},
        "final_models": [{"name": label, "how": "refit on all rows"}],
        "timings": {
            "budget_s": None,
            "search_s": round(result.wall_s, 3),
            "refit_s": round(refit_s, 3),
            "analysis_s": None,
            "elapsed_s": round(time.monotonic() - start, 3),
        },
        **(extra_report or {}),
    }
    say(1.0, "Done")
    return BuildResult(model, report)
