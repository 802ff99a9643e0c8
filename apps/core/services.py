from __future__ import annotations

from django.utils import timezone

from apps.core.models import Notification


def notification_create(
    *, user_id: int, title: str, body: str = "", url: str = "", level: str = "info"
) -> Notification:
    return Notification.objects.create(user_id=user_id, title=title[:200], body=body, url=url, level=level)


def notifications_mark_read(*, user_id: int, ids: list[int] | None = None) -> int:
    qs = Notification.objects.filter(user_id=user_id, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=timezone.now())
