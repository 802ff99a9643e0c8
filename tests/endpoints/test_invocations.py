"""The invocation protocol through the serving ASGI app (in this process): every content type and JSON form, every
error code, key checks, the approval rule at serve time, path forms that must not route anywhere."""

from __future__ import annotations

import asyncio
import time

import orjson
import pandas as pd
import pytest

from apps.automl import engine
from apps.endpoints import services
from apps.endpoints.models import EndpointMetric
from apps.registry.services import version_approval_update
from tests.endpoints.conftest import SlowPredictor, acall, call, invoke
from tests.factories import ROWS, binary_model

pytestmark = pytest.mark.django_db

EXPECTED = engine.predict(binary_model(), ROWS)


JSON_FORMS = {
    "dataframe_split": {
        "dataframe_split": {"columns": ["x1", "x2", "colour"], "data": [[r["x1"], r["x2"], r["colour"]] for r in ROWS]}
    },
    "dataframe_split_with_index": {
        "dataframe_split": {
            "columns": ["colour", "x1", "x2"],
            "index": [7, 8, 9],
            "data": [[r["colour"], r["x1"], r["x2"]] for r in ROWS],
        }
    },
    "dataframe_records": {"dataframe_records": ROWS},
    "instances_records": {"instances": ROWS},
    "instances_lists": {"instances": [[r["x1"], r["x2"], r["colour"]] for r in ROWS]},
    "inputs_columnar": {"inputs": {k: [r[k] for r in ROWS] for k in ("x1", "x2", "colour")}},
    "inputs_records": {"inputs": ROWS},
    "with_params": {"dataframe_records": ROWS, "params": {"unused": 1}},
}


@pytest.mark.parametrize("form", list(JSON_FORMS))
def test_each_json_form_returns_the_models_predictions(serving, deployed, form: str) -> None:
    reply = invoke(serving, "churn-live", JSON_FORMS[form], key=deployed[1])
    assert reply.status == 200, reply.body
    assert reply.json() == {"predictions": EXPECTED["predictions"]}
    assert reply.headers["content-type"] == "application/json"
    assert len(reply.headers["x-inference-id"]) == 32
    assert reply.headers["x-atelier-variant"] == "variant-1"


def test_csv_returns_the_same_predictions(serving, deployed) -> None:
    csv = pd.DataFrame(ROWS).to_csv(index=False).encode()
    reply = invoke(serving, "churn-live", body=csv, content_type="text/csv; charset=utf-8", key=deployed[1])
    assert reply.status == 200, reply.body
    assert reply.json() == {"predictions": EXPECTED["predictions"]}


def test_json_with_charset_parameter_is_accepted(serving, deployed) -> None:
    reply = invoke(
        serving,
        "churn-live",
        {"dataframe_records": ROWS},
        content_type="application/json; charset=utf-8",
        key=deployed[1],
    )
    assert reply.status == 200


def test_probabilities_on_request(serving, deployed) -> None:
    by_query = invoke(serving, "churn-live", {"dataframe_records": ROWS}, key=deployed[1], query="probabilities=true")
    by_params = invoke(
        serving, "churn-live", {"dataframe_records": ROWS, "params": {"probabilities": True}}, key=deployed[1]
    )
    csv = invoke(
        serving,
        "churn-live",
        body=pd.DataFrame(ROWS).to_csv(index=False).encode(),
        content_type="text/csv",
        key=deployed[1],
        query="probabilities=1",
    )
    for reply in (by_query, by_params, csv):
        assert reply.status == 200
        data = reply.json()
        assert data["predictions"] == EXPECTED["predictions"]
        assert [set(p) for p in data["probabilities"]] == [{"no", "yes"}] * 3
        for got, want in zip(data["probabilities"], EXPECTED["probabilities"], strict=True):
            assert got["yes"] == pytest.approx(want["yes"], abs=1e-5)
    assert "probabilities" not in invoke(serving, "churn-live", {"instances": ROWS}, key=deployed[1]).json()


