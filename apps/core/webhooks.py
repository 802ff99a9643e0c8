"""Outgoing webhooks, one way for every app (asynchronous endpoints today, Model Monitor's alerts next).

- `webhook_url_clean` refuses a URL when it is saved, with the SSRF guard's reason (apps/core/ssrf.py: form, scheme,
  port, and every address the host resolves to), so a bad URL never waits until the first delivery to be found.
- A subscriber model inherits `apps.core.models.WebhookSubscriber` (URL and secret); `webhook_secret_rotate` gives
  it a new secret, the previous one still signing for WEBHOOK_SECRET_GRACE_S.
- `webhook_send` records the message as its first pending attempt and enqueues the Celery task
  `core.webhook_deliver` after commit: nothing is sent from the web process or the serving path.
- `webhook_delivery_attempt` (the task) signs the body (apps/core/webhook_signing.py), POSTs it through the SSRF
  guard, and logs status, latency and error on the attempt's row. Anything but a 2xx, a network error or a host
  that does not resolve is retried with exponential backoff — WEBHOOK_RETRY_BASE_S × WEBHOOK_RETRY_FACTOR^(n-1)
  after attempt n, WEBHOOK_MAX_ATTEMPTS in all — as a new pending row and a task with that countdown. A URL the
  guard refuses is not retried.
- `webhook_deliveries_sweep` (beat, every few minutes) re-enqueues pending attempts whose task was lost (a broker
  or worker restart), concludes attempts a dying worker left unfinished (as failed, retried if allowed) and forgets
  rows older than WEBHOOK_DELIVERY_RETENTION_DAYS.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from apps.core import ssrf
from apps.core.models import WebhookDelivery, WebhookSubscriber
from apps.core.webhook_signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, generate_secret, signature_header

logger = logging.getLogger(__name__)

Outcome = WebhookDelivery.Outcome
LOST_TASK_GRACE = timedelta(minutes=2)
STUCK_AFTER = timedelta(minutes=10)  # far beyond one attempt's connect + read timeout


def webhook_url_clean(raw: Any, *, field: str = "webhook_url") -> str:
    """The URL, stripped, when the SSRF guard would call it ("" for none); ValidationError({field: reason})
    otherwise: a malformed URL, a scheme or port not allowed, a host that does not resolve or resolves to a private,
    loopback, link-local or reserved address (unless SSRF_ALLOWED_NETWORKS lists it)."""
    url = str(raw or "").strip()
    if not url:
        return ""
    try:
        ssrf.resolve(url)
    except ssrf.UnsafeURL as exc:
        hint = (
            " An administrator may allow a private network with SSRF_ALLOWED_NETWORKS."
            if isinstance(exc, ssrf.PrivateAddress)
            else ""
        )
        raise ValidationError({field: f"This webhook URL cannot be used: {exc}{hint}"}, code="unsafe_url") from exc
    return url


def webhook_secret_rotate(*, subscriber: WebhookSubscriber) -> str:
    """A new secret for the subscriber (returned); the old one keeps signing alongside for WEBHOOK_SECRET_GRACE_S."""
    new = generate_secret()
    type(subscriber).objects.filter(pk=subscriber.pk).update(  # type: ignore[attr-defined]
        webhook_secret=new, webhook_secret_previous=subscriber.webhook_secret, webhook_secret_rotated_at=timezone.now()
    )
    subscriber.webhook_secret_previous = subscriber.webhook_secret
    subscriber.webhook_secret = new
    subscriber.webhook_secret_rotated_at = timezone.now()
    return new


def signing_secrets(subscriber: WebhookSubscriber, *, now: datetime | None = None) -> list[str]:
    """The current secret, and the previous one while its grace period lasts."""
    out = [subscriber.webhook_secret]
    rotated = subscriber.webhook_secret_rotated_at
    grace = timedelta(seconds=float(settings.WEBHOOK_SECRET_GRACE_S))
    if subscriber.webhook_secret_previous and rotated and (now or timezone.now()) < rotated + grace:
        out.append(subscriber.webhook_secret_previous)
    return out


def backoff_s(attempt: int) -> float:
    """Seconds between the end of attempt `attempt` (1-based) and the next one."""
    return float(settings.WEBHOOK_RETRY_BASE_S) * float(settings.WEBHOOK_RETRY_FACTOR) ** (attempt - 1)


def _enqueue(delivery: WebhookDelivery, countdown: float = 0.0) -> None:
    from apps.core.tasks import webhook_deliver

    pk = delivery.pk
    transaction.on_commit(lambda: webhook_deliver.apply_async((pk,), countdown=max(0.0, countdown)))


def webhook_send(
    *, subscriber: models.Model, project_id: int, url: str, event: str, payload: Any, reference: str = ""
) -> WebhookDelivery | None:
    """Record the message as a pending first attempt and have a worker deliver it (after this transaction
    commits). None when there is no URL."""
    if not url:
        return None
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str)
    now = timezone.now()
    delivery = WebhookDelivery.objects.create(
        project_id=project_id,
        target_type=ContentType.objects.get_for_model(subscriber),
        target_id=subscriber.pk,
        delivery_id=uuid.uuid4(),
        event=event[:100],
        reference=str(reference)[:100],
        url=url[:500],
        body=body,
        payload_sha256=hashlib.sha256(body.encode()).hexdigest(),
        attempt=1,
        created_at=now,
        scheduled_at=now,
    )
    _enqueue(delivery)
    return delivery


def _post(delivery: WebhookDelivery, subscriber: WebhookSubscriber) -> tuple[int | None, str, bool]:
    """(status, error, retryable) of one signed POST."""
    body = delivery.body.encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "X-Atelier-Event": delivery.event,
        "X-Atelier-Delivery": str(delivery.delivery_id),
        "X-Atelier-Attempt": str(delivery.attempt),
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature_header(signing_secrets(subscriber), timestamp, body),
    }
    try:
        code = ssrf.post(delivery.url, body, headers=headers)
    except ssrf.HostNotResolved as exc:
        return None, str(exc), True
    except ssrf.UnsafeURL as exc:
        return None, f"Refused by the SSRF guard: {exc}", False
    except OSError as exc:  # refused, reset, timed out, TLS
        return None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, True
    if 200 <= code < 300:
        return code, "", False
    return code, f"The receiver answered HTTP {code}.", True


def webhook_delivery_attempt(*, delivery_id: int) -> WebhookDelivery | None:
    """Make the attempt this pending row stands for, once (a second call, or a duplicate task, does nothing), log
    it, and schedule the next attempt if it failed and may be retried."""
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(pk=delivery_id, outcome=Outcome.PENDING, attempted_at__isnull=True).update(
        attempted_at=now
    )
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    subscriber = delivery.target
    started = time.monotonic()
    if not isinstance(subscriber, WebhookSubscriber):
        code, error, retryable = None, "The subscriber no longer exists.", False
    else:
        code, error, retryable = _post(delivery, subscriber)
    delivery.latency_ms = round((time.monotonic() - started) * 1000, 2)
    _conclude(delivery, code=code, error=error, retryable=retryable)
    return delivery


def _conclude(delivery: WebhookDelivery, *, code: int | None, error: str, retryable: bool) -> None:
    """Log the attempt's result on its row and, when it failed and may be retried, schedule the next attempt."""
    delivery.status_code = code
    delivery.error = error[:2000]
    finished = timezone.now()
    with transaction.atomic():
        if not WebhookDelivery.objects.select_for_update().filter(pk=delivery.pk, outcome=Outcome.PENDING).exists():
            return  # concluded meanwhile (by the sweep, for a worker thought dead)
        if not error:
            delivery.outcome = Outcome.DELIVERED
        elif retryable and delivery.attempt < int(settings.WEBHOOK_MAX_ATTEMPTS):
            delay = backoff_s(delivery.attempt)
            delivery.outcome = Outcome.RETRYING
            delivery.next_attempt_at = finished + timedelta(seconds=delay)
            following = WebhookDelivery.objects.create(
                project_id=delivery.project_id,
                target_type_id=delivery.target_type_id,
                target_id=delivery.target_id,
                delivery_id=delivery.delivery_id,
                event=delivery.event,
                reference=delivery.reference,
                url=delivery.url,
                body=delivery.body,
                payload_sha256=delivery.payload_sha256,
                attempt=delivery.attempt + 1,
                created_at=finished,
                scheduled_at=delivery.next_attempt_at,
            )
            _enqueue(following, countdown=delay)
        else:
            delivery.outcome = Outcome.FAILED
        delivery.save(update_fields=["outcome", "status_code", "latency_ms", "error", "next_attempt_at"])
    if error:
        logger.info("webhook %s attempt %s to %s: %s", delivery.delivery_id, delivery.attempt, delivery.url, error)


