"""Telling people: one in-app notification per person per event, and one email for it when email is configured
(settings.NOTIFY_BY_EMAIL, EMAIL_* from the environment).

Emails are sent by a worker task after the notification is committed, so neither a web request nor a job waits on a
mail server, and a send that fails is logged and dropped: it never fails the job or the action it tells about.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction

from apps.core.models import Notification

logger = logging.getLogger(__name__)


def notify(
    *, user_ids: Iterable[int], title: str, body: str = "", url: str = "", level: str = "info"
) -> list[Notification]:
    """One notification per distinct user; their emails are queued once the surrounding transaction commits."""
    rows = [
        Notification(user_id=uid, title=title[:200], body=body, url=url[:500], level=level)
        for uid in dict.fromkeys(user_ids)
    ]
    created = Notification.objects.bulk_create(rows)
    ids = [n.pk for n in created if n.pk is not None]
    if ids and settings.NOTIFY_BY_EMAIL:
        transaction.on_commit(lambda: _queue_emails(ids))
    return created


def _queue_emails(ids: list[int]) -> None:
    from apps.core.tasks import notification_email

    for pk in ids:
        try:
            notification_email.delay(pk)
        except Exception as exc:  # noqa: BLE001 - a broker that is down costs the email, nothing else
            logger.warning("Could not queue the email of notification %s: %s", pk, exc)


def notification_email_send(*, notification_id: int) -> bool:
    """Send the email of one notification to its user (if they have an address). False when nothing was sent."""
    n = Notification.objects.select_related("user").filter(pk=notification_id).first()
    if n is None or not n.user.email or not n.user.is_active:
        return False
    link = f"{settings.ATELIER_PUBLIC_URL.rstrip('/')}{n.url}" if n.url.startswith("/") else n.url
    text = "\n\n".join(part for part in (n.body, link) if part)
    message = EmailMessage(
        subject=f"{settings.EMAIL_SUBJECT_PREFIX}{n.title}",
        body=text + "\n\n-- \nYou get this email because you have an account on Atelier.\n",
        to=[n.user.email],
    )
    try:
        message.send(fail_silently=False)
    except Exception as exc:  # noqa: BLE001 - any mail server or network failure
        logger.warning("Could not email notification %s to %s: %s", n.pk, n.user.email, exc)
        return False
    return True
