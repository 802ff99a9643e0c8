"""Celery entry points of core. Thin: they call one service with an id."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="core.webhook_deliver", acks_late=True, ignore_result=True)
def webhook_deliver(delivery_id: int) -> None:
    from apps.core.webhooks import webhook_delivery_attempt

    webhook_delivery_attempt(delivery_id=delivery_id)


@shared_task(name="core.webhook_sweep", ignore_result=True)
def webhook_sweep() -> dict[str, int]:
    from apps.core.webhooks import webhook_deliveries_sweep

    return webhook_deliveries_sweep()


@shared_task(name="core.notification_email", ignore_result=True)
def notification_email(notification_id: int) -> bool:
    from apps.core.notifications import notification_email_send

    return notification_email_send(notification_id=notification_id)
