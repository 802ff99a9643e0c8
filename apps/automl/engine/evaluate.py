"""Validation splits, one candidate's out-of-fold evaluation (with pruning hooks), and refits."""

from __future__ import annotations

import functools
import math
import pickle
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from threadpoolctl import ThreadpoolController

from .algorithms import FitContext, get_algorithm, predict_raw
from .metrics import REGRESSION, Metric
from .preprocess import build_preprocessor, categorical_indices

CV5_MAX_ROWS = 20_000
CV3_MAX_ROWS = 100_000
HOLDOUT_FRACTION = 0.2
HOLDOUT_MAX_ROWS = 50_000
SUBSAMPLE_RUNGS_MIN_ROWS = 30_000  # holdout trials start on 1/9 and 1/3 of the training rows above this
LATENCY_BATCH = 1000
PARALLEL_FOLDS_MAX_ROWS = 10_000


class TrialPruned(Exception):
    """Raised by a report hook to stop a candidate early."""


class TrialTimeout(Exception):
    """The candidate could not finish all its folds before its deadline."""


@dataclass
class Data:
    """Features and the encoded target of a build, plus what is needed to fit on them."""

    X: pd.DataFrame
    y: np.ndarray
    kinds: dict[str, str]
    problem_type: str
    n_classes: int
    seed: int = 0
    n_jobs: int = 2

    @property
    def n_rows(self) -> int:
        return len(self.y)


@dataclass
class Folds:
    method: str  # "cv" | "holdout"
    splits: list[tuple[np.ndarray, np.ndarray]]
    rungs: list[float] = field(default_factory=lambda: [1.0])  # training fractions for holdout trials

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "n_splits": len(self.splits),
            "validation_rows": int(sum(len(v) for _, v in self.splits)),
            "subsample_rungs": self.rungs,
        }


def make_folds(
    y: np.ndarray, problem_type: str, seed: int, method: str | None = None, n_splits: int | None = None
) -> Folds:
    """5-fold CV below 20k rows, 3-fold below 100k, else a holdout (stratified for classification)."""
    n = len(y)
    if method is None:
        method = "cv" if n < CV3_MAX_ROWS else "holdout"
    strat = problem_type != REGRESSION
    if method == "holdout":
        size = min(int(n * HOLDOUT_FRACTION), HOLDOUT_MAX_ROWS)
        idx = np.arange(n)
        tr, va = train_test_split(idx, test_size=size, random_state=seed, stratify=y if strat else None)
        rungs = [1 / 9, 1 / 3, 1.0] if len(tr) >= SUBSAMPLE_RUNGS_MIN_ROWS else [1.0]
        return Folds("holdout", [(np.sort(tr), np.sort(va))], rungs)
    k = n_splits or (5 if n < CV5_MAX_ROWS else 3)
    if strat:  # a class rarer than k still works: it is missing from some validation folds, never from training
        splitter: Any = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            splits = list(splitter.split(np.zeros(n), y))
    else:
        splits = list(KFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(n)))
    return Folds("cv", [(np.asarray(a), np.asarray(b)) for a, b in splits])


@dataclass(eq=False)
class CandidateResult:
    algorithm: str
    params: dict[str, Any]
    oof: np.ndarray  # (n, K) or (n,); rows never validated are NaN
    validated: np.ndarray  # bool mask of rows with an out-of-fold prediction
    score: float  # objective, 'higher is better'
    fold_fit_s: list[float]
    iterations: list[int | None]
    predict_ms_per_row: float | None = None
    model_size_bytes: int | None = None
    first_model: Pipeline | None = None  # fitted on fold 0's training rows (for permutation importance)
    first_val: np.ndarray | None = None
    stopped_by_deadline: bool = False
    wall_s: float = 0.0
    train_rows: int = 0  # rows a fold's model was fitted on

    @property
    def fit_time_s(self) -> float:
        return float(np.median(self.fold_fit_s)) if self.fold_fit_s else 0.0

    def refit_estimate_s(self, n_rows: int) -> float:
        """Expected time to fit on all rows: a fold's fit scaled by rows (slightly super-linear)."""
        if not self.fold_fit_s or not self.train_rows:
            return 0.0
        return self.fit_time_s * (n_rows / self.train_rows) ** 1.1 * 1.1


