"""Endpoint webhooks (apps/core/webhooks.py): a URL the SSRF guard would refuse is refused when saved, with the
reason (service, API, page); deliveries reach a real receiver on 127.0.0.1 signed with the endpoint's secret;
failures are retried with growing waits, each attempt logged (status, latency, attempt); the log is shown on the
endpoint page and in its API, scoped by project; the secret is readable by deployers and rotatable."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse

from apps.core import webhooks
from apps.core.models import WebhookDelivery
from apps.core.tasks import webhook_deliver
from apps.core.webhook_signing import verify_signature
from apps.endpoints import services
from apps.endpoints.models import Endpoint
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# Each refused for its own reason: loopback by name and by address, private ranges, link-local metadata, CGNAT,
# IPv6 loopback, a name that cannot resolve (.invalid never does), a scheme and a port the guard refuses.
REFUSED = [
    ("http://127.0.0.1:8080/hook", "loopback"),
    ("http://localhost:8080/hook", "loopback"),
    ("http://10.1.2.3/hook", "private"),
    ("http://192.168.0.10:8443/hook", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://100.64.0.1/hook", "private"),
    ("http://[::1]:8080/hook", "loopback"),
    ("https://hooks.example.invalid/hook", "does not resolve"),
    ("ftp://example.com/hook", "Only http and https"),
    ("http://example.com:22/hook", "Port 22"),
]


@pytest.fixture
def no_private(settings):  # type: ignore[no-untyped-def]
    settings.SSRF_ALLOWED_NETWORKS = []


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_api_refuses_an_unsafe_webhook_url_when_saved(
    api_for, no_private, mlops_user, project_a, version, url: str, reason: str
) -> None:
    response = api_for(mlops_user).post(
        "/api/endpoints/",
        {"project": project_a.pk, "name": "hooked", "type": "async", "model_version": version.pk, "webhook_url": url},
        format="json",
    )
    assert response.status_code == 400, response.json()
    body = response.json()
    assert list(body["errors"]) == ["webhook_url"]
    message = body["errors"]["webhook_url"][0]
    assert reason in message and body["detail"].startswith("webhook_url: ")
    assert ("SSRF_ALLOWED_NETWORKS" in message) == (reason in ("loopback", "private", "link-local"))
    assert not Endpoint.objects.exists()


def test_an_update_and_the_service_refuse_it_too(api_for, no_private, mlops_user, project_a, version) -> None:
    endpoint, _ = services.endpoint_create(
        project=project_a, user=mlops_user, name="hooked", endpoint_type="async", variants=[{"model_version": version}]
    )
    response = api_for(mlops_user).post(
        f"/api/endpoints/{endpoint.pk}/update/", {"webhook_url": "http://169.254.169.254/hook"}, format="json"
    )
    assert response.status_code == 400
    assert "link-local" in response.json()["errors"]["webhook_url"][0]
    with pytest.raises(services.ValidationError) as err:
        services.endpoint_update(endpoint=endpoint, user=mlops_user, webhook_url="http://10.0.0.7/hook")
    assert "10.0.0.7" in err.value.message_dict["webhook_url"][0]
    endpoint.refresh_from_db()
    assert endpoint.webhook_url == ""


def test_the_create_page_shows_the_reason_on_the_field(client_for, no_private, mlops_user, project_a, version) -> None:
    response = client_for(mlops_user).post(
        reverse("endpoints:create"),
        {
            "name": "hooked",
            "type": "async",
            "model_version": version.pk,
            "weight": 1,
            "second_weight": 0,
            "capture_percent": 0,
            "idle_timeout_s": 300,
            "max_concurrency": 5,
            "webhook_url": "http://192.168.1.20:8080/hook",
        },
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert "192.168.1.20" in form.errors["webhook_url"][0] and "private" in form.errors["webhook_url"][0]
    assert "192.168.1.20" in response.content.decode()
    assert not Endpoint.objects.exists()


def test_the_detail_page_update_refuses_it(client_for, no_private, mlops_user, project_a, version) -> None:
    endpoint, _ = services.endpoint_create(
        project=project_a, user=mlops_user, name="hooked", endpoint_type="async", variants=[{"model_version": version}]
    )
    response = client_for(mlops_user).post(
        reverse("endpoints:update", args=[endpoint.pk]),
        {
            "variant_version": [version.pk],
            "variant_weight": ["1"],
            "variant_name": ["variant-1"],
            "webhook_url": "http://localhost:9000/hook",
        },
    )
    assert response.status_code == 400 and "loopback" in response.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.webhook_url == ""


# --- deliveries to a real receiver -------------------------------------------------------------------------------


class Receiver(http.server.BaseHTTPRequestHandler):
    """Answers with the next scripted status (200 once the script is used up) and records what it got."""

    script: list[int] = []
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        Receiver.received.append({"headers": dict(self.headers.items()), "body": body, "at": time.time()})
        self.send_response(Receiver.script.pop(0) if Receiver.script else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver(settings) -> Iterator[str]:  # type: ignore[no-untyped-def]
    settings.SSRF_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.WEBHOOK_MAX_ATTEMPTS = 5
    settings.WEBHOOK_RETRY_BASE_S = 40
    settings.WEBHOOK_RETRY_FACTOR = 3
    Receiver.script, Receiver.received = [], []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/atelier-hook"
    server.shutdown()
    server.server_close()


@pytest.fixture
def hooked(receiver, project_a, mlops_user, version):  # type: ignore[no-untyped-def]
    endpoint, _ = services.endpoint_create(
        project=project_a,
        user=mlops_user,
        name="hooked",
        endpoint_type="async",
        variants=[{"model_version": version}],
        webhook_url=receiver,
    )
    return endpoint


def _send(endpoint: Endpoint, payload: dict[str, Any] | None = None) -> WebhookDelivery:
    delivery = webhooks.webhook_send(
        subscriber=endpoint,
        project_id=endpoint.project_id,
        url=endpoint.webhook_url,
        event="async_invocation.completed",
        payload=payload or {"status": "succeeded"},
        reference="abc123",
    )
    assert delivery is not None and delivery.outcome == "pending" and delivery.attempted_at is None
    return delivery


@pytest.fixture
def enqueued(monkeypatch) -> list[tuple[int, float]]:  # type: ignore[no-untyped-def]
    """(delivery id, countdown) of every task the service hands to the broker."""
    calls: list[tuple[int, float]] = []
    monkeypatch.setattr(webhook_deliver, "apply_async", lambda args, countdown=0.0: calls.append((args[0], countdown)))
    return calls


def test_a_delivery_is_signed_with_the_endpoints_secret(hooked, enqueued, django_capture_on_commit_callbacks) -> None:
    payload = {"inference_id": "abc123", "status": "succeeded", "rows": 3, "endpoint": "hooked"}
    with django_capture_on_commit_callbacks(execute=True):
        delivery = _send(hooked, payload)
    assert enqueued == [(delivery.pk, 0.0)], "a worker sends it, not the caller"
    assert Receiver.received == [], "nothing is sent before the task runs"
    webhook_deliver(delivery.pk)
    assert len(Receiver.received) == 1
    got = Receiver.received[0]
    headers = {k.lower(): v for k, v in got["headers"].items()}
    assert json.loads(got["body"]) == payload
    secret = Endpoint.objects.get(pk=hooked.pk).webhook_secret
    assert secret.startswith("whsec_") and len(secret) > 40
    signature = headers["x-atelier-signature"]
    assert verify_signature(secret, signature, got["body"], tolerance=30)
    assert abs(int(headers["x-atelier-timestamp"]) - got["at"]) <= 2
    assert signature.startswith(f"t={headers['x-atelier-timestamp']},v1=")
    assert not verify_signature("whsec_wrong", signature, got["body"], tolerance=30)
    assert not verify_signature(secret, signature, got["body"] + b" ", tolerance=30), "a changed body fails"
    assert not verify_signature(secret, signature, got["body"], tolerance=30, now=got["at"] + 3600), "stale"
    assert headers["x-atelier-event"] == "async_invocation.completed"
    assert headers["x-atelier-delivery"] == str(delivery.delivery_id) and headers["x-atelier-attempt"] == "1"
    row = WebhookDelivery.objects.get(pk=delivery.pk)
    assert (row.outcome, row.status_code, row.attempt, row.error) == ("delivered", 200, 1, "")
    assert row.latency_ms is not None and 0 < row.latency_ms < 5000 and row.attempted_at is not None
    assert row.next_attempt_at is None and WebhookDelivery.objects.count() == 1
    webhook_deliver(delivery.pk)
    assert len(Receiver.received) == 1, "a duplicate task does not send twice"


def test_failures_are_retried_with_growing_waits_and_every_attempt_logged(
    hooked, enqueued, django_capture_on_commit_callbacks
) -> None:
    Receiver.script = [500, 500, 200]
    with django_capture_on_commit_callbacks(execute=True):
        first = _send(hooked)
    pk = first.pk
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            webhook_deliver(pk)
        pk = enqueued[-1][0]
    rows = list(WebhookDelivery.objects.order_by("attempt"))
    assert [(r.attempt, r.outcome, r.status_code) for r in rows] == [
        (1, "retrying", 500),
        (2, "retrying", 500),
        (3, "delivered", 200),
    ]
    assert len({r.delivery_id for r in rows}) == 1 and len(Receiver.received) == 3
    assert [json.loads(r["body"]) for r in Receiver.received] == [{"status": "succeeded"}] * 3, "the same body"
    assert [r["headers"]["X-Atelier-Attempt"] for r in Receiver.received] == ["1", "2", "3"]
    assert all(r.latency_ms is not None and r.latency_ms > 0 for r in rows)
    assert "HTTP 500" in rows[0].error and rows[2].error == ""
    waits = [(r.next_attempt_at - r.attempted_at).total_seconds() for r in rows[:2]]
    assert waits[0] == pytest.approx(40, abs=1) and waits[1] == pytest.approx(120, abs=1), "40 s, then 3× longer"
    assert rows[1].scheduled_at == rows[0].next_attempt_at and rows[2].scheduled_at == rows[1].next_attempt_at
    assert rows[2].next_attempt_at is None
    assert [countdown for _, countdown in enqueued] == [0.0, 40.0, 120.0], "the tasks wait as long as the log says"


def test_attempts_are_bounded(hooked, enqueued, django_capture_on_commit_callbacks, settings) -> None:
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    Receiver.script = [503] * 10
    with django_capture_on_commit_callbacks(execute=True):
        pk = _send(hooked).pk
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            webhook_deliver(pk)
        pk = enqueued[-1][0]
    rows = list(WebhookDelivery.objects.order_by("attempt"))
    assert [(r.attempt, r.outcome) for r in rows] == [(1, "retrying"), (2, "retrying"), (3, "failed")]
    assert rows[-1].next_attempt_at is None and len(enqueued) == 3 and len(Receiver.received) == 3
    assert webhooks.webhook_status_text(rows[-1]) == "failed after 3 attempt(s): The receiver answered HTTP 503."
    assert [webhooks.backoff_s(n) for n in range(1, 5)] == [40, 120, 360, 1080], "five attempts over ~27 min"


def test_an_unreachable_receiver_is_retried_and_logged(
    hooked, enqueued, django_capture_on_commit_callbacks, receiver
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    Endpoint.objects.filter(pk=hooked.pk).update(webhook_url=f"http://127.0.0.1:{closed}/closed")
    hooked.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        first = _send(hooked)
        webhook_deliver(first.pk)
    row = WebhookDelivery.objects.get(pk=first.pk)
    assert row.outcome == "retrying" and row.status_code is None and "Connection" in row.error
    assert row.latency_ms is not None and WebhookDelivery.objects.filter(attempt=2, outcome="pending").count() == 1


def test_a_rotated_secret_signs_beside_the_new_one_for_its_grace_period(
    hooked, enqueued, django_capture_on_commit_callbacks, mlops_user, settings
) -> None:
    old = hooked.webhook_secret
    new = services.endpoint_webhook_secret_rotate(endpoint=hooked, user=mlops_user)
    assert new != old and Endpoint.objects.get(pk=hooked.pk).webhook_secret == new
    with django_capture_on_commit_callbacks(execute=True):
        webhook_deliver(_send(hooked).pk)
    got = Receiver.received[-1]
    signature = got["headers"]["X-Atelier-Signature"]
    assert signature.count("v1=") == 2
    assert verify_signature(new, signature, got["body"]) and verify_signature(old, signature, got["body"])
    settings.WEBHOOK_SECRET_GRACE_S = 0
    with django_capture_on_commit_callbacks(execute=True):
        webhook_deliver(_send(hooked).pk)
    got = Receiver.received[-1]
    assert got["headers"]["X-Atelier-Signature"].count("v1=") == 1
    assert not verify_signature(old, got["headers"]["X-Atelier-Signature"], got["body"])


def test_the_sweep_requeues_lost_attempts_and_forgets_old_rows(
    hooked, enqueued, django_capture_on_commit_callbacks, settings
) -> None:
    from django.utils import timezone

    settings.WEBHOOK_DELIVERY_RETENTION_DAYS = 30
    lost = _send(hooked)
    WebhookDelivery.objects.filter(pk=lost.pk).update(scheduled_at=timezone.now() - timedelta(minutes=10))
    old = _send(hooked)
    month_ago = timezone.now() - timedelta(days=31)
    WebhookDelivery.objects.filter(pk=old.pk).update(outcome="delivered", created_at=month_ago)
    with django_capture_on_commit_callbacks(execute=True):
        assert webhooks.webhook_deliveries_sweep() == {"requeued": 1, "stuck": 0, "deleted": 1}
    assert enqueued == [(lost.pk, 0.0)]
    assert not WebhookDelivery.objects.filter(pk=old.pk).exists()


def test_an_attempt_a_dead_worker_left_unfinished_is_concluded_and_retried(
    hooked, enqueued, django_capture_on_commit_callbacks
) -> None:
    from django.utils import timezone

    stuck = _send(hooked)
    WebhookDelivery.objects.filter(pk=stuck.pk).update(attempted_at=timezone.now() - timedelta(minutes=30))
    with django_capture_on_commit_callbacks(execute=True):
        assert webhooks.webhook_deliveries_sweep()["stuck"] == 1
    row = WebhookDelivery.objects.get(pk=stuck.pk)
    assert row.outcome == "retrying" and "worker stopped" in row.error and row.next_attempt_at is not None
    following = WebhookDelivery.objects.get(delivery_id=stuck.delivery_id, attempt=2)
    assert enqueued == [(following.pk, 40.0)]
    webhook_deliver(following.pk)
    assert WebhookDelivery.objects.get(pk=following.pk).outcome == "delivered" and len(Receiver.received) == 1


# --- where deliveries are shown ---------------------------------------------------------------------------------


def test_deliveries_in_the_api_and_on_the_page_scoped_by_project(
    hooked, enqueued, django_capture_on_commit_callbacks, api_for, client_for, mlops_user, ds_user, outsider
) -> None:
    Receiver.script = [502]
    with django_capture_on_commit_callbacks(execute=True):
        webhook_deliver(_send(hooked).pk)
    url = f"/api/endpoints/{hooked.pk}/webhook-deliveries/"
    data = api_for(ds_user).get(url).json()
    assert [(d["attempt"], d["outcome"], d["status_code"]) for d in data] == [
        (2, "pending", None),
        (1, "retrying", 502),
    ]
    assert data[1]["latency_ms"] > 0 and data[1]["next_attempt_at"] == data[0]["scheduled_at"]
    assert data[1]["event"] == "async_invocation.completed" and data[1]["reference"] == "abc123"
    assert api_for(outsider).get(url).status_code == 404, "another project's endpoint"
    html = client_for(mlops_user).get(reverse("endpoints:detail", args=[hooked.pk])).content.decode()
    table = html.split('id="webhook-deliveries"')[1].split("</table>")[0]
    assert "502" in table and "Failed, will retry" in table and "Pending" in table and " ms<" in table
    assert hooked.webhook_secret in html, "deployers see the signing secret"
    assert (
        hooked.webhook_secret
        not in client_for(ds_user).get(reverse("endpoints:detail", args=[hooked.pk])).content.decode()
    ), "others do not"


def test_the_secret_api_reads_and_rotates_for_deployers_only(hooked, api_for, mlops_user, ds_user, outsider) -> None:
    url = f"/api/endpoints/{hooked.pk}/webhook-secret/"
    assert api_for(mlops_user).get(url).json() == {"secret": hooked.webhook_secret, "previous_valid_until": None}
    assert api_for(ds_user).get(url).status_code == 403
    assert api_for(ds_user).post(url).status_code == 403
    assert api_for(outsider).get(url).status_code == 403  # no deploy capability: refused before any lookup
    deployer_of_b = UserFactory(username="bea", personas=["mlops_engineer"], projects=list(outsider.projects.all()))
    assert api_for(deployer_of_b).get(url).status_code == 404  # may deploy, but not in this endpoint's project
    rotated = api_for(mlops_user).post(url).json()
    assert rotated["secret"] != hooked.webhook_secret and rotated["previous_valid_until"] is not None
    assert Endpoint.objects.get(pk=hooked.pk).webhook_secret == rotated["secret"]


def test_the_create_response_carries_the_secret_once(api_for, receiver, mlops_user, project_a, version) -> None:
    response = api_for(mlops_user).post(
        "/api/endpoints/",
        {
            "project": project_a.pk,
            "name": "hooked",
            "type": "async",
            "model_version": version.pk,
            "webhook_url": receiver,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["webhook_secret"] == Endpoint.objects.get(pk=created["id"]).webhook_secret
    assert "webhook_secret" not in api_for(mlops_user).get(f"/api/endpoints/{created['id']}/").json()


def test_every_endpoint_gets_its_own_secret(project_a, mlops_user, version) -> None:
    a, _ = services.endpoint_create(project=project_a, user=mlops_user, name="a", variants=[{"model_version": version}])
    b, _ = services.endpoint_create(project=project_a, user=mlops_user, name="b", variants=[{"model_version": version}])
    assert a.webhook_secret != b.webhook_secret
