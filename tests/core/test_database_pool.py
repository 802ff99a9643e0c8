"""DB_POOL_MAX_SIZE (docs/adr/0009-database-pool.md): on PostgreSQL a web process keeps a pool of connections and
hands the same ones to successive requests' threads (five requests, at most the pool's two connections); off by
default (five requests, five connections). Run in a child process with the production-ish
base settings, against the test run's PostgreSQL server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings as django_settings

ROOT = Path(__file__).resolve().parents[2]
POSTGRES = django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql")

PROBE = """
import threading
import django
django.setup()
from django.conf import settings
from django.db import connection, connections
print("pool", settings.DATABASES["default"].get("OPTIONS", {}).get("pool"))
pids = []
def request():  # what each ASGI request does: its own thread, a query, the connection given back at the end
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pids.append(cursor.fetchone()[0])
    connections.close_all()
for _ in range(5):
    t = threading.Thread(target=request)
    t.start()
    t.join()
print("backends", len(set(pids)))
"""


def _probe(pool_size: str) -> str:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "studio.settings.base",
        "DB_POOL_MAX_SIZE": pool_size,
        # the server's maintenance database (the run's own database may not exist outside its test copy)
        "DATABASE_URL": urlparse(os.environ["DATABASE_URL"])._replace(path="/postgres").geturl(),
        "LOG_LEVEL": "WARNING",
    }
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


@pytest.mark.skipif(not POSTGRES, reason="needs PostgreSQL (CI's second run)")
def test_a_pool_gives_successive_request_threads_the_same_connection() -> None:
    pooled = _probe("2")
    assert "'max_size': 2" in pooled and ("backends 1" in pooled or "backends 2" in pooled)  # at most the pool
    unpooled = _probe("0")
    assert "pool None" in unpooled and "backends 5" in unpooled  # off: a new connection for every request
