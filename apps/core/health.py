"""Readiness checks: database, broker, a live worker seen recently, storage writable."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection
from django.utils import timezone


def _timed(check: Any) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        detail = check()
        ok = True
    except Exception as exc:  # noqa: BLE001 - every failure is reported, none is raised
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    return {"ok": ok, "detail": detail, "ms": round((time.perf_counter() - start) * 1000, 1)}


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def check_broker() -> str:
    from studio.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        return conn.transport_cls if isinstance(conn.transport_cls, str) else conn.as_uri()


def check_worker() -> str:
    from apps.jobs.models import WorkerHeartbeat

    recent = timezone.now() - timedelta(seconds=settings.WORKER_SEEN_WITHIN_S)
    workers = list(WorkerHeartbeat.objects.filter(last_seen__gte=recent).values_list("hostname", flat=True))
    if not workers:
        raise RuntimeError(f"no worker seen in the last {int(settings.WORKER_SEEN_WITHIN_S)} s")
    return f"{len(workers)} worker(s): {', '.join(workers[:5])}"


def check_storage() -> str:
    from apps.core.storage import storage

    store = storage()
    name = store.save(f"health/{uuid.uuid4().hex}.txt", ContentFile(b"ok"))
    try:
        if store.open(name).read() != b"ok":
            raise RuntimeError("read back different bytes")
    finally:
        store.delete(name)
    return type(store).__name__


def readiness() -> dict[str, dict[str, Any]]:
    return {
        "database": _timed(check_database),
        "broker": _timed(check_broker),
        "worker": _timed(check_worker),
        "storage": _timed(check_storage),
    }
