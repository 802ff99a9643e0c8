"""Adaptive batching of small requests to one model in one serving process (as BentoML batches, minus the wait).

A request whose rows arrive while nothing is predicting for its model starts a prediction at once: a lone request
never waits. Requests that arrive while one runs queue up and go together into the next call, up to
SERVING_BATCH_MAX_ROWS rows. Most of a small request's cost is the per-call overhead of the preprocessing and the
estimator (about 2 ms for a scikit-learn pipeline, whatever the row count), so under load a call answers many
requests for the price of one, and the batch size follows the load by itself.

A queued request holds either its checked rows or a `Deferred` body: a CSV body is parsed and checked in the batch's
own trip to the prediction thread, so that it crosses to that thread once, not twice (parse, then predict: under load
the second queueing behind other requests' parses doubled the tail; measured at 1-row CSV / 8 connections). Either way
rows are checked against the model's schema before they join the batch, so one request's bad column never reaches
the others: it gets its own 400. If a batched call still fails, each request of it is predicted again on its own, and
only the one that fails gets the error. A request that stops waiting (its timeout, its client gone) leaves the batch
unharmed."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

Result = tuple[np.ndarray, np.ndarray | None]


@dataclass(frozen=True)
class Deferred:
    """Rows still to be made (parsed and checked) in the prediction thread; `rows` estimates their number."""

    make: Callable[[], pd.DataFrame]
    rows: int


Item: TypeAlias = pd.DataFrame | Deferred


def predict_many(predictor: Any, items: list[Item]) -> list[Result | BaseException]:
    """Each item's (labels, probabilities) from one call on all their rows; one call per item if that fails. An item
    whose rows cannot be made (a bad body, a schema error) gets its own exception and is left out of the call."""
    results: list[Result | BaseException | None] = [None] * len(items)
    frames: list[pd.DataFrame] = []
    slots: list[int] = []
    for i, item in enumerate(items):
        try:
            frames.append(item.make() if isinstance(item, Deferred) else item)
            slots.append(i)
        except Exception as exc:  # noqa: BLE001 - this request's own error (400), handed to its waiter
            results[i] = exc
    if len(frames) == 1:
        results[slots[0]] = _one(predictor, frames[0])
    elif frames:
        try:
            labels, proba = predictor.predict_checked(pd.concat(frames, ignore_index=True))
        except Exception:  # noqa: BLE001 - each request again on its own: only the one at fault fails
            for i, frame in zip(slots, frames, strict=True):
                results[i] = _one(predictor, frame)
        else:
            bounds = np.cumsum([0] + [len(f) for f in frames])
            for i, (a, b) in zip(slots, itertools.pairwise(bounds), strict=True):
                results[i] = (labels[a:b], None if proba is None else proba[a:b])
    return results  # type: ignore[return-value]  # every slot was filled above


def _one(predictor: Any, frame: pd.DataFrame) -> Result | BaseException:
    try:
        return predictor.predict_checked(frame)
    except Exception as exc:  # noqa: BLE001 - handed to the request's own waiter, which answers it
        return exc


class Batcher:
    """The queue of one model (one predictor object) in one event loop."""

    def __init__(self, predictor: Any, pool: Executor, max_rows: int, loop: asyncio.AbstractEventLoop) -> None:
        self.predictor, self.pool, self.max_rows, self.loop = predictor, pool, max_rows, loop
        self.pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self.running = False
        self.task: asyncio.Task[None] | None = None
        self.calls = 0  # predictions made (tests: fewer than requests under load)

    async def predict(self, item: Item) -> Result:
        """The item's (labels, probabilities); raises what making its rows or predicting them raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self.pending.append((item, future))
        if not self.running:
            self.running = True
            self.task = loop.create_task(self._drain())
        return await future

    def _take(self) -> list[tuple[Item, asyncio.Future[Result]]]:
        batch: list[tuple[Item, asyncio.Future[Result]]] = []
        rows = 0
        while self.pending and (not batch or rows + size(self.pending[0][0]) <= self.max_rows):
            item, future = self.pending.pop(0)
            if not future.done():  # not cancelled by a timeout or a gone client
                batch.append((item, future))
                rows += size(item)
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
                    results = await loop.run_in_executor(
                        self.pool, predict_many, self.predictor, [item for item, _ in batch]
                    )
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


def size(item: Item) -> int:
    return item.rows if isinstance(item, Deferred) else len(item)
