from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db.models import Model, QuerySet

from apps.core.models import Notification, WebhookDelivery


def notification_list_for_user(*, user_id: int) -> QuerySet[Notification]:
    return Notification.objects.filter(user_id=user_id)


def notification_unread_count(*, user_id: int) -> int:
    return Notification.objects.filter(user_id=user_id, read_at__isnull=True).count()


def webhook_deliveries_for(*, subscriber: Model, limit: int = 20) -> QuerySet[WebhookDelivery]:
    """The latest delivery attempts to a subscriber (callers scope the subscriber to the user first)."""
    return WebhookDelivery.objects.filter(
        target_type=ContentType.objects.get_for_model(subscriber), target_id=subscriber.pk
    ).order_by("-created_at", "-id")[:limit]


def webhook_latest_attempt(*, subscriber: Model, reference: str) -> WebhookDelivery | None:
    """The latest attempt of the messages about `reference` (e.g. an inference id)."""
    return (
        WebhookDelivery.objects.filter(
            target_type=ContentType.objects.get_for_model(subscriber), target_id=subscriber.pk, reference=reference
        )
        .order_by("-created_at", "-id")
        .first()
    )
