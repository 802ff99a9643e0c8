"""Celery entry points of Ground Truth. Thin: they call one service."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="labeling.claims_expire", ignore_result=True)
def claims_expire() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): release the seats of claims past their time limit, in every job."""
    from apps.labeling.services.queue import claims_expire as expire

    return expire()


@shared_task(name="labeling.autolabel_rounds", ignore_result=True)
def autolabel_rounds() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): the next automated-labeling round of each job that has it on and is due."""
    from apps.labeling.services.autolabel import autolabel_rounds_due

    return autolabel_rounds_due()
