"""The search inside a time budget: defaults first, then TPE per algorithm with successive-halving pruning on
folds (or data subsamples), cost-aware choice of the next algorithm, reserving time for the finish."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna

from .algorithms import get_algorithm
from .evaluate import CandidateResult, Data, Folds, TrialPruned, TrialTimeout, evaluate_candidate
from .metrics import Metric

log = logging.getLogger(__name__)
optuna.logging.set_verbosity(optuna.logging.WARNING)

ProgressFn = Callable[[float, str, float | None, int], None]
CancelFn = Callable[[], bool]


class BuildCancelled(Exception):
    """The cancel check returned True."""


@dataclass
class Trial:
    number: int
    algorithm: str
    params: dict[str, Any]
    state: str  # complete | pruned | failed | timeout
    result: CandidateResult | None = None
    error: str = ""
    metrics: dict[str, float | None] = field(default_factory=dict)


@dataclass
class SearchState:
    trials: list[Trial] = field(default_factory=list)
    pool: list[CandidateResult] = field(default_factory=list)  # kept with predictions, for the ensemble

    @property
    def complete(self) -> list[Trial]:
        return [t for t in self.trials if t.state == "complete"]

    def best(self) -> CandidateResult | None:
        done = [t.result for t in self.complete if t.result is not None]
        return max(done, key=lambda r: r.score) if done else None


def _make_study(algorithm: str, seed: int, pruning: bool, holdout: bool) -> optuna.Study:
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=6, multivariate=True)
    pruner: optuna.pruners.BasePruner
    if pruning:
        pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3 if holdout else 2)
    else:
        pruner = optuna.pruners.NopPruner()
    return optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner, study_name=algorithm)


@dataclass
class Searcher:
    data: Data
    folds: Folds
    metric: Metric
    algorithms: list[str]
    seed: int
    pool_size: int
    metrics_fn: Callable[[CandidateResult], dict[str, float | None]]
    progress: Callable[[str], None]
    cancel: CancelFn | None = None
    max_trials: int | None = None
    state: SearchState = field(default_factory=SearchState)

    def __post_init__(self) -> None:
        holdout = self.folds.method == "holdout"
        pruning = (holdout and len(self.folds.rungs) > 1) or (not holdout and len(self.folds.splits) > 2)
        self.studies = {a: _make_study(a, self.seed + i, pruning, holdout) for i, a in enumerate(self.algorithms)}
        self.rng = np.random.default_rng(self.seed)
        self.queue: list[tuple[str, dict[str, Any]]] = []
        n, pt = self.data.n_rows, self.data.problem_type
        # Defaults first, the boosters' before the rest; then each algorithm's second default, if it has one.
        firsts = [(a, get_algorithm(a).defaults(pt, n)) for a in self.algorithms]
        for depth in range(max(len(d) for _, d in firsts)):
            self.queue += [(a, d[depth]) for a, d in firsts if depth < len(d)]
        self.wall: dict[str, list[float]] = {a: [] for a in self.algorithms}
        self.disabled: set[str] = set()

    # ------------------------------------------------------------------------------------------- choice
    def _next_algorithm(self) -> tuple[str | None, dict[str, Any] | None]:
        while self.queue:
            algo, params = self.queue.pop(0)
            if algo not in self.disabled:
                return algo, params
        active = [a for a in self.algorithms if a not in self.disabled]
        if not active:
            return None, None
        best = {
            a: max((t.result.score for t in self.state.complete if t.algorithm == a and t.result), default=-math.inf)
            for a in active
        }
        order = sorted(active, key=lambda a: -best[a])
        weights = np.array([0.5**rank for rank in range(len(order))], dtype=float)
        # Diminishing returns: a space of few hyperparameters is covered after a few dozen tries.
        tries = np.array([len(self.wall[a]) for a in order], dtype=float)
        dims = np.array(
            [max(1, len(get_algorithm(a).ranges(self.data.problem_type, self.data.n_rows))) for a in order], dtype=float
        )
        weights *= np.sqrt(np.minimum(1.0, 10.0 * dims / np.maximum(tries, 1.0)))
        if self.max_trials is None:  # cheaper algorithms get more tries (timing-dependent: off for fixed counts)
            walls = np.array([np.median(self.wall[a]) if self.wall[a] else 1.0 for a in order])
            weights *= np.sqrt(np.median(walls) / np.maximum(walls, 1e-3))
        weights = np.maximum(weights / weights.sum(), 0.03)
        return str(self.rng.choice(order, p=weights / weights.sum())), None

    # ------------------------------------------------------------------------------------------- one trial
    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel():
            raise BuildCancelled("The build was cancelled.")

    def run_trial(self, trial_deadline: float) -> Trial | None:
        self.check_cancel()
        algo_name, fixed = self._next_algorithm()
        if algo_name is None:  # every algorithm failed on this data
            return None
        algo = get_algorithm(algo_name)
        study = self.studies[algo_name]
        ranges = algo.ranges(self.data.problem_type, self.data.n_rows)
        if fixed is not None:
            study.enqueue_trial({k: v for k, v in fixed.items() if k in {r.name for r in ranges}})
        ot = study.ask()
        params = {r.name: r.suggest(ot) for r in ranges}
        if fixed is not None:
            params.update(fixed)
        number = len(self.state.trials) + 1

        def report(step: int, value: float) -> None:
            if not math.isfinite(value):
                return
            ot.report(value, step)
            if ot.should_prune():
                raise TrialPruned()

        t0 = time.monotonic()
        trial = Trial(number, algo_name, params, "complete")
        try:
            result = evaluate_candidate(
                self.data,
                self.folds,
                self.metric,
                algo_name,
                params,
                trial_deadline,
                report=None if fixed is not None else report,
                stop=self.check_cancel,
            )
        except TrialPruned:
            study.tell(ot, state=optuna.trial.TrialState.PRUNED)
            trial.state = "pruned"
        except BuildCancelled:
            raise
        except TrialTimeout as exc:
            study.tell(ot, state=optuna.trial.TrialState.FAIL)
            trial.state, trial.error = "timeout", str(exc)
        except Exception as exc:  # noqa: BLE001 - one candidate failing (LightGBM, memory, odd data) must not end the build
            log.warning("automl trial %s (%s) failed: %s", number, algo_name, exc)
            study.tell(ot, state=optuna.trial.TrialState.FAIL)
            trial.state, trial.error = "failed", f"{type(exc).__name__}: {exc}"
            if fixed is not None:  # its default cannot be fitted on this data: do not spend more time on it
                self.disabled.add(algo_name)
        else:
            study.tell(ot, result.score if math.isfinite(result.score) else -1e18)
            trial.result = result
            trial.metrics = self.metrics_fn(result)
            self._keep(result)
        self.wall[algo_name].append(time.monotonic() - t0)
        self.state.trials.append(trial)
        return trial

    def _keep(self, result: CandidateResult) -> None:
        """Keep the best ``pool_size`` candidates plus the best of each algorithm (diversity for the blend)."""
        pool = [*self.state.pool, result]
        pool.sort(key=lambda r: -r.score)
        keep: list[CandidateResult] = []
        seen: set[str] = set()
        for r in pool:
            if len(keep) < self.pool_size or r.algorithm not in seen:
                keep.append(r)
            seen.add(r.algorithm)
        for r in pool:
            if r not in keep:  # dropped from the pool: free its predictions and fold model
                r.first_model = None
                r.oof = np.zeros(0)
        self.state.pool = keep

    def done_trials(self) -> int:
        return len(self.state.trials)

    def out_of_trials(self) -> bool:
        return self.max_trials is not None and len(self.state.trials) >= self.max_trials
