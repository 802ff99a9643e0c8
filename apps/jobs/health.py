"""The jobs app's readiness check: a live worker seen recently (registered with apps/core/health.py)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from apps.core.health import register_check
from apps.jobs.models import WorkerHeartbeat


def check_worker() -> str:
    recent = timezone.now() - timedelta(seconds=settings.WORKER_SEEN_WITHIN_S)
    workers = list(WorkerHeartbeat.objects.filter(last_seen__gte=recent).values_list("hostname", flat=True))
    if not workers:
        raise RuntimeError(f"no worker seen in the last {int(settings.WORKER_SEEN_WITHIN_S)} s")
    return f"{len(workers)} worker(s): {', '.join(workers[:5])}"


register_check("worker", check_worker)