def test_empty_input_gives_empty_predictions(serving, deployed) -> None:
    reply = invoke(serving, "churn-live", {"dataframe_records": []}, key=deployed[1])
    assert reply.status == 200 and reply.json() == {"predictions": []}


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/xml",
        "",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonx",
    ],
)
def test_other_content_types_are_415(serving, deployed, content_type: str) -> None:
    reply = invoke(serving, "churn-live", {"dataframe_records": ROWS}, content_type=content_type, key=deployed[1])
    assert reply.status == 415
    assert reply.json()["error_code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert "application/json or text/csv" in reply.json()["message"]


BAD_BODIES = {
    "not_json": (b"{nope", "not valid JSON", "body"),
    "not_an_object": (b"[1, 2]", "must be a JSON object", "body"),
    "no_form": (orjson.dumps({"rows": ROWS}), "exactly one of", "body"),
    "two_forms": (orjson.dumps({"instances": ROWS, "inputs": ROWS}), "found instances, inputs", "body"),
    "unknown_key": (orjson.dumps({"instances": ROWS, "extra": 1}), "Unknown keys in the body: extra", "extra"),
    "split_short_row": (
        orjson.dumps({"dataframe_split": {"columns": ["x1", "x2", "colour"], "data": [[1, 2]]}}),
        "row 0 has 2 values for 3 columns",
        "dataframe_split",
    ),
    "records_not_objects": (
        orjson.dumps({"dataframe_records": [[1, 2, "red"]]}),
        "list of {column: value}",
        "dataframe_records",
    ),
    "instances_wrong_width": (
        orjson.dumps({"instances": [[1, 2]]}),
        "row 0 has 2 values; the model takes 3",
        "instances",
    ),
    "inputs_ragged": (
        orjson.dumps({"inputs": {"x1": [1, 2], "x2": [1], "colour": ["a", "b"]}}),
        "same number",
        "inputs",
    ),
    "params_not_object": (orjson.dumps({"instances": ROWS, "params": [1]}), "`params` must be an object", "params"),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_malformed_bodies_are_400_naming_the_problem(serving, deployed, case: str) -> None:
    body, message, field = BAD_BODIES[case]
    reply = invoke(serving, "churn-live", body=body, key=deployed[1])
    assert reply.status == 400, reply.body
    data = reply.json()
    assert message in data["message"] and data["detail"] == data["message"]
    assert field in data["errors"]


def test_bad_csv_is_400(serving, deployed) -> None:
    for body in (b"", b'x1,x2\n"1,2\n'):
        reply = invoke(serving, "churn-live", body=body, content_type="text/csv", key=deployed[1])
        assert reply.status == 400, body


def test_missing_column_is_400_naming_it(serving, deployed) -> None:
    rows = [{"x1": 1.0, "colour": "red"}]
    reply = invoke(serving, "churn-live", {"dataframe_records": rows}, key=deployed[1])
    assert reply.status == 400
    data = reply.json()
    assert data["error_code"] == "SCHEMA_ERROR"
    assert set(data["errors"]) == {"x2"} and "Missing column(s): x2" in data["message"]


def test_mistyped_column_is_400_naming_it(serving, deployed) -> None:
    csv = b"x1,x2,colour\n1.0,lots,red\n"
    reply = invoke(serving, "churn-live", body=csv, content_type="text/csv", key=deployed[1])
    assert reply.status == 400
    assert set(reply.json()["errors"]) == {"x2"} and "'lots'" in reply.json()["message"]


def test_extra_columns_are_ignored_as_mlflow_does(serving, deployed) -> None:
    rows = [{**r, "note": "hi"} for r in ROWS]
    reply = invoke(serving, "churn-live", {"dataframe_records": rows}, key=deployed[1])
    assert reply.status == 200 and reply.json()["predictions"] == EXPECTED["predictions"]


def test_body_over_the_limit_is_413_declared_or_streamed(serving, deployed, settings) -> None:
    settings.SERVING_MAX_REQUEST_BYTES = 2000
    big = orjson.dumps({"dataframe_records": ROWS * 40})
    assert len(big) > 2000
    declared = invoke(serving, "churn-live", body=big, key=deployed[1])
    assert declared.status == 413 and "2,000 bytes" in declared.json()["message"]
    streamed = call(
        serving,
        "POST",
        "/endpoints/churn-live/invocations",
        chunks=[big[:1500], big[1500:]],
        headers={"content-type": "application/json", "authorization": f"Bearer {deployed[1]}"},
    )
    assert streamed.status == 413
    small = invoke(serving, "churn-live", {"dataframe_records": ROWS}, key=deployed[1])
    assert small.status == 200


def test_default_limit_is_6_mb(settings) -> None:
    assert settings.SERVING_MAX_REQUEST_BYTES == 6 * 1024 * 1024


def test_slow_prediction_is_504_after_the_endpoint_timeout(serving, deployed, mlops_user, version) -> None:
    endpoint, key = deployed
    services.endpoint_update(endpoint=endpoint, user=mlops_user, timeout_s=0.2)
    serving.refresh()
    entry = serving.models._entries[version.pk]
    entry.predictor = SlowPredictor(entry.predictor, 1.0)
    started = time.monotonic()
    reply = invoke(serving, "churn-live", {"instances": ROWS}, key=key)
    assert reply.status == 504 and reply.json()["error_code"] == "TIMEOUT"
    assert "0.2 s" in reply.json()["message"]
    assert time.monotonic() - started < 0.9


def test_model_that_raises_is_500_and_counted(serving, deployed, version) -> None:
    class Broken:
        classes, feature_names = ["no", "yes"], ["x1"]

        def check(self, frame):  # type: ignore[no-untyped-def]
            return frame

        def predict_checked(self, X):  # type: ignore[no-untyped-def]
            raise RuntimeError("boom")

    serving.models._entries[version.pk].predictor = Broken()
    reply = invoke(serving, "churn-live", {"instances": ROWS}, key=deployed[1])
    assert reply.status == 500 and "boom" not in reply.body.decode()
    serving.flush_metrics()
    assert EndpointMetric.objects.get(endpoint=deployed[0]).server_errors == 1


# --- keys ---------------------------------------------------------------------------------------------------------


def test_missing_key_is_401_with_a_bearer_challenge(serving, deployed) -> None:
    reply = invoke(serving, "churn-live", {"instances": ROWS}, key=None)
    assert reply.status == 401 and reply.headers["www-authenticate"].startswith("Bearer")
    for auth in ("Token " + deployed[1], "Basic abc", "Bearer", deployed[1]):
        reply = invoke(serving, "churn-live", {"instances": ROWS}, key=None, headers={"authorization": auth})
        assert reply.status == 401, auth


def test_wrong_key_is_401(serving, deployed) -> None:
    assert invoke(serving, "churn-live", {"instances": ROWS}, key=deployed[1] + "x").status == 401
    assert invoke(serving, "churn-live", {"instances": ROWS}, key="ep_" + "A" * 43).status == 401


def test_revoked_key_stops_working_after_the_refresh(serving, deployed, mlops_user) -> None:
    endpoint, key = deployed
    row, second = services.endpoint_key_create(endpoint=endpoint, user=mlops_user, name="ci")
    serving.refresh()
    assert invoke(serving, "churn-live", {"instances": ROWS}, key=second).status == 200
    services.endpoint_key_revoke(key=row, user=mlops_user)
    serving.refresh()
    reply = invoke(serving, "churn-live", {"instances": ROWS}, key=second)
    assert reply.status == 401 and "revoked" in reply.json()["message"]
    assert invoke(serving, "churn-live", {"instances": ROWS}, key=key).status == 200


def test_another_endpoints_key_is_401(serving, deployed, project_a, mlops_user, version) -> None:
    _, other_key = services.endpoint_create(
        project=project_a, user=mlops_user, name="other", variants=[{"model_version": version}]
    )
    serving.refresh()
    assert invoke(serving, "churn-live", {"instances": ROWS}, key=other_key).status == 401
    assert invoke(serving, "other", {"instances": ROWS}, key=other_key).status == 200
    assert invoke(serving, "other", {"instances": ROWS}, key=deployed[1]).status == 401


def test_keys_are_stored_hashed(deployed) -> None:
    endpoint, key = deployed
    row = endpoint.keys.get()
    assert key not in (row.key_hash, row.prefix) and len(row.key_hash) == 64 and key.startswith(row.prefix)


# --- routing --------------------------------------------------------------------------------------------------------


def test_unknown_endpoint_is_404(serving, deployed) -> None:
    reply = invoke(serving, "nope", {"instances": ROWS}, key=deployed[1])
    assert reply.status == 404 and reply.json()["error_code"] == "ENDPOINT_NOT_FOUND"


@pytest.mark.parametrize(
    "path",
    [
        "/endpoints/../api/jobs/",
        "/endpoints/churn-live/../other/invocations",
        "/endpoints/churn-live/invocations/..",
        "/endpoints/./churn-live/invocations",
        "/endpoints//churn-live/invocations",
        "/endpoints/churn-live//invocations",
        "/endpoints/churn%2flive/invocations",
        "/endpoints/churn-live/invocations/extra",
        "/endpoints/",
        "/endpoints/churn-live",
        "/endpoints/churn-live/",
        "/endpoints/churn-live/async-invocations/../../x",
        "/endpoints/churn-live/async-invocations/..%2f..%2fetc%2fpasswd",
        "/endpoints/-bad/invocations",
        "/endpoints/churn-live\\..\\x/invocations",
    ],
)
def test_path_forms_that_route_nowhere_are_404(serving, deployed, path: str) -> None:
    reply = call(
        serving,
        "POST",
        path,
        body=orjson.dumps({"instances": ROWS}),
        headers={"content-type": "application/json", "authorization": f"Bearer {deployed[1]}"},
    )
    assert reply.status == 404, (path, reply.body)


def test_wrong_method_is_405(serving, deployed) -> None:
    reply = call(serving, "GET", "/endpoints/churn-live/invocations")
    assert reply.status == 405 and reply.headers["allow"] == "POST"
    assert call(serving, "POST", "/endpoints/churn-live/ping").status == 405


def test_ping_answers_without_a_key(serving, deployed) -> None:
    reply = call(serving, "GET", "/endpoints/churn-live/ping")
    assert reply.status == 200 and reply.json() == {"status": "Healthy", "endpoint": "churn-live"}
    assert call(serving, "GET", "/endpoints/nope/ping").status == 404


def test_a_version_that_loses_approval_is_not_served(serving, deployed, mlops_user, version) -> None:
    version_approval_update(version=version, user=mlops_user, status="Rejected", description="bias found")
    serving.refresh()
    reply = invoke(serving, "churn-live", {"instances": ROWS}, key=deployed[1])
    assert reply.status == 503 and "no approved model version" in reply.json()["message"]
    assert call(serving, "GET", "/endpoints/churn-live/ping").status == 503
    assert serving.models.peek(version.pk) is None, "its model is unloaded"


def test_other_paths_go_to_django(serving) -> None:
    seen = []

    async def fallback(scope, receive, send):  # type: ignore[no-untyped-def]
        seen.append(scope["path"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    serving.fallback = fallback
    assert call(serving, "GET", "/deployments/").status == 204
    assert call(serving, "GET", "/endpointsx/a/invocations").status == 204
    assert seen == ["/deployments/", "/endpointsx/a/invocations"]


# --- metrics --------------------------------------------------------------------------------------------------------


def test_metrics_are_counted_in_memory_and_flushed_per_minute(serving, deployed) -> None:
    endpoint, key = deployed
    for _ in range(5):
        assert invoke(serving, "churn-live", {"instances": ROWS}, key=key).status == 200
    invoke(serving, "churn-live", {"rows": ROWS}, key=key)  # 400
    invoke(serving, "churn-live", {"instances": ROWS}, key="wrong")  # 401
    assert not EndpointMetric.objects.exists(), "nothing is written per request"
    assert serving.flush_metrics() == 1
    row = EndpointMetric.objects.get(endpoint=endpoint)
    assert (row.variant, row.invocations, row.client_errors, row.server_errors) == ("variant-1", 7, 2, 0)
    assert sum(row.latency_hist) == 7 and row.latency_sum_ms > 0
    invoke(serving, "churn-live", {"instances": ROWS}, key=key)
    serving.flush_metrics()
    row.refresh_from_db()
    assert row.invocations == 8 and sum(row.latency_hist) == 8, "a second flush adds to the same minute"


def test_concurrent_requests_are_served_in_parallel(serving, deployed, version) -> None:
    _, key = deployed
    entry = serving.models._entries[version.pk]
    entry.predictor = SlowPredictor(entry.predictor, 0.3)

    async def many() -> list[int]:
        body = orjson.dumps({"instances": ROWS})
        headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}
        replies = await asyncio.gather(
            *[acall(serving, "POST", "/endpoints/churn-live/invocations", body=body, headers=headers) for _ in range(4)]
        )
        return [r.status for r in replies]

    started = time.monotonic()
    assert asyncio.run(many()) == [200] * 4
    assert time.monotonic() - started < 1.0, "four 0.3 s predictions ran on the thread pool, not one after another"