def fit_pipeline(
    data: Data,
    algorithm: str,
    params: dict[str, Any],
    train: np.ndarray,
    val: np.ndarray | None,
    deadline: float,
    rounds: int | None = None,
) -> tuple[Pipeline, Any]:
    algo = get_algorithm(algorithm)
    prep = build_preprocessor(data.kinds, algo.prep, data.n_rows)
    Xtr = data.X.iloc[train]
    Xt = prep.fit_transform(Xtr)
    Xv = prep.transform(data.X.iloc[val]) if val is not None else None
    yv = data.y[val] if val is not None else None
    ctx = FitContext(
        data.problem_type,
        data.n_classes,
        data.n_rows,
        categorical_indices(data.kinds) if algo.prep.native_trees else [],
        data.seed,
        data.n_jobs,
        deadline,
    )
    model, info = algo.fit(params, ctx, Xt, data.y[train], Xv, yv, rounds)
    return Pipeline([("prep", prep), ("model", model)]), info


def predict_pipeline(pipe: Pipeline, X: pd.DataFrame, problem_type: str, n_classes: int) -> np.ndarray:
    return predict_raw(pipe, X, problem_type, n_classes)


def _subsample(train: np.ndarray, frac: float, y: np.ndarray, seed: int, strat: bool) -> np.ndarray:
    if frac >= 1.0:
        return train
    size = max(50, int(len(train) * frac))
    if size >= len(train):
        return train
    sub, _ = train_test_split(train, train_size=size, random_state=seed, stratify=y[train] if strat else None)
    return np.sort(sub)


@functools.cache
def _threads() -> ThreadpoolController:
    return ThreadpoolController()


def parallel_folds(data: Data, folds: Folds) -> int:
    """Small data: fit folds side by side on one thread each (less threading overhead than one fit on n
    threads). The caller limits OpenMP to one thread per fit meanwhile (threadpoolctl; it is slow to enter, so
    it is entered once per search, not per fit)."""
    if folds.method != "cv" or data.n_jobs < 2 or data.n_rows > PARALLEL_FOLDS_MAX_ROWS:
        return 1
    return min(data.n_jobs, len(folds.splits))


