"""Production variants (traffic weights, statistically), updates, serverless load/unload/concurrency and data capture,
through the serving ASGI app in this process."""

from __future__ import annotations

import asyncio
import math
import time

import orjson
import pytest

from apps.core.storage import storage
from apps.endpoints import services
from apps.endpoints.serving.capture import capture_dir
from tests.endpoints.conftest import SlowPredictor, acall, invoke
from tests.factories import ROWS

pytestmark = pytest.mark.django_db


def test_traffic_follows_the_variant_weights(serving, project_a, mlops_user, version, version_b) -> None:
    _, key = services.endpoint_create(
        project=project_a,
        user=mlops_user,
        name="ab",
        variants=[
            {"model_version": version, "weight": 4, "name": "champion"},
            {"model_version": version_b, "weight": 1, "name": "challenger"},
        ],
    )
    serving.refresh()
    n = 1500
    counts = {"champion": 0, "challenger": 0}
    versions = {}
    for _ in range(n):
        reply = invoke(serving, "ab", {"instances": ROWS[:1]}, key=key)
        assert reply.status == 200
        counts[reply.headers["x-atelier-variant"]] += 1
        versions[reply.headers["x-atelier-variant"]] = (
            int(reply.headers["x-atelier-model-version"]),
            reply.json()["predictions"][0],
        )
    share = counts["challenger"] / n
    sigma = math.sqrt(0.2 * 0.8 / n)
    assert abs(share - 0.2) < 4 * sigma, counts  # 4 sigma: fails by chance about once in 16,000 runs
    assert versions["champion"] == (version.pk, "yes") and versions["challenger"] == (version_b.pk, "no")


def test_target_variant_header_picks_one(serving, project_a, mlops_user, version, version_b) -> None:
    _, key = services.endpoint_create(
        project=project_a,
        user=mlops_user,
        name="ab",
        variants=[
            {"model_version": version, "weight": 1, "name": "a"},
            {"model_version": version_b, "weight": 1, "name": "b"},
        ],
    )
    serving.refresh()
    for _ in range(20):
        assert (
            invoke(serving, "ab", {"instances": ROWS}, key=key, headers={"x-target-variant": "b"}).headers[
                "x-atelier-variant"
            ]
            == "b"
        )
    reply = invoke(serving, "ab", {"instances": ROWS}, key=key, headers={"x-target-variant": "zzz"})
    assert reply.status == 400 and "x-target-variant" in reply.json()["errors"]


def test_a_zero_weight_variant_gets_no_traffic(serving, project_a, mlops_user, version, version_b) -> None:
    _, key = services.endpoint_create(
        project=project_a,
        user=mlops_user,
        name="ab",
        variants=[{"model_version": version, "weight": 1}, {"model_version": version_b, "weight": 0}],
    )
    serving.refresh()
    seen = {invoke(serving, "ab", {"instances": ROWS}, key=key).headers["x-atelier-variant"] for _ in range(200)}
    assert seen == {"variant-1"}


def test_update_loads_the_new_version_before_switching(serving, project_a, mlops_user, version, version_b) -> None:
    endpoint, key = services.endpoint_create(
        project=project_a, user=mlops_user, name="live", variants=[{"model_version": version}]
    )
    serving.refresh()
    assert serving.models.loaded_ids() == {version.pk}
    services.endpoint_update(endpoint=endpoint, user=mlops_user, variants=[{"model_version": version_b}])
    assert invoke(serving, "live", {"instances": ROWS}, key=key).headers["x-atelier-model-version"] == str(version.pk)
    serving.refresh()
    assert serving.models.loaded_ids() == {version_b.pk}, "the new model was loaded and the old one dropped"
    reply = invoke(serving, "live", {"instances": ROWS}, key=key)
    assert reply.headers["x-atelier-model-version"] == str(version_b.pk)
    assert "x-atelier-cold-start" not in reply.headers, "no request waits for the new model to load"


def test_realtime_models_are_loaded_before_the_first_request(serving, project_a, mlops_user, version) -> None:
    services.endpoint_create(project=project_a, user=mlops_user, name="rt", variants=[{"model_version": version}])
    serving.refresh()
    assert serving.models.peek(version.pk) is not None


# --- serverless -----------------------------------------------------------------------------------------------------


@pytest.fixture
def serverless(serving, project_a, mlops_user, version):  # type: ignore[no-untyped-def]
    endpoint, key = services.endpoint_create(
        project=project_a,
        user=mlops_user,
        name="sls",
        endpoint_type="serverless",
        variants=[{"model_version": version}],
        idle_timeout_s=1,
        max_concurrency=2,
    )
    serving.refresh()
    return endpoint, key


