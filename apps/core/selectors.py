from __future__ import annotations

from django.db.models import QuerySet

from apps.core.models import Notification


def notification_list_for_user(*, user_id: int) -> QuerySet[Notification]:
    return Notification.objects.filter(user_id=user_id)


def notification_unread_count(*, user_id: int) -> int:
    return Notification.objects.filter(user_id=user_id, read_at__isnull=True).count()