def webhook_deliveries_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Re-enqueue pending attempts overdue by more than a couple of minutes (their task was lost); delete rows older
    than WEBHOOK_DELIVERY_RETENTION_DAYS (0 keeps them)."""
    now = now or timezone.now()
    overdue = list(
        WebhookDelivery.objects.filter(
            outcome=Outcome.PENDING, attempted_at__isnull=True, scheduled_at__lt=now - LOST_TASK_GRACE
        ).order_by("pk")[:1000]
    )
    for delivery in overdue:
        _enqueue(delivery)
    # Claimed but never concluded (the worker died mid-attempt): counted as a failed attempt, retried if allowed.
    stuck = WebhookDelivery.objects.filter(outcome=Outcome.PENDING, attempted_at__lt=now - STUCK_AFTER).order_by("pk")
    stuck_rows = list(stuck[:1000])
    for delivery in stuck_rows:
        _conclude(delivery, code=None, error="The worker stopped during the attempt.", retryable=True)
    deleted = 0
    keep = int(settings.WEBHOOK_DELIVERY_RETENTION_DAYS)
    if keep > 0:
        deleted, _ = (
            WebhookDelivery.objects.filter(created_at__lt=now - timedelta(days=keep))
            .exclude(outcome=Outcome.PENDING)
            .delete()
        )
    return {"requeued": len(overdue), "stuck": len(stuck_rows), "deleted": deleted}


def webhook_status_text(delivery: WebhookDelivery | None) -> str:
    """One line for people: how the latest attempt of a message went."""
    if delivery is None:
        return ""
    if delivery.outcome == Outcome.DELIVERED:
        return f"delivered (HTTP {delivery.status_code}, attempt {delivery.attempt})"
    if delivery.outcome == Outcome.PENDING:
        return f"attempt {delivery.attempt} pending" if delivery.attempt > 1 else "pending"
    reason = delivery.error or (f"HTTP {delivery.status_code}" if delivery.status_code else "failed")
    if delivery.outcome == Outcome.RETRYING:
        return f"attempt {delivery.attempt} failed ({reason}); retrying"
    return f"failed after {delivery.attempt} attempt(s): {reason}"[:300]
