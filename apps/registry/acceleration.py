"""Faster prediction for served models, with the same answers.

scikit-learn's random forests and extra trees pay about 40 µs per tree and per call in Python (a joblib dispatch, a
normalisation and a locked accumulation for each tree): 4 ms for 100 trees, even for one row, which dominates a
small request. `FastForest` walks the same fitted trees (`tree_.apply`, compiled and free of the GIL) against leaf
tables normalised once at load, and adds them up in the forest's own order, so its probabilities are bit-for-bit
those of `predict_proba` (tests/registry/test_acceleration.py). Large batches are split by rows over
SERVING_THREADS_PER_MODEL threads while the machine has idle CPU (a lone large request answers sooner; under load
the split would only add overhead): each thread sums every tree for its rows, so the answer does not depend on the
split.

Where a C compiler is at hand, each forest is also compiled to native code in the background (apps/registry/
native.py); FastForest switches to it when it is ready (the same leaf tables summed in the same order).

`accelerate(estimator)` returns an estimator that predicts the same way: a forest (alone or at the end of a
Pipeline) wrapped, anything else unchanged. A forest it cannot read (several outputs, a scikit-learn whose
internals differ) is left as it is."""

from __future__ import annotations

import functools
import itertools
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor, RandomForestClassifier, RandomForestRegressor
from sklearn.pipeline import Pipeline

logger = logging.getLogger(__name__)

FORESTS = (RandomForestClassifier, ExtraTreesClassifier, RandomForestRegressor, ExtraTreesRegressor)
MIN_ROWS_PER_THREAD = 2_000
_pools: dict[int, ThreadPoolExecutor] = {}


def _pool(threads: int) -> ThreadPoolExecutor:
    pool = _pools.get(threads)
    if pool is None:
        pool = _pools.setdefault(threads, ThreadPoolExecutor(max_workers=threads, thread_name_prefix="forest"))
    return pool


CPUS = os.cpu_count() or 1
_idle = {"at": 0.0, "value": 0.0, "busy": 0, "total": 0}
_idle_lock = threading.Lock()


def cpu_idle(max_age_s: float = 0.5) -> float:
    """The machine's idle CPU fraction since the previous reading (at most `max_age_s` old); 0 where /proc/stat
    cannot be read (then predictions are never split)."""
    now = time.monotonic()
    if now - _idle["at"] < max_age_s:
        return float(_idle["value"])
    with _idle_lock:
        if now - _idle["at"] < max_age_s:
            return float(_idle["value"])
        try:
            with open("/proc/stat", "rb") as handle:
                fields = [int(v) for v in handle.readline().split()[1:]]
        except (OSError, ValueError):
            _idle.update(at=now, value=0.0)
            return 0.0
        total, idle = sum(fields), fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        d_total, d_busy = total - _idle["total"], (total - idle) - _idle["busy"]
        value = 1.0 - d_busy / d_total if _idle["total"] and d_total > 0 else 0.0
        _idle.update(at=now, value=value, busy=total - idle, total=total)
        return value


@functools.cache
def tree_proba_normalises() -> bool:
    """Whether this scikit-learn's DecisionTreeClassifier.predict_proba divides a leaf's values by their sum.
    Older releases stored class counts and divided; newer ones store fractions and return them as they are, and
    dividing fractions that add up to 0.9999999999999999 changes the last bit. Asked of scikit-learn itself with
    one leaf whose fractions (0.5, 0.1, 0, 0.3, 0.1) do not add up to exactly 1."""
    from sklearn.tree import DecisionTreeClassifier

    labels = np.array([0] * 5 + [1] + [3] * 3 + [4])
    tree = DecisionTreeClassifier(max_depth=1).fit(np.zeros((len(labels), 1)), labels)
    value = np.array(tree.tree_.value[0, 0], dtype=np.float64)
    return not np.array_equal(tree.predict_proba(np.zeros((1, 1)))[0], value)


