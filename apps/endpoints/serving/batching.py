"""Adaptive batching of small requests to one model in one serving process (as BentoML batches, minus the wait).

A request whose rows arrive while nothing is predicting for its model starts a prediction at once: a lone request
never waits. Requests that arrive while one runs queue up and go together into the next call, up to
SERVING_BATCH_MAX_ROWS rows. Most of a small request's cost is the per-call overhead of the preprocessing and the
estimator (about 2 ms for a scikit-learn pipeline, whatever the row count), so under load a call answers many
requests for the price of one, and the batch size follows the load by itself.

Rows are checked against the model's schema before they are queued, so one request's bad column never reaches the
others. If a batched call still fails, each request of it is predicted again on its own, and only the one that
fails gets the error. A request that stops waiting (its timeout, its client gone) leaves the batch unharmed."""

from __future__ import annotations

import asyncio
import itertools
from concurrent.futures import Executor
from typing import Any

import numpy as np
import pandas as pd

Result = tuple[np.ndarray, np.ndarray | None]


def predict_many(predictor: Any, frames: list[pd.DataFrame]) -> list[Result | BaseException]:
    """Each frame's (labels, probabilities) from one call on all their rows; one call per frame if that fails."""
    if len(frames) == 1:
        return [_one(predictor, frames[0])]
    try:
        labels, proba = predictor.predict_checked(pd.concat(frames, ignore_index=True))
    except Exception:  # noqa: BLE001 - each request again on its own: only the one at fault fails
        return [_one(predictor, frame) for frame in frames]
    bounds = np.cumsum([0] + [len(f) for f in frames])
    return [(labels[a:b], None if proba is None else proba[a:b]) for a, b in itertools.pairwise(bounds)]


def _one(predictor: Any, frame: pd.DataFrame) -> Result | BaseException:
    try:
        return predictor.predict_checked(frame)
    except Exception as exc:  # noqa: BLE001 - handed to the request's own waiter, which answers it
        return exc


class Batcher:
    """The queue of one model (one predictor object) in one event loop."""

    def __init__(self, predictor: Any, pool: Executor, max_rows: int, loop: asyncio.AbstractEventLoop) -> None:
        self.predictor, self.pool, self.max_rows, self.loop = predictor, pool, max_rows, loop
        self.pending: list[tuple[pd.DataFrame, asyncio.Future[Result]]] = []
        self.running = False
        self.task: asyncio.Task[None] | None = None
        self.calls = 0  # predictions made (tests: fewer than requests under load)

    async def predict(self, X: pd.DataFrame) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self.pending.append((X, future))
        if not self.running:
            self.running = True
            self.task = loop.create_task(self._drain())
        return await future

    def _take(self) -> list[tuple[pd.DataFrame, asyncio.Future[Result]]]:
        batch, rows = [], 0
        while self.pending and (not batch or rows + len(self.pending[0][0]) <= self.max_rows):
            X, future = self.pending.pop(0)
            if not future.done():  # not cancelled by a timeout or a gone client
                batch.append((X, future))
                rows += len(X)
        return batch

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self.pending:
                batch = self._take()
                if not batch:
                    continue
                self.calls += 1
                try:
                    results = await loop.run_in_executor(self.pool, predict_many, self.predictor,
                                                         [X for X, _ in batch])
                except BaseException as exc:  # noqa: BLE001 - the pool or loop closing: every waiter is told
                    results = [exc] * len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self.running = False
