"""Job protocol rules that need no worker: the service is called in-process, as the task would."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.jobs.choices import JobStatus
from apps.jobs.models import Job
from apps.jobs.runtime import owner_id
from apps.jobs.services import job_cancel, job_dispatch, job_run, job_start, jobs_reap


@pytest.fixture
def job(project_a, ds_user):  # type: ignore[no-untyped-def]
    return job_start(kind="tests.steps", project=project_a, created_by=ds_user, params={"steps": 2, "step_s": 0})


def test_start_validates_kind_and_params(project_a, ds_user):
    with pytest.raises(ValidationError) as exc:
        job_start(kind="nope.missing", project=project_a, created_by=ds_user)
    assert "Unknown job kind 'nope.missing'" in str(exc.value)
    with pytest.raises(ValidationError) as exc:
        job_start(kind="tests.steps", project=project_a, created_by=ds_user, params={"x": object()})
    assert "params" in exc.value.message_dict


def test_run_moves_queued_to_succeeded_once(job):
    assert job.status == JobStatus.QUEUED and job.attempts == 0
    assert job_run(job_id=job.pk) == JobStatus.SUCCEEDED
    job.refresh_from_db()
    assert (job.status, job.attempts, job.progress) == (JobStatus.SUCCEEDED, 1, 1.0)
    assert job_run(job_id=job.pk) is None, "a redelivered task does nothing to a finished job"
    job.refresh_from_db()
    assert job.attempts == 1


def test_duplicate_delivery_while_owner_alive_is_ignored(job):
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, attempts=1, heartbeat_at=timezone.now(), worker=owner_id()
    )
    assert job_run(job_id=job.pk) is None
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.attempts == 1


def test_redelivery_after_owner_died_takes_over(job):
    dead = owner_id(pid=2**22 + 12345)  # no such pid on this host
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, attempts=1, heartbeat_at=timezone.now(), worker=dead)
    assert job_run(job_id=job.pk) == JobStatus.SUCCEEDED
    job.refresh_from_db()
    assert job.attempts == 2


def test_cancel_queued_job_is_final_and_never_runs(job):
    job = job_cancel(job=job)
    assert job.status == JobStatus.CANCELLED and job.finished_at is not None
    assert job_run(job_id=job.pk) is None
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.attempts == 0


def test_cancel_is_noop_on_final_job(job):
    job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job_cancel(job=job).status == JobStatus.SUCCEEDED


def test_broker_down_leaves_job_queued_with_message(job):
    with mock.patch("apps.jobs.tasks.run_job.apply_async", side_effect=ConnectionRefusedError("refused")):
        assert job_dispatch(job_id=job.pk) is False
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert "broker is unreachable" in job.message


def test_reaper_leaves_healthy_jobs_alone_and_resends_lost_queued_jobs(job, project_a, ds_user):
    healthy = job_start(kind="tests.steps", project=project_a, created_by=ds_user)
    Job.objects.filter(pk=healthy.pk).update(status=JobStatus.RUNNING, attempts=1, heartbeat_at=timezone.now())
    old = timezone.now() - dt.timedelta(hours=1)
    Job.objects.filter(pk=job.pk).update(created_at=old, dispatched_at=None)
    with mock.patch("apps.jobs.tasks.run_job.apply_async") as send:
        send.return_value.id = "abc"
        counts = jobs_reap()
    assert counts == {"requeued": 0, "failed": 0, "redispatched": 1}
    assert send.call_args.kwargs["args"] == [job.pk]
    assert Job.objects.get(pk=healthy.pk).status == JobStatus.RUNNING
