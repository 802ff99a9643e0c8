"""`make run`: the ASGI web server, a Celery worker and Celery beat as one command; Ctrl-C stops all three.

Static files are collected first (hashed names, gzip and brotli: apps/core/staticfiles.py); an unchanged file is not
compressed again, so only the first start of a fresh clone spends a few seconds on it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Start web (uvicorn), a Celery worker and Celery beat; stop them together."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.ATELIER_HOST)
        parser.add_argument("--port", type=int, default=settings.ATELIER_PORT)
        parser.add_argument("--concurrency", type=int, default=int(os.environ.get("WORKER_CONCURRENCY", "2")))
        parser.add_argument("--no-worker", action="store_true")
        parser.add_argument("--no-beat", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        began = time.monotonic()
        call_command("collectstatic", interactive=False, verbosity=0)
        self.stdout.write(f"Static files collected into {settings.STATIC_ROOT} ({time.monotonic() - began:.1f} s).")
        py = sys.executable
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        commands = {
            "web": [
                py,
                "-m",
                "uvicorn",
                "studio.asgi:application",
                "--host",
                opts["host"],
                "--port",
                str(opts["port"]),
                "--no-server-header",
                "--proxy-headers",
                "--ws",
                "websockets-sansio",
                "--lifespan",
                "off",
                "--timeout-graceful-shutdown",
                "3",  # open WebSockets (live job pages) must not hold up a stop
            ],
        }
        if not opts["no_worker"]:
            commands["worker"] = [
                py,
                "-m",
                "celery",
                "-A",
                "studio",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                str(opts["concurrency"]),
                "-Q",
                settings.CELERY_TASK_DEFAULT_QUEUE,
                "-n",
                "worker@%h",
            ]
        if not opts["no_beat"]:
            beat_schedule = str(settings.VAR_DIR / "celerybeat.pid")
            commands["beat"] = [
                py,
                "-m",
                "celery",
                "-A",
                "studio",
                "beat",
                "--loglevel",
                "INFO",
                "--pidfile",
                beat_schedule,
            ]
        procs: dict[str, subprocess.Popen] = {}
        for name, cmd in commands.items():
            procs[name] = subprocess.Popen(cmd, env=env, start_new_session=True)
        self.stdout.write(
            f"Atelier is starting on http://{opts['host']}:{opts['port']} ({', '.join(procs)}). Ctrl-C stops it."
        )
        stopping = False

        def stop(*_: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        while not stopping:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    self.stderr.write(f"{name} exited with code {proc.returncode}; stopping the others.")
                    exit_code = proc.returncode or 1
                    stopping = True
                    break
            time.sleep(0.1)
        for name, proc in procs.items():
            if proc.poll() is None:
                if name == "worker":
                    # The worker's main process alone: it stops taking tasks, tells running jobs to hand themselves
                    # back (apps/jobs/signals.py) and stops its pool. A SIGTERM to the whole group would kill the
                    # pool processes under running jobs.
                    proc.send_signal(signal.SIGTERM)
                else:
                    os.killpg(proc.pid, signal.SIGTERM)
        began = time.monotonic()
        deadline = began + float(settings.WORKER_SHUTDOWN_GRACE_S)
        took: dict[str, float] = {}
        while len(took) < len(procs) and time.monotonic() < deadline:
            for name, proc in procs.items():
                if name not in took and proc.poll() is not None:
                    took[name] = time.monotonic() - began
            time.sleep(0.05)
        for name, proc in procs.items():
            if name not in took:
                self.stderr.write(f"{name} did not stop within {settings.WORKER_SHUTDOWN_GRACE_S:.0f} s; killing it.")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of its group (a job past the grace period)
            proc.wait()
        self.stdout.write(f"Stopped. ({', '.join(f'{name} in {t:.1f} s' for name, t in took.items())})")
        self.stdout.flush()
        sys.stderr.flush()
        # Nothing is left to clean up; the interpreter's teardown of everything Django imported took seconds.
        os._exit(exit_code)
