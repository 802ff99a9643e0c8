"""Orderly shutdown: a worker asked to stop (SIGTERM, Ctrl-C on `make run`) hands running jobs back without using up
an attempt, and an idle stack stops in seconds. Real `celery worker` processes and a real `manage.py serve`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from django.db import connection

from apps.jobs.choices import JobStatus
from apps.jobs.models import Job
from apps.jobs.services import INTERRUPTED_MESSAGE, job_start, jobs_reap
from tests.conftest import ROOT, job_final, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.xdist_group("worker")]


def _job(pk: int) -> Job:
    return Job.objects.get(pk=pk)


def test_sigterm_hands_a_running_job_back_without_counting_an_attempt(start_worker, project_a, ds_user):
    worker = start_worker()
    job = job_start(kind="tests.steps", project=project_a, created_by=ds_user, params={"steps": 300, "step_s": 0.1})
    wait_for(lambda: _job(job.pk).progress > 0, what="job to make progress")
    stopped_at = time.monotonic()
    worker.proc.send_signal(signal.SIGTERM)  # the main process only, as `manage.py serve` and process managers do
    worker.proc.wait(timeout=15)
    took = time.monotonic() - stopped_at
    handed_back = _job(job.pk)
    assert handed_back.status == JobStatus.QUEUED, handed_back.message
    assert handed_back.attempts == 0
    assert handed_back.message == INTERRUPTED_MESSAGE
    assert "Handed back to the queue" in handed_back.log
    assert took < 10, f"the worker took {took:.1f} s to hand the job back and stop (a 30 s job)"
    assert "exited with" not in worker.log(), "no pool process may die under the job"
    start_worker()
    job = job_final(job.pk, timeout=90)
    assert job.status == JobStatus.SUCCEEDED, job.message
    assert job.attempts == 1 and job.result["attempt"] == 1


def test_a_job_killed_after_the_grace_period_is_retried_without_counting(start_worker, project_a, ds_user, tmp_path):
    """A job inside one long call cannot hand itself back; killed after the grace period, it is still not charged
    (max_attempts=1 here: counting the interrupted attempt would fail the job). The call lasts until the test
    releases it, so a slow machine cannot let it finish before the worker is killed."""
    release = tmp_path / "release"
    worker = start_worker()
    params = {"seconds": 120, "release_file": str(release)}
    job = job_start(kind="tests.sleep", project=project_a, created_by=ds_user, params=params)
    wait_for(lambda: _job(job.pk).status == JobStatus.RUNNING, what="job to start")
    worker.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: _job(job.pk).interrupted_at is not None, timeout=30, what="the interruption to be recorded")
    worker.kill()  # the grace period is over
    release.touch()
    time.sleep(3.5)  # JOB_STALE_AFTER_S in tests: the heartbeat has stopped
    assert jobs_reap()["requeued"] == 1
    requeued = _job(job.pk)
    assert requeued.status == JobStatus.QUEUED and requeued.attempts == 0, requeued.message
    start_worker()
    job = job_final(job.pk, timeout=60)
    assert job.status == JobStatus.SUCCEEDED, job.message
    assert job.result["attempt"] == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_idle_serve_stops_within_five_seconds(transactional_db, tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "studio.settings.test",
        "ATELIER_TEST_DATABASE_NAME": str(connection.settings_dict["NAME"]),
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port), "--no-beat"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:

        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
                    return answer.status == 200
            except OSError:
                return False

        wait_for(ready, timeout=90, interval=0.5, what="serve to be ready")
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        proc.wait(timeout=30)
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    output = log_path.read_text(errors="replace")
    assert took < 5, f"an idle stack took {took:.1f} s to stop:\n{output[-3000:]}"
    assert proc.returncode == 0
    assert "killing" not in output and "ERROR/MainProcess" not in output, output[-3000:]
