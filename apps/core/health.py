"""Readiness checks: database, broker, storage writable, and those other apps register (the jobs app: a live worker
seen recently, apps/jobs/health.py)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from django.core.files.base import ContentFile
from django.db import connection


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


# Checks that other apps add (name -> a callable that returns a detail or raises), e.g. the jobs app's live worker.
_REGISTERED: dict[str, Callable[[], str]] = {}


def register_check(name: str, check: Callable[[], str]) -> None:
    """Add a readiness check (from an app's AppConfig.ready); it runs after the broker's."""
    _REGISTERED[name] = check


def readiness() -> dict[str, dict[str, Any]]:
    checks = {"database": _timed(check_database), "broker": _timed(check_broker)}
    checks.update({name: _timed(check) for name, check in _REGISTERED.items()})
    checks["storage"] = _timed(check_storage)
    return checks
