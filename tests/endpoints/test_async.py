"""Asynchronous endpoints: a body larger than the real-time cap streamed to storage, processed by a real Celery
worker, the result fetched by id and equal to in-process predictions, the webhook delivered through the SSRF guard;
request TTL; the submit path's own errors."""

from __future__ import annotations

import http.client
import http.server
import io
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlparse

import orjson
import pandas as pd
import pytest
from django.utils import timezone

from apps.automl import engine
from apps.core.models import WebhookDelivery
from apps.core.storage import storage
from apps.core.webhooks import webhook_delivery_attempt
from apps.endpoints import services
from apps.endpoints.choices import AsyncStatus
from apps.endpoints.models import AsyncInvocation
from apps.jobs.services import job_start
from tests.conftest import wait_for
from tests.endpoints.conftest import call
from tests.factories import ROWS, binary_model, register, training_frame


class Hook(http.server.BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:
        Hook.received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
        pass


@pytest.fixture
def hook() -> Iterator[str]:
    Hook.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/atelier-hook"
    server.shutdown()


@pytest.fixture
def loopback_webhooks(monkeypatch, settings):  # type: ignore[no-untyped-def]
    """The worker (started after this) may call the test's webhook receiver on 127.0.0.1, and this process may save
    it as an endpoint's webhook URL."""
    monkeypatch.setenv("SSRF_ALLOWED_NETWORKS", "127.0.0.1/32")
    settings.SSRF_ALLOWED_NETWORKS = ["127.0.0.1/32"]


def _request(
    base: str, method: str, path: str, key: str, body: bytes | None = None, content_type: str = "text/csv"
) -> tuple[int, bytes]:
    parsed = urlparse(base)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    headers = {"Authorization": f"Bearer {key}"}
    if body is not None:
        headers["Content-Type"] = content_type
        headers["Content-Length"] = str(len(body))
    conn.request(method, path, body=io.BytesIO(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


@pytest.mark.timeout(240)
def test_large_async_request_through_a_real_worker(
    loopback_webhooks, hook, start_worker, studio_server, project_a, mlops_user
) -> None:
    version = register(project_a, mlops_user, binary_model(), approve_by=mlops_user)
    _, key = services.endpoint_create(
        project=project_a,
        user=mlops_user,
        name="bulk",
        endpoint_type="async",
        variants=[{"model_version": version}],
        webhook_url=hook,
    )
    _, rt_key = services.endpoint_create(
        project=project_a, user=mlops_user, name="rt", variants=[{"model_version": version}]
    )
    frame = training_frame(n=300_000, seed=5).drop(columns=["churn"])
    body = frame.to_csv(index=False).encode()
    assert len(body) > 6 * 1024 * 1024
    wait_for(
        lambda: _request(studio_server.url, "GET", "/endpoints/rt/ping", rt_key)[0] == 200,
        timeout=30,
        what="the server to serve",
    )
    status, _ = _request(studio_server.url, "POST", "/endpoints/rt/invocations", rt_key, body)
    assert status == 413, "too large for a real-time endpoint"
    start_worker()
    status, data = _request(
        studio_server.url, "POST", "/endpoints/bulk/async-invocations?probabilities=true", key, body
    )
    assert status == 202, data
    accepted = orjson.loads(data)
    assert accepted["status"] == "queued" and accepted["input_bytes"] == len(body)
    location = accepted["location"]
    assert location == f"/endpoints/bulk/async-invocations/{accepted['inference_id']}"

    def finished() -> dict | None:
        code, raw = _request(studio_server.url, "GET", location, key)
        assert code == 200
        data = orjson.loads(raw)
        assert data["status"] not in ("failed", "expired"), data
        return data if data["status"] == "succeeded" else None

    done = wait_for(finished, timeout=180, interval=0.5, what="the worker to process the request")
    assert done["rows"] == len(frame) and done["output_location"] == f"{location}/result"
    code, raw = _request(studio_server.url, "GET", done["output_location"], key)
    assert code == 200
    result = orjson.loads(raw)
    expected = engine.predict(binary_model(), frame)
    assert result["predictions"] == expected["predictions"]
    assert len(result["probabilities"]) == len(frame)
    assert result["probabilities"][7]["yes"] == pytest.approx(expected["probabilities"][7]["yes"], abs=1e-6)
    invocation = AsyncInvocation.objects.get(inference_id=accepted["inference_id"])
    assert not storage().exists(invocation.input_path), "the input is removed once processed"
    wait_for(lambda: Hook.received, timeout=10, what="the webhook")
    assert Hook.received[0]["inference_id"] == accepted["inference_id"]
    assert Hook.received[0]["status"] == "succeeded" and Hook.received[0]["endpoint"] == "bulk"
    delivered = wait_for(
        lambda: WebhookDelivery.objects.filter(reference=invocation.inference_id.hex, outcome="delivered").first(),
        timeout=10,
        what="the delivery to be logged",
    )
    assert delivered.status_code == 200 and delivered.attempt == 1 and delivered.latency_ms is not None
    other = _request(studio_server.url, "GET", location, rt_key)
    assert other[0] == 401, "another endpoint's key cannot read the result"


# --- in-process ------------------------------------------------------------------------------------------------------


@pytest.fixture
def async_endpoint(db, serving, project_a, mlops_user, version):  # type: ignore[no-untyped-def]
    endpoint, key = services.endpoint_create(
        project=project_a, user=mlops_user, name="bulk", endpoint_type="async", variants=[{"model_version": version}]
    )
    serving.refresh()
    return endpoint, key


def test_async_submit_errors(serving, async_endpoint, settings, project_a, mlops_user, version) -> None:
    _, key = async_endpoint
    auth = {"authorization": f"Bearer {key}", "content-type": "text/csv"}
    settings.SERVING_ASYNC_MAX_BYTES = 100
    big = b"x1,x2,colour\n" + b"1,2,red\n" * 50
    assert call(serving, "POST", "/endpoints/bulk/async-invocations", body=big, headers=auth).status == 413
    streamed = call(serving, "POST", "/endpoints/bulk/async-invocations", chunks=[big[:60], big[60:]], headers=auth)
    assert streamed.status == 413
    assert (
        call(
            serving,
            "POST",
            "/endpoints/bulk/async-invocations",
            body=b"a",
            headers={**auth, "content-type": "text/plain"},
        ).status
        == 415
    )
    assert (
        call(
            serving, "POST", "/endpoints/bulk/async-invocations", body=b"a", headers={"content-type": "text/csv"}
        ).status
        == 401
    )
    assert call(serving, "POST", "/endpoints/bulk/invocations", body=b"x1\n1\n", headers=auth).status == 400
    _, rt_key = services.endpoint_create(
        project=project_a, user=mlops_user, name="rt", variants=[{"model_version": version}]
    )
    serving.refresh()
    refused = call(
        serving,
        "POST",
        "/endpoints/rt/async-invocations",
        body=b"x1\n1\n",
        headers={"authorization": f"Bearer {rt_key}", "content-type": "text/csv"},
    )
    assert refused.status == 400 and "not asynchronous" in refused.json()["message"]
    for bad in ("not-a-uuid", "..", "0" * 31):
        assert call(serving, "GET", f"/endpoints/bulk/async-invocations/{bad}", headers=auth).status == 404


@pytest.mark.django_db(transaction=True)  # the accepted request is stored from the serving app's own thread
def test_a_json_body_over_its_own_limit_is_refused_with_advice_and_csv_is_not(
    serving, async_endpoint, settings
) -> None:
    """A worker parses a JSON body whole (CSV in chunks), so JSON has a lower limit; the 413 says to send CSV."""
    _, key = async_endpoint
    settings.SERVING_ASYNC_JSON_MAX_BYTES = 200
    rows = [{"x1": 1.0, "x2": 2.0, "colour": "red"}] * 10
    body = orjson.dumps({"dataframe_records": rows})
    assert len(body) > 200
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    for reply in (
        call(serving, "POST", "/endpoints/bulk/async-invocations", body=body, headers=headers),
        call(serving, "POST", "/endpoints/bulk/async-invocations", chunks=[body[:150], body[150:]], headers=headers),
    ):
        assert reply.status == 413
        message = reply.json()["message"]
        assert "SERVING_ASYNC_JSON_MAX_BYTES" in message and "text/csv" in message
    assert not AsyncInvocation.objects.exists()
    csv = pd.DataFrame(rows * 3).to_csv(index=False).encode()
    assert len(csv) > 200
    accepted = call(
        serving, "POST", "/endpoints/bulk/async-invocations", body=csv, headers={**headers, "content-type": "text/csv"}
    )
    assert accepted.status == 202


def _invocation(endpoint, body: bytes, content_type: str = "text/csv", **fields):  # type: ignore[no-untyped-def]
    from django.core.files.base import ContentFile

    path = storage().save(f"{services.async_dir(endpoint)}/test.in", ContentFile(body))
    invocation = AsyncInvocation.objects.create(
        endpoint=endpoint,
        content_type=content_type,
        input_path=path,
        input_bytes=len(body),
        expires_at=fields.pop("expires_at", timezone.now() + timedelta(hours=1)),
        **fields,
    )
    invocation.job = job_start(
        kind="endpoints.async_invoke", project=endpoint.project, created_by=None, params={"invocation": invocation.pk}
    )
    invocation.save()
    return invocation


def test_requests_past_their_ttl_expire_unprocessed(async_endpoint, run_job, settings) -> None:
    settings.SSRF_ALLOWED_NETWORKS = []
    endpoint, _ = async_endpoint
    invocation = _invocation(
        endpoint,
        b"x1,x2,colour\n1,2,red\n",
        expires_at=timezone.now() - timedelta(seconds=1),
        webhook_url="http://127.0.0.1:9/hook",
    )
    job = run_job(invocation.job)
    invocation.refresh_from_db()
    assert job.status == "succeeded" and invocation.status == AsyncStatus.EXPIRED
    assert invocation.output_path == "" and not storage().exists(invocation.input_path)
    pending = WebhookDelivery.objects.get(reference=invocation.inference_id.hex)
    assert pending.outcome == "pending", "queued for a worker, not sent from the job"
    attempt = webhook_delivery_attempt(delivery_id=pending.pk)
    assert attempt is not None and attempt.outcome == "failed" and attempt.status_code is None
    assert attempt.error.startswith("Refused by the SSRF guard"), "loopback is not called"
    assert attempt.next_attempt_at is None and WebhookDelivery.objects.count() == 1, "a refused URL is not retried"
    assert services.async_status_payload(invocation)["webhook"].startswith("failed after 1 attempt(s): Refused")


def test_json_async_request_and_schema_error(async_endpoint, run_job) -> None:
    endpoint, _ = async_endpoint
    ok = _invocation(
        endpoint,
        orjson.dumps(
            {
                "dataframe_split": {
                    "columns": ["x1", "x2", "colour"],
                    "data": [[r["x1"], r["x2"], r["colour"]] for r in ROWS],
                }
            }
        ),
        content_type="application/json",
    )
    assert run_job(ok.job).status == "succeeded"
    ok.refresh_from_db()
    with storage().open(ok.output_path, "rb") as handle:
        assert orjson.loads(handle.read()) == {"predictions": engine.predict(binary_model(), ROWS)["predictions"]}
    bad = _invocation(endpoint, pd.DataFrame(ROWS).drop(columns=["x2"]).to_csv(index=False).encode())
    job = run_job(bad.job)
    bad.refresh_from_db()
    assert job.status == "failed" and bad.status == AsyncStatus.FAILED and "x2" in bad.error


def test_status_of_a_queued_request_past_its_ttl_reads_expired(async_endpoint) -> None:
    from apps.endpoints.selectors import async_invocation_status

    endpoint, _ = async_endpoint
    invocation = _invocation(endpoint, b"x1\n1\n", expires_at=timezone.now() - timedelta(seconds=1))
    status = async_invocation_status(endpoint_id=endpoint.pk, inference_id=invocation.inference_id.hex)
    assert status["status"] == "expired"
    assert async_invocation_status(endpoint_id=endpoint.pk + 1, inference_id=invocation.inference_id.hex) is None


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "http://x.test/../../admin",
        "http://x.test/%2e%2e/a",
        "http://user:pw@x.test/",
        "gopher://x.test/",
        "http://x.test:22/",
    ],
)
def test_webhook_urls_are_checked_when_saved(db, media, project_a, mlops_user, version, url: str) -> None:
    with pytest.raises(services.ValidationError) as err:
        services.endpoint_create(
            project=project_a,
            user=mlops_user,
            name="hooked",
            endpoint_type="async",
            variants=[{"model_version": version}],
            webhook_url=url,
        )
    assert "webhook_url" in err.value.message_dict
