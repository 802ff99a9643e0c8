"""Celery entry points of Ground Truth. Thin: they call one service."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="labeling.claims_expire", ignore_result=True)
def claims_expire() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): release the seats of claims past their time limit, in every job."""
    from apps.labeling.services.queue import claims_expire as expire

    return expire()
