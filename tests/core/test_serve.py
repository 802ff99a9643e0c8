"""`make run`'s process manager: web + worker + beat start with one command and stop together on Ctrl-C."""

from __future__ import annotations

import gzip
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


@pytest.mark.xdist_group("serve")
def test_serve_starts_web_worker_beat_and_ctrl_c_stops_all(tmp_path):
    port = _free_port()
    # Collected static files persist between runs, as in a clone that has run `make run` before (the first collect
    # compresses plotly.js: seconds on a busy machine).
    static_root = Path(settings.VAR_DIR) / "test" / "static-serve"
    env = {
        **os.environ,
        "ATELIER_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "studio.settings.base",
        "STATIC_ROOT": str(static_root),
    }
    for key in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL"):
        env.pop(key, None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--concurrency", "1"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 180
        ready = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
                    ready = resp.status
                    break
            except OSError:
                time.sleep(0.5)
        logs = (tmp_path / "serve.log").read_text(errors="replace")
        assert ready == 200, f"/readyz did not report ready (web, DB, broker, worker, storage):\n{logs[-3000:]}"
        # Static files were collected first and go out hashed, compressed and cached for a year (apps/core/staticfiles)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=10) as resp:
            css = re.search(
                r'<link rel="stylesheet" href="/static/(css/atelier\.[0-9a-f]{12}\.css)"', resp.read().decode()
            )
        assert css, "the sign-in page does not load atelier.css under a hashed name"
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/static/{css[1]}", headers={"Accept-Encoding": "gzip"}
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            assert resp.headers["Content-Encoding"] == "gzip"
            assert resp.headers["Cache-Control"] == "max-age=31536000, public, immutable"
            assert gzip.decompress(resp.read()) == (static_root / css[1]).read_bytes()
        children = _children(proc.pid)
        assert len(children) == 3, f"expected web, worker and beat, got {children}"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=40) == 0
        time.sleep(0.5)
        assert not [c for c in children if _alive(c)], "a child outlived Ctrl-C"
        assert b"Stopped." in (tmp_path / "serve.log").read_bytes()
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
