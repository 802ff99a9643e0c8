"""Celery entry points of endpoints. Thin: they call one service."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="endpoints.retention", ignore_result=True)
def retention() -> dict[str, int]:
    from apps.endpoints.services import retention_sweep

    return retention_sweep()
