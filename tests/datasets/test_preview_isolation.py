"""A slow flow preview in the real ASGI server (uvicorn subprocess on the test database): while it runs, /healthz
and a real-time endpoint keep answering within 200 ms, and the preview itself ends at its time limit with a 400
naming the step (issue 12 item 2).

The slow step is a TF-IDF over a long text column: on the 50,000-row preview sample it is ~8 s of CPU in one
Python process (scikit-learn's tokenizer and counting), no pathological regular expression involved."""

from __future__ import annotations

import http.client
import threading
import time
from typing import Any
from urllib.parse import urlparse

import numpy as np
import orjson
import pandas as pd
import pytest

from apps.accounts.services import api_token_create
from apps.datasets import services as datasets
from apps.endpoints import services as endpoints
from tests.conftest import clean_project_storage, wait_for
from tests.datasets.conftest import make_version
from tests.e2e.conftest import collected_static, studio_server  # noqa: F401  (uvicorn in a subprocess on the test database)
from tests.factories import ROWS, binary_model, register

pytestmark = pytest.mark.timeout(300)

LIMIT_S = 3.0
BUDGET_S = 0.2


class Client:
    """HTTP requests to one server, each on a new connection (a stalled server would otherwise drop idle keep-alive
    connections, which would hide the latency this test measures); the time includes connecting."""

    def __init__(self, base: str, timeout: float = 120) -> None:
        parsed = urlparse(base)
        self.host, self.port, self.timeout = parsed.hostname, parsed.port, timeout

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any, float]:
        data = orjson.dumps(body) if body is not None else None
        started = time.perf_counter()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
            response = conn.getresponse()
            raw = response.read()
        finally:
            conn.close()
        elapsed = time.perf_counter() - started
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            parsed = raw.decode(errors="replace")
        return response.status, parsed, elapsed


def long_texts(rows: int = 50_000, words: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    vocabulary = np.array([f"term{i}" for i in range(20_000)])
    picks = rng.choice(vocabulary, size=(rows, words))
    return pd.DataFrame({"review": [" ".join(row) for row in picks], "stars": rng.integers(1, 6, rows)})


@pytest.fixture
def preview_limit(monkeypatch):  # type: ignore[no-untyped-def]
    """A small preview limit for the server this test starts (requested before `studio_server`)."""
    monkeypatch.setenv("PREVIEW_TIMEOUT_S", str(LIMIT_S))


def test_a_slow_preview_stalls_neither_the_web_process_nor_serving_and_stops_at_its_limit(  # type: ignore[no-untyped-def]
    preview_limit,
    studio_server,  # noqa: F811
    project_a,
    ds_user,
    mlops_user,
) -> None:
    try:
        version = make_version(project_a, long_texts(), name="reviews", user=ds_user)
        flow = datasets.flow_create(project=project_a, created_by=ds_user, name="slow", sources=[version])
        model = register(project_a, mlops_user, binary_model(), approve_by=mlops_user)
        _, endpoint_key = endpoints.endpoint_create(
            project=project_a, user=mlops_user, name="live", variants=[{"model_version": model}]
        )
        _, token = api_token_create(user=ds_user, name="preview")

        invocation = {"dataframe_records": ROWS}
        bearer = {"Authorization": f"Bearer {endpoint_key}"}
        health, serving = Client(studio_server.url), Client(studio_server.url)
        wait_for(
            lambda: serving.request("POST", "/endpoints/live/invocations", invocation, bearer)[0] == 200,
            timeout=30,
            what="the endpoint to answer",
        )
        assert health.request("GET", "/healthz")[0] == 200

        answer: dict[str, Any] = {}

        def preview() -> None:
            client = Client(studio_server.url)
            answer["status"], answer["body"], answer["elapsed"] = client.request(
                "POST",
                f"/api/flows/{flow.pk}/preview/",
                {"draft": {"op": "tfidf", "parameters": {"column": "review", "max_features": 50}}},
                {"Authorization": f"Token {token}"},
            )

        worker = threading.Thread(target=preview)
        worker.start()
        health_times: list[float] = []
        serving_times: list[float] = []
        time.sleep(0.5)  # let the preview get going: the probes below must overlap its heavy part
        while worker.is_alive():
            status, body, elapsed = health.request("GET", "/healthz")
            assert status == 200
            health_times.append(elapsed)
            status, body, elapsed = serving.request("POST", "/endpoints/live/invocations", invocation, bearer)
            assert status == 200 and len(body["predictions"]) == len(ROWS)
            serving_times.append(elapsed)
            time.sleep(0.05)
        worker.join()

        assert len(health_times) >= 5 and len(serving_times) >= 5
        # Every probe within the budget, but one: under `make test` another test process shares the two cores, and the
        # scheduler can hold any process for a moment (one probe of ~20 took 290 ms in CI). The old stall was 11-15 s.
        for times in (health_times, serving_times):
            assert sorted(times)[-2] < BUDGET_S and max(times) < 2.5 * BUDGET_S, sorted(times)[-5:]
        assert answer["status"] == 400, answer
        detail = answer["body"]["detail"]
        assert "Step 's1' (tfidf)" in detail and f"preview limit of {LIMIT_S:g} s" in detail, detail
        # Stopped at its limit (plus the sandbox worker's first start, which the limit does not count), long before
        # the step would have finished.
        assert LIMIT_S <= answer["elapsed"] < LIMIT_S + 15
        flow.refresh_from_db()
        assert flow.definition["steps"] == []  # a preview saves nothing
    finally:
        clean_project_storage(project_a)
