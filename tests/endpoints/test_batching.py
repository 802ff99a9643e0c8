"""Adaptive batching (apps/endpoints/serving/batching.py): concurrent small requests share prediction calls and
each still gets exactly its own answer; a lone request runs at once; a request that fails the model in a batch
fails alone; a waiter that gives up leaves the batch unharmed; large requests are not queued."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import orjson
import pandas as pd
import pytest

from apps.automl import engine
from apps.endpoints.serving.batching import Batcher, Deferred, predict_many
from tests.endpoints.conftest import acall, invoke
from tests.factories import binary_model

pytestmark = pytest.mark.django_db
MODEL = binary_model()


def rows(i: int) -> list[dict]:
    return [{"x1": (i % 13) / 3 - 2, "x2": (i % 7) / 2 - 1.5, "colour": ["red", "green", "blue"][i % 3]}]


class Recording:
    """Wraps a predictor: records the rows of each call, sleeps a little so that requests pile up, and fails on
    rows whose x1 is 999 (a model error that the schema check cannot see)."""

    def __init__(self, inner, seconds: float = 0.05) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.seconds = inner, seconds
        self.classes, self.feature_names = inner.classes, inner.feature_names
        self.calls: list[int] = []
        self.lock = threading.Lock()

    def check(self, frame):  # type: ignore[no-untyped-def]
        return self.inner.check(frame)

    def predict_checked(self, X):  # type: ignore[no-untyped-def]
        with self.lock:
            self.calls.append(len(X))
        time.sleep(self.seconds)
        if (X["x1"] == 999).any():
            raise RuntimeError("the model cannot take x1 = 999")
        return self.inner.predict_checked(X)


def wrap(serving, version, seconds: float = 0.05) -> Recording:  # type: ignore[no-untyped-def]
    entry = serving.models._entries[version.pk]
    entry.predictor = Recording(entry.predictor, seconds)
    return entry.predictor


async def burst(serving, key: str, payloads: list[list[dict]], query: str = ""):  # type: ignore[no-untyped-def]
    headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}
    return await asyncio.gather(
        *(
            acall(
                serving,
                "POST",
                "/endpoints/churn-live/invocations",
                headers=headers,
                body=orjson.dumps({"dataframe_records": p}),
                query=query,
            )
            for p in payloads
        )
    )


def test_concurrent_requests_share_calls_and_each_gets_its_own_answer(serving, deployed, version) -> None:
    _, key = deployed
    recording = wrap(serving, version)
    payloads = [rows(i) for i in range(40)]
    replies = asyncio.run(burst(serving, key, payloads, query="probabilities=true"))
    assert [r.status for r in replies] == [200] * 40
    for payload, reply in zip(payloads, replies, strict=True):
        expected = engine.predict(MODEL, payload)
        assert reply.json()["predictions"] == expected["predictions"]
        got = reply.json()["probabilities"][0]["yes"]
        assert got == pytest.approx(expected["probabilities"][0]["yes"], abs=1e-6)
    assert sum(recording.calls) == 40
    assert len(recording.calls) < 10, recording.calls  # the first runs alone, the rest pile up behind it


def test_a_lone_request_runs_at_once_in_its_own_call(serving, deployed, version) -> None:
    _, key = deployed
    recording = wrap(serving, version, seconds=0)
    for i in range(3):
        reply = invoke(serving, "churn-live", {"instances": rows(i)}, key=key)
        assert reply.status == 200
    assert recording.calls == [1, 1, 1]


def test_a_request_that_breaks_the_model_fails_alone(serving, deployed, version) -> None:
    _, key = deployed
    recording = wrap(serving, version)
    payloads = [rows(i) for i in range(12)]
    payloads[7] = [{"x1": 999, "x2": 0.0, "colour": "red"}]
    replies = asyncio.run(burst(serving, key, payloads))
    assert [r.status for r in replies] == [200] * 7 + [500] + [200] * 4
    for i in (0, 6, 8, 11):
        assert replies[i].json()["predictions"] == engine.predict(MODEL, payloads[i])["predictions"]
    assert max(recording.calls) > 1  # it was batched, then retried one by one


def test_csv_bodies_are_batched_and_a_bad_one_fails_alone(serving, deployed, version) -> None:
    """CSV bodies are parsed in their batch's trip to the prediction thread (batching.Deferred): still one call for
    many requests, each its own answer, and a body with a wrong value gets its own 400 naming the column."""
    _, key = deployed
    recording = wrap(serving, version)
    payloads = [rows(i) for i in range(12)]
    bodies = [pd.DataFrame(p).to_csv(index=False).encode() for p in payloads]
    bodies[5] = b"x1,x2,colour\nlots,0.5,red\n"
    headers = {"content-type": "text/csv", "authorization": f"Bearer {key}"}

    async def send() -> list:
        return await asyncio.gather(
            *(acall(serving, "POST", "/endpoints/churn-live/invocations", headers=headers, body=b) for b in bodies)
        )

    replies = asyncio.run(send())
    assert [r.status for r in replies] == [200] * 5 + [400] + [200] * 6
    assert list(replies[5].json()["errors"]) == ["x1"]
    for i in (0, 4, 6, 11):
        assert replies[i].json()["predictions"] == engine.predict(MODEL, payloads[i])["predictions"]
    assert sum(recording.calls) == 11
    assert len(recording.calls) < 6, recording.calls


def test_predict_many_makes_deferred_rows_and_keeps_their_errors_apart() -> None:
    class Double:
        def predict_checked(self, X):  # type: ignore[no-untyped-def]
            return X["v"].to_numpy() * 2, None

    def broken() -> pd.DataFrame:
        raise ValueError("not a table")

    items = [Deferred(lambda: pd.DataFrame({"v": [1, 2]}), rows=2), Deferred(broken, rows=1), pd.DataFrame({"v": [3]})]
    out = predict_many(Double(), items)
    assert [list(out[0][0]), list(out[2][0])] == [[2, 4], [6]]
    assert isinstance(out[1], ValueError)


def test_schema_errors_are_answered_before_the_queue(serving, deployed, version) -> None:
    _, key = deployed
    recording = wrap(serving, version)
    payloads = [rows(i) for i in range(6)]
    payloads[2] = [{"x1": "abc", "x2": 0.0, "colour": "red"}]
    replies = asyncio.run(burst(serving, key, payloads))
    assert [r.status for r in replies] == [200, 200, 400, 200, 200, 200]
    assert replies[2].json()["errors"] == {"x1": [replies[2].json()["message"]]}
    assert sum(recording.calls) == 5


def test_requests_over_the_batch_size_are_not_queued(serving, deployed, version) -> None:
    _, key = deployed
    serving.batch_rows = 2
    recording = wrap(serving, version, seconds=0)
    reply = invoke(serving, "churn-live", {"instances": rows(0) + rows(1) + rows(2)}, key=key)
    assert reply.status == 200 and len(reply.json()["predictions"]) == 3
    assert serving.batchers == {} and recording.calls == [3]
    invoke(serving, "churn-live", {"instances": rows(0)}, key=key)
    assert list(serving.batchers) == [version.pk]


@pytest.mark.parametrize("batch_rows", [1000, 0], ids=["batched", "not-batched"])
def test_a_client_that_disconnects_while_queued_is_never_predicted(serving, deployed, version, batch_rows) -> None:
    """Work for clients that gave up is dropped before it runs, so that it does not delay the requests behind it."""
    _, key = deployed
    serving.batch_rows = batch_rows
    serving.pool.shutdown()
    serving.pool = ThreadPoolExecutor(1)  # one prediction thread: the second request queues behind the first
    recording = wrap(serving, version, seconds=0.3)
    headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}

    async def send() -> list:
        first = asyncio.ensure_future(
            acall(
                serving,
                "POST",
                "/endpoints/churn-live/invocations",
                headers=headers,
                body=orjson.dumps({"instances": rows(0)}),
            )
        )
        await asyncio.sleep(0.05)
        gone = acall(
            serving,
            "POST",
            "/endpoints/churn-live/invocations",
            headers=headers,
            body=orjson.dumps({"instances": rows(1) + rows(2)}),
            gone_after=0.05,
        )
        return list(await asyncio.gather(first, gone))

    first, gone = asyncio.run(send())
    assert first.status == 200 and gone.status == 0
    time.sleep(0.4)  # anything still queued would have run by now
    assert recording.calls == [1], "the two rows of the client that left were never predicted"


def test_a_waiter_that_gives_up_leaves_the_others_their_answers() -> None:
    class Slow:
        def predict_checked(self, X):  # type: ignore[no-untyped-def]
            time.sleep(0.1)
            return X["v"].to_numpy() * 2, None

    async def scenario() -> list:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(2)
        batcher = Batcher(Slow(), pool, 100, asyncio.get_running_loop())
        first = asyncio.ensure_future(batcher.predict(pd.DataFrame({"v": [1]})))
        await asyncio.sleep(0.02)  # the first call runs; these three queue behind it
        queued = [asyncio.ensure_future(batcher.predict(pd.DataFrame({"v": [v]}))) for v in (2, 3, 4)]
        await asyncio.sleep(0)
        queued[1].cancel()
        done = await asyncio.gather(first, queued[0], queued[2])
        pool.shutdown()
        return [list(labels) for labels, _ in done] + [batcher.calls]

    assert asyncio.run(scenario()) == [[2], [4], [8], 2]


def test_predict_many_splits_the_rows_back_in_order() -> None:
    class Double:
        def predict_checked(self, X):  # type: ignore[no-untyped-def]
            return X["v"].to_numpy() * 2, X[["v"]].to_numpy() / 10

    frames = [pd.DataFrame({"v": [1, 2]}), pd.DataFrame({"v": [3]}), pd.DataFrame({"v": [4, 5, 6]})]
    out = predict_many(Double(), frames)
    assert [list(labels) for labels, _ in out] == [[2, 4], [6], [8, 10, 12]]
    assert [proba.shape for _, proba in out] == [(2, 1), (1, 1), (3, 1)]
