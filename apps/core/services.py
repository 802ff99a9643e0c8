from __future__ import annotations

from django.utils import timezone

from apps.core.models import Notification


def notification_create(
    *, user_id: int, title: str, body: str = "", url: str = "", level: str = "info"
) -> Notification:
    """One notification for one user (emailed too when email is configured: apps/core/notifications.py)."""
    from apps.core.notifications import notify

    return notify(user_ids=[user_id], title=title, body=body, url=url, level=level)[0]


def notifications_mark_read(*, user_id: int, ids: list[int] | None = None) -> int:
    qs = Notification.objects.filter(user_id=user_id, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=timezone.now())