class FastForest:
    """A fitted forest's predict / predict_proba without the per-tree Python overhead (same results)."""

    def __init__(self, forest: Any, threads: int = 1, native: bool = False) -> None:
        if getattr(forest, "n_outputs_", 1) != 1:
            raise ValueError("multi-output forests are served by scikit-learn itself")
        self.forest = forest
        self.threads = max(1, int(threads))
        self.is_classifier = hasattr(forest, "classes_")
        self.trees = [e.tree_ for e in forest.estimators_]
        if self.is_classifier:
            self.classes_ = forest.classes_
            self.n_classes_ = int(forest.n_classes_)
            self.leaves = []
            normalise = tree_proba_normalises()
            for tree in self.trees:  # what DecisionTreeClassifier.predict_proba computes per leaf, once
                value = np.array(tree.value[:, 0, : self.n_classes_], dtype=np.float64)
                if normalise:
                    normalizer = value.sum(axis=1)[:, np.newaxis]
                    normalizer[normalizer == 0.0] = 1.0
                    value /= normalizer
                self.leaves.append(value)
        else:
            self.leaves = [np.array(tree.value[:, 0, 0], dtype=np.float64) for tree in self.trees]
        self.n_features_in_ = forest.n_features_in_
        if hasattr(forest, "feature_names_in_"):
            self.feature_names_in_ = forest.feature_names_in_
        self.native: Any = None  # the compiled walk (apps/registry/native.py) once it is ready
        self.native_status = "off"
        if native:
            try:
                from apps.registry import native as compiled
            except ImportError as exc:  # a platform without fcntl: FastForest alone
                self.native_status = f"unavailable on this platform ({exc})"
                return
            if compiled.mode() == "off":
                self.native_status = "off in this process (see SERVING_NATIVE_IN_WEB)"
                return
            self.native_status = "compiling" if compiled.mode() == "compile" else "waiting for a worker to compile it"
            compiled.build_later(self.trees, self.leaves, int(self.n_features_in_), self._native_done)

    def _native_done(self, result: Any) -> None:
        if isinstance(result, str):
            self.native_status = result
        else:
            self.native, self.native_status = result, "ready"

    def _sum(self, X: Any) -> np.ndarray:
        native = self.native
        if native is None or not isinstance(X, np.ndarray):  # not compiled (yet), or sparse input
            return self._walk(X)
        out = native.sum(X)
        out /= len(self.trees)
        return out

    def _walk(self, X: Any) -> np.ndarray:
        n = X.shape[0]
        shape = (n, self.n_classes_) if self.is_classifier else n
        out = np.zeros(shape, dtype=np.float64)
        buffer = np.empty(shape, dtype=np.float64)
        for tree, leaf in zip(self.trees, self.leaves, strict=True):
            np.take(leaf, tree.apply(X), axis=0, out=buffer)  # into one buffer: no allocation per tree
            out += buffer
        out /= len(self.trees)
        return out

    def _run(self, X: Any) -> np.ndarray:
        X = self.forest._validate_X_predict(X)  # the forest's own checks and float32 conversion
        n = X.shape[0]
        parts = min(self.threads, n // MIN_ROWS_PER_THREAD)
        if parts > 1:  # as many parts as there are idle cores to run them (busy cores: a split only adds overhead)
            parts = min(parts, 1 + int(cpu_idle() * CPUS + 0.25))
        if parts <= 1:
            return self._sum(X)
        bounds = np.linspace(0, n, parts + 1).astype(int)
        futures = [_pool(self.threads).submit(self._sum, X[a:b]) for a, b in itertools.pairwise(bounds)]
        return np.concatenate([f.result() for f in futures])

    def predict_proba(self, X: Any) -> np.ndarray:
        if not self.is_classifier:
            raise AttributeError("predict_proba")
        return self._run(X)

    def predict(self, X: Any) -> np.ndarray:
        if self.is_classifier:
            return self.classes_.take(np.argmax(self._run(X), axis=1), axis=0)
        return self._run(X)


class FastPipeline:
    """A fitted Pipeline whose last step is replaced by a faster equivalent; the steps before it run as they are."""

    def __init__(self, pipeline: Pipeline, last: Any) -> None:
        self.prep = pipeline[:-1]
        self.last = last
        self.pipeline = pipeline
        if hasattr(last, "classes_"):
            self.classes_ = last.classes_

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.last.predict_proba(self.prep.transform(X))

    def predict(self, X: Any) -> np.ndarray:
        return self.last.predict(self.prep.transform(X))


def accelerate(estimator: Any, threads: int = 1, native: bool = False) -> Any:
    """A faster estimator with the same predictions, or `estimator` itself when there is none; with `native`, forests
    are also compiled in the background (apps/registry/native.py) and switch to the compiled walk when it is ready."""
    try:
        if type(estimator) in FORESTS:
            return FastForest(estimator, threads, native)
        if isinstance(estimator, Pipeline) and len(estimator.steps) > 1 and type(estimator.steps[-1][1]) in FORESTS:
            return FastPipeline(estimator, FastForest(estimator.steps[-1][1], threads, native))
    except (AttributeError, TypeError, ValueError, IndexError) as exc:
        logger.info("Serving %s without acceleration: %s", type(estimator).__name__, exc)
    return estimator
