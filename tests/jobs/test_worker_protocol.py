"""The Job protocol end to end: a real `celery worker` process on the real broker (filesystem locally,
Redis in CI) against the real test database."""

from __future__ import annotations

import os
import signal
import time

import pytest
from django.conf import settings

from apps.core.models import Notification
from apps.jobs.choices import JobStatus
from apps.jobs.models import Job
from apps.jobs.services import job_cancel, job_start, jobs_reap
from tests.conftest import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.xdist_group("worker")]


def _job(pk: int) -> Job:
    return Job.objects.get(pk=pk)


def _final(pk: int, timeout: float = 60) -> Job:
    return wait_for(lambda: (j := _job(pk)).is_final and j, timeout=timeout, what=f"job {pk} to finish")  # type: ignore[return-value]


def test_job_runs_and_reports_progress(start_worker, project_a, ds_user):
    start_worker()
    job = job_start(kind="tests.steps", project=project_a, created_by=ds_user, params={"steps": 6, "step_s": 0.4})
    seen: set[float] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        current = _job(job.pk)
        if current.status == JobStatus.RUNNING:
            seen.add(current.progress)
        if current.is_final:
            break
        time.sleep(0.1)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.message
    assert job.progress == 1.0
    assert job.result["steps"] == 6 and job.attempts == 1
    intermediate = {p for p in seen if 0 < p < 1}
    assert len(intermediate) >= 2, f"progress seen while running: {sorted(seen)}"
    assert job.message.startswith("Done in")
    assert "step 6" in job.log
    assert job.started_at and job.finished_at and job.finished_at >= job.started_at
    note = Notification.objects.get(user=ds_user)
    assert note.level == "success" and f"/jobs/{job.pk}/" in note.url


def test_job_that_raises_ends_failed_with_its_message(start_worker, project_a, ds_user):
    start_worker()
    failing = job_start(kind="tests.fail", project=project_a, created_by=ds_user)
    crashing = job_start(kind="tests.boom", project=project_a, created_by=ds_user)
    failing, crashing = _final(failing.pk), _final(crashing.pk)
    assert failing.status == JobStatus.FAILED
    assert failing.message == "The column 'price' has text in row 7; fix the file and import it again."
    assert failing.attempts == 1, "a job that raises is not retried"
    assert crashing.status == JobStatus.FAILED
    assert crashing.message == "Unexpected error: ZeroDivisionError: division by zero"
    assert "Traceback" in crashing.error
    assert Notification.objects.filter(user=ds_user, level="error").count() == 2


def test_cancel_running_job(start_worker, project_a, ds_user):
    start_worker()
    job = job_start(kind="tests.steps", project=project_a, created_by=ds_user, params={"steps": 200, "step_s": 0.1})
    wait_for(lambda: _job(job.pk).progress > 0, what="job to make progress")
    job_cancel(job=_job(job.pk))
    job = _final(job.pk, timeout=20)
    assert job.status == JobStatus.CANCELLED
    assert 0 < job.progress < 1
    assert job.message == "Cancelled."


def test_worker_child_sigkilled_mid_job_is_retried(start_worker, project_a, ds_user):
    start_worker()
    job = job_start(kind="tests.steps", project=project_a, created_by=ds_user, params={"steps": 8, "step_s": 0.4})
    wait_for(lambda: _job(job.pk).progress >= 0.25, what="job to be a quarter done")
    pid = int(_job(job.pk).worker.rsplit("|", 1)[1])
    os.kill(pid, signal.SIGKILL)
    job = _final(job.pk, timeout=90)
    assert job.status == JobStatus.SUCCEEDED, job.message
    assert job.attempts == 2
    assert job.result["pid"] != pid
    assert "Attempt 2 of 3" in job.log


def test_whole_worker_killed_then_reaper_requeues(start_worker, project_a, ds_user):
    first = start_worker()
    job = job_start(kind="tests.steps", project=project_a, created_by=ds_user, params={"steps": 8, "step_s": 0.4})
    wait_for(lambda: _job(job.pk).progress > 0, what="job to start")
    first.kill()  # main process and children: nothing is left to requeue the task
    assert _job(job.pk).status == JobStatus.RUNNING
    time.sleep(settings.JOB_STALE_AFTER_S + 0.5)
    counts = jobs_reap()
    assert counts["requeued"] == 1
    requeued = _job(job.pk)
    assert requeued.status == JobStatus.QUEUED
    assert "stopped responding" in requeued.message
    start_worker()
    job = _final(job.pk, timeout=90)
    assert job.status == JobStatus.SUCCEEDED, job.message
    assert job.attempts == 2


def test_reaper_fails_job_after_last_attempt(start_worker, project_a, ds_user):
    worker = start_worker()
    job = job_start(kind="tests.steps", project=project_a, created_by=ds_user, params={"steps": 50, "step_s": 0.2})
    wait_for(lambda: _job(job.pk).progress > 0, what="job to start")
    worker.kill()
    Job.objects.filter(pk=job.pk).update(max_attempts=1)
    time.sleep(settings.JOB_STALE_AFTER_S + 0.5)
    assert jobs_reap()["failed"] == 1
    job = _job(job.pk)
    assert job.status == JobStatus.FAILED
    assert "stopped responding" in job.message and "will not be retried" in job.message
    assert job.finished_at is not None


def test_poison_job_stops_after_attempt_limit(start_worker, project_a, ds_user):
    start_worker()
    job = job_start(kind="tests.poison", project=project_a, created_by=ds_user)
    job = _final(job.pk, timeout=90)
    assert job.status == JobStatus.FAILED
    assert job.attempts == 2 == job.max_attempts
    assert "stopped its worker 2 time(s)" in job.message
    time.sleep(2)
    assert _job(job.pk).attempts == 2, "no further attempt after the final state"