def evaluate_candidate(
    data: Data,
    folds: Folds,
    metric: Metric,
    algorithm: str,
    params: dict[str, Any],
    deadline: float,
    report: Callable[[int, float], None] | None = None,
    measure: bool = True,
    rungs: bool = True,
    stop: Callable[[], None] | None = None,
) -> CandidateResult:
    """Out-of-fold predictions for one candidate. ``report(step, partial_score)`` is called after each batch of
    folds (CV) or subsample rung (holdout) and may raise TrialPruned; ``stop()`` is called before each batch and
    may raise to abandon the candidate. Raises TrialTimeout when the deadline passes before every fold is done.
    Each fit gets an equal share of the time left as its own deadline."""
    t0 = time.monotonic()
    reg = data.problem_type == REGRESSION
    oof = np.full(data.n_rows, np.nan) if reg else np.full((data.n_rows, data.n_classes), np.nan)
    validated = np.zeros(data.n_rows, dtype=bool)
    fit_s: list[float] = []
    iters: list[int | None] = []
    first_model: Pipeline | None = None
    stopped = False
    width = parallel_folds(data, folds)
    fit_data = replace(data, n_jobs=1) if width > 1 else data
    use_rungs = rungs and report is not None and folds.method == "holdout"  # subsamples only serve pruning
    jobs = [(i, frac) for i in range(len(folds.splits)) for frac in (folds.rungs if use_rungs else [1.0])]
    batches = [jobs[j : j + width] for j in range(0, len(jobs), width)]

    def run(job: tuple[int, float], fit_deadline: float) -> tuple[int, float, Pipeline, Any, float, np.ndarray]:
        i, frac = job
        train, val = folds.splits[i]
        rows = _subsample(train, frac, data.y, data.seed + i, not reg)
        t = time.monotonic()
        # OpenMP's thread count is per thread: a worker thread would otherwise use every core for HGB.
        with _threads().limit(limits=fit_data.n_jobs):
            pipe, info = fit_pipeline(fit_data, algorithm, params, rows, val, fit_deadline)
            elapsed = time.monotonic() - t
            pred = predict_pipeline(pipe, data.X.iloc[val], data.problem_type, data.n_classes)
        return i, frac, pipe, info, elapsed, pred

    step = 0
    for b, batch in enumerate(batches):
        if stop is not None:
            stop()  # may raise (a cancelled build)
        now = time.monotonic()
        if now > deadline:
            raise TrialTimeout(f"{algorithm} did not finish its validation folds in time")
        fit_deadline = now + (deadline - now) / (len(batches) - b)
        if len(batch) == 1:
            outs = [run(batch[0], fit_deadline)]
        else:
            with ThreadPoolExecutor(len(batch)) as pool:
                outs = list(pool.map(run, batch, [fit_deadline] * len(batch)))
        for i, frac, pipe, info, elapsed, pred in outs:
            stopped = stopped or info.stopped_by_deadline
            step += 1
            val = folds.splits[i][1]
            if frac < 1.0:
                if report is not None:
                    report(step, metric.score(data.y[val], pred))
                continue
            fit_s.append(elapsed)
            iters.append(info.iterations)
            oof[val] = pred
            validated[val] = True
            if i == 0:
                first_model = pipe
        last = b == len(batches) - 1
        if report is not None and (not last or folds.method == "holdout") and validated.any():
            report(step, metric.score(data.y[validated], oof[validated]))
    score = metric.score(data.y[validated], oof[validated])
    result = CandidateResult(
        algorithm,
        dict(params),
        oof,
        validated,
        score,
        fit_s,
        iters,
        first_model=first_model,
        first_val=folds.splits[0][1],
        stopped_by_deadline=stopped,
        train_rows=len(folds.splits[0][0]),
    )
    if measure and first_model is not None:
        result.predict_ms_per_row, result.model_size_bytes = measure_model(first_model, data.X.iloc[folds.splits[0][1]])
    result.wall_s = time.monotonic() - t0
    return result


def measure_model(pipe: Any, X: pd.DataFrame) -> tuple[float, int]:
    """Per-row latency on a batch (ms) and the pickled size in bytes."""
    batch = X.iloc[:LATENCY_BATCH]
    t = time.perf_counter()
    pipe.predict(batch)
    per_row = (time.perf_counter() - t) * 1000.0 / max(1, len(batch))
    counter = _ByteCounter()
    pickle.dump(pipe, counter, protocol=pickle.HIGHEST_PROTOCOL)
    return round(per_row, 6), counter.size


class _ByteCounter:
    """A write-only sink that counts bytes: a pickled size without holding the bytes (forests get big)."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: Any) -> int:
        n = memoryview(data).nbytes
        self.size += n
        return n


def refit_rounds(result: CandidateResult) -> int | None:
    """Boosting rounds for the refit on all rows: the folds' mean best round, +10 % for the extra data."""
    its = [i for i in result.iterations if i]
    if not its or not get_algorithm(result.algorithm).iterative:
        return None
    return max(1, math.ceil(float(np.mean(its)) * 1.1))


def refit(data: Data, result: CandidateResult, deadline: float) -> tuple[Pipeline, bool]:
    """The candidate fitted on all rows, and whether it finished (False: a booster or forest was cut short by
    the deadline and is smaller than planned)."""
    # Small data: one thread, like the folds were timed with (two OpenMP threads on a busy box are often slower).
    fit_data = replace(data, n_jobs=1) if data.n_rows <= PARALLEL_FOLDS_MAX_ROWS else data
    pipe, info = fit_pipeline(
        fit_data, result.algorithm, result.params, np.arange(data.n_rows), None, deadline, rounds=refit_rounds(result)
    )
    return pipe, not info.stopped_by_deadline