def test_serverless_loads_on_first_request_and_unloads_when_idle(serving, serverless, version) -> None:
    _, key = serverless
    assert serving.models.peek(version.pk) is None, "not loaded before a request"
    first = invoke(serving, "sls", {"instances": ROWS}, key=key)
    assert first.status == 200 and first.headers.get("x-atelier-cold-start") == "true"
    second = invoke(serving, "sls", {"instances": ROWS}, key=key)
    assert second.status == 200 and "x-atelier-cold-start" not in second.headers
    assert serving.reap_idle() == [], "not idle long enough yet"
    time.sleep(1.1)
    assert serving.reap_idle() == [version.pk]
    assert serving.models.peek(version.pk) is None
    serving.refresh()
    assert serving.models.peek(version.pk) is None, "a refresh does not preload serverless models"
    third = invoke(serving, "sls", {"instances": ROWS}, key=key)
    assert third.status == 200 and third.headers.get("x-atelier-cold-start") == "true"
    assert third.json() == first.json()
    assert serving.models.loads == 2


def test_serverless_max_concurrency_answers_429(serving, serverless, version) -> None:
    _, key = serverless
    invoke(serving, "sls", {"instances": ROWS}, key=key)  # load
    entry = serving.models._entries[version.pk]
    entry.predictor = SlowPredictor(entry.predictor, 0.4)

    async def burst() -> list[int]:
        body = orjson.dumps({"instances": ROWS})
        headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}
        replies = await asyncio.gather(
            *[acall(serving, "POST", "/endpoints/sls/invocations", body=body, headers=headers) for _ in range(4)]
        )
        return sorted(r.status for r in replies)

    assert asyncio.run(burst()) == [200, 200, 429, 429]
    assert serving.active == {serverless[0].pk: 0}
    assert invoke(serving, "sls", {"instances": ROWS}, key=key).status == 200, "free again afterwards"


def test_serverless_is_not_unloaded_while_busy(serving, serverless, version) -> None:
    _, key = serverless
    invoke(serving, "sls", {"instances": ROWS}, key=key)
    serving.active[serverless[0].pk] = 1
    time.sleep(1.1)
    assert serving.reap_idle() == []
    serving.active[serverless[0].pk] = 0


# --- data capture -------------------------------------------------------------------------------------------------


def _captured(project_id: int, name: str) -> list[dict]:
    from apps.core.storage import walk_files

    records = []
    for path, _size in walk_files(capture_dir(project_id, name)):
        with storage().open(path, "rb") as handle:
            records += [orjson.loads(line) for line in handle.read().splitlines() if line]
    return records


def test_capture_writes_sampled_requests_with_inference_ids(serving, project_a, mlops_user, version) -> None:
    cap, key = services.endpoint_create(
        project=project_a, user=mlops_user, name="cap", variants=[{"model_version": version}], capture_percent=100
    )
    serving.refresh()
    ids = [invoke(serving, "cap", {"instances": ROWS}, key=key).headers["x-inference-id"] for _ in range(3)]
    assert invoke(serving, "cap", {"rows": ROWS}, key=key).status == 400, "refused requests are not captured"
    assert invoke(serving, "cap", {"instances": ROWS}, key="ep_wrong").status == 401
    assert _captured(project_a.pk, "cap") == [], "written by the writer thread, not during the request"
    assert serving.capture.flush() == 3
    records = _captured(project_a.pk, "cap")
    assert sorted(r["inference_id"] for r in records) == sorted(ids)
    record = records[0]
    assert record["endpoint"] == "cap" and record["variant"] == "variant-1" and record["model_version"] == version.pk
    assert orjson.loads(record["request"]["body"]) == {"instances": ROWS}
    assert orjson.loads(record["response"]["body"])["predictions"]
    assert record["response"]["status"] == 200 and record["latency_ms"] > 0
    serving.flush_metrics()
    assert cap.metrics.get().captured == 3


def test_capture_samples_by_percentage(serving, project_a, mlops_user, version) -> None:
    _, key = services.endpoint_create(
        project=project_a, user=mlops_user, name="cap", variants=[{"model_version": version}], capture_percent=20
    )
    serving.refresh()
    for _ in range(400):
        invoke(serving, "cap", {"instances": ROWS[:1]}, key=key)
    n = serving.capture.flush()
    assert abs(n - 80) < 4 * math.sqrt(400 * 0.2 * 0.8), n


def test_capture_never_blocks_a_full_queue_drops_and_counts(serving, project_a, mlops_user, version) -> None:
    from apps.endpoints.serving.capture import CaptureWriter

    endpoint, key = services.endpoint_create(
        project=project_a, user=mlops_user, name="cap", variants=[{"model_version": version}], capture_percent=100
    )
    serving.capture = CaptureWriter(maxsize=2)
    serving.refresh()
    for _ in range(5):
        assert invoke(serving, "cap", {"instances": ROWS}, key=key).status == 200
    assert serving.capture.flush() == 2
    serving.flush_metrics()
    row = endpoint.metrics.get()
    assert (row.captured, row.capture_dropped) == (2, 3)
