"""The Job protocol: start, run (in a worker), cancel, reap.

A job ends in exactly one final state. Every transition is a conditional UPDATE or happens under
a row lock, so a duplicate delivery, a retry and the reaper can never both own one job.
"""

from __future__ import annotations

import json
import logging
import traceback
from datetime import timedelta
from functools import partial
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.dispatch import Signal
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import Project, User
from apps.core.services import notification_create
from apps.jobs.choices import FINAL_STATUSES, JobStatus
from apps.jobs.models import Job, WorkerHeartbeat
from apps.jobs.registry import get_kind
from apps.jobs.runtime import JobCancelled, JobContext, JobError, JobInterrupted, owner_id, owner_is_dead

logger = logging.getLogger(__name__)


# --- start ----------------------------------------------------------------------------------------


def job_start(
    *, kind: str, project: Project, created_by: User | None, params: dict[str, Any] | None = None, title: str = ""
) -> Job:
    """Create the Job row and enqueue it after the surrounding transaction commits."""
    try:
        job_kind = get_kind(kind)
    except LookupError as exc:
        raise ValidationError({"kind": str(exc)}) from exc
    params = params or {}
    try:
        DjangoJSONEncoder().encode(params)
    except TypeError as exc:
        raise ValidationError({"params": f"Job parameters must be JSON: {exc}"}) from exc
    job = Job.objects.create(
        kind=kind,
        title=title or job_kind.title,
        project=project,
        created_by=created_by,
        params=params,
        max_attempts=job_kind.max_attempts or settings.JOB_DEFAULT_MAX_ATTEMPTS,
        queue=job_kind.queue or settings.CELERY_TASK_DEFAULT_QUEUE,
        message="Waiting for a worker",
    )
    transaction.on_commit(lambda: job_dispatch(job_id=job.pk))
    return job


def job_dispatch(*, job_id: int) -> bool:
    """Send the job's task to the broker. A broker that is down leaves the job queued with a message;
    the reaper sends it again later. Never runs the job inline."""
    from apps.jobs.tasks import run_job

    job = Job.objects.filter(pk=job_id).only("pk", "kind", "queue").first()
    if job is None:
        return False
    kind = get_kind(job.kind)
    options: dict[str, Any] = {"queue": job.queue or settings.CELERY_TASK_DEFAULT_QUEUE}
    if kind.time_limit_s:
        options.update(time_limit=kind.time_limit_s, soft_time_limit=max(1, kind.time_limit_s - 30))
    try:
        result = run_job.apply_async(args=[job_id], **options)
    except Exception as exc:  # noqa: BLE001 - any broker failure
        logger.warning("Could not enqueue job %s: %s", job_id, exc)
        Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
            message="The task broker is unreachable; the job will be sent again automatically.",
            updated_at=timezone.now(),
        )
        return False
    Job.objects.filter(pk=job_id).update(celery_task_id=result.id or "", dispatched_at=timezone.now())
    return True


# --- run (inside a worker) --------------------------------------------------------------------------


def _finish(job_id: int, attempt: int, **fields: Any) -> bool:
    now = timezone.now()
    fields.setdefault("finished_at", now)
    with transaction.atomic():  # the final state and its notification become visible together
        updated = Job.objects.filter(pk=job_id, status=JobStatus.RUNNING, attempts=attempt).update(
            updated_at=now, **fields
        )
        if updated and fields.get("status") in FINAL_STATUSES:
            _notify_finished(job_id)
    return bool(updated)


# Sent once when a job reaches a final state (kwargs: job_id, kind, status), so that an app can start what waits on
# another app's job (a Clarify report waits on a Canvas build) without that app knowing about it.
job_finished = Signal()


def _notify_finished(job_id: int) -> None:
    """Tell whoever started the job how it ended: once (only the transition into a final state calls this), never
    for jobs the system started on its own (no created_by) or that a job started as its helpers (JobKind.notify).
    Receivers of `job_finished` hear of every job."""
    job = Job.objects.filter(pk=job_id).first()
    if job is not None:
        for receiver, response in job_finished.send_robust(sender=Job, job_id=job.pk, kind=job.kind, status=job.status):
            if isinstance(response, Exception):
                logger.error("job_finished receiver %r failed for job %s: %r", receiver, job_id, response)
    if job is None or job.created_by_id is None:
        return
    try:
        if not get_kind(job.kind).notify:
            return
    except LookupError:
        pass
    level = {"succeeded": "success", "failed": "error", "cancelled": "warning"}.get(job.status, "info")
    notification_create(
        user_id=job.created_by_id,
        title=f"{job.title or job.kind} {job.get_status_display().lower()}",
        body=job.message,
        url=reverse("jobs:detail", args=[job.pk]),
        level=level,
    )


def _done_message(job_id: int) -> str:
    started = Job.objects.filter(pk=job_id).values_list("started_at", flat=True).first()
    if started is None:
        return "Done."
    return f"Done in {(timezone.now() - started).total_seconds():.1f} s."


def _claim(job_id: int) -> Job | None:
    """Move the job from queued to running for this process, or decide it is not ours to run."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status in FINAL_STATUSES:
            return None
        now = timezone.now()
        if job.status == JobStatus.RUNNING:
            stale = job.heartbeat_at is None or job.heartbeat_at < now - timedelta(seconds=settings.JOB_STALE_AFTER_S)
            if not (stale or owner_is_dead(job.worker)):
                return None  # another live worker owns it (duplicate delivery)
        if job.status == JobStatus.RUNNING and job.interrupted_at is not None:
            job.attempts = max(0, job.attempts - 1)  # its worker was stopped in an orderly way: not the job's fault
        if job.cancel_requested_at is not None:
            job.status, job.finished_at, job.message = JobStatus.CANCELLED, now, "Cancelled before it started."
            job.save(update_fields=["status", "finished_at", "message", "updated_at"])
            transaction.on_commit(lambda: _notify_finished(job_id))
            return None
        if job.attempts >= job.max_attempts:
            job.status, job.finished_at = JobStatus.FAILED, now
            job.error = job.message = (
                f"The job stopped its worker {job.attempts} time(s) (the process was killed, crashed or ran out "
                f"of memory) and will not be retried. Try smaller inputs, or ask an admin to give workers more memory."
            )[:500]
            job.save(update_fields=["status", "finished_at", "error", "message", "updated_at"])
            transaction.on_commit(lambda: _notify_finished(job_id))
            return None
        job.attempts += 1
        job.status = JobStatus.RUNNING
        job.started_at = job.started_at or now
        job.heartbeat_at = now
        job.worker = owner_id()
        job.interrupted_at = None
        job.message = "Starting" if job.attempts == 1 else f"Starting (attempt {job.attempts} of {job.max_attempts})"
        job.save(
            update_fields=[
                "attempts",
                "status",
                "started_at",
                "heartbeat_at",
                "worker",
                "interrupted_at",
                "message",
                "updated_at",
            ]
        )
        return job


INTERRUPTED_MESSAGE = "Waiting for a worker: its worker was restarted or stopped (this does not count as an attempt)."


def _hand_back(job_id: int, attempt: int, log: str) -> bool:
    """Requeue a job whose worker is shutting down in an orderly way, without counting the attempt."""
    stamp = timezone.now().strftime("%H:%M:%S")
    with transaction.atomic():
        updated = Job.objects.filter(pk=job_id, status=JobStatus.RUNNING, attempts=attempt).update(
            status=JobStatus.QUEUED,
            attempts=max(0, attempt - 1),
            interrupted_at=None,
            worker="",
            heartbeat_at=None,
            message=INTERRUPTED_MESSAGE,
            log=f"{log}\n{stamp} Handed back to the queue: the worker is shutting down".strip(),
            updated_at=timezone.now(),
        )
        if updated:
            transaction.on_commit(partial(job_dispatch, job_id=job_id))
    return bool(updated)


def job_run(*, job_id: int) -> str | None:
    """Run one job to a final state. Idempotent: returns None when there was nothing to do."""
    job = _claim(job_id)
    if job is None:
        return None
    kind = get_kind(job.kind)
    ctx = JobContext(job)
    ctx.start_heartbeat()
    try:
        ctx.log(f"Attempt {job.attempts} of {job.max_attempts} on {job.worker}")
        result = kind.run(ctx)
        ctx.check_cancelled()
        result_json = DjangoJSONEncoder().encode(result) if result is not None else "null"
        ctx.log("Done")
        _finish(
            job_id,
            ctx.attempt,
            status=JobStatus.SUCCEEDED,
            progress=1.0,
            result=json.loads(result_json),
            message=ctx.final_message or _done_message(job_id),
            log=ctx.log_text,
        )
        return JobStatus.SUCCEEDED
    except JobInterrupted:
        _hand_back(job_id, ctx.attempt, ctx.log_text)
        return JobStatus.QUEUED
    except JobCancelled:
        ctx.log("Cancelled")
        _finish(job_id, ctx.attempt, status=JobStatus.CANCELLED, message="Cancelled.", log=ctx.log_text)
        return JobStatus.CANCELLED
    except JobError as exc:
        ctx.log(f"Failed: {exc}")
        _finish(job_id, ctx.attempt, status=JobStatus.FAILED, message=str(exc)[:500], error=str(exc), log=ctx.log_text)
        return JobStatus.FAILED
    except SoftTimeLimitExceeded:
        msg = "The job ran past its time limit and was stopped. Use a smaller input or a shorter budget."
        _finish(job_id, ctx.attempt, status=JobStatus.FAILED, message=msg, error=msg, log=ctx.log_text)
        return JobStatus.FAILED
    except Exception as exc:
        logger.exception("Job %s (%s) failed", job_id, job.kind)
        ctx.log(traceback.format_exc(limit=8))
        msg = f"Unexpected error: {type(exc).__name__}: {exc}"[:500]
        _finish(
            job_id, ctx.attempt, status=JobStatus.FAILED, message=msg, error=traceback.format_exc(), log=ctx.log_text
        )
        return JobStatus.FAILED
    finally:
        ctx.stop_heartbeat()


# --- cancel -------------------------------------------------------------------------------------------


def job_cancel(*, job: Job) -> Job:
    """Queued: cancelled at once. Running: flagged; the job stops at its next progress report or heartbeat."""
    now = timezone.now()
    if job.status == JobStatus.QUEUED:
        if Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
            status=JobStatus.CANCELLED, cancel_requested_at=now, finished_at=now, message="Cancelled.", updated_at=now
        ):
            _notify_finished(job.pk)
    elif job.status == JobStatus.RUNNING:
        Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            cancel_requested_at=now, message="Cancelling…", updated_at=now
        )
    job.refresh_from_db()
    return job


# --- reaper -------------------------------------------------------------------------------------------


def jobs_reap() -> dict[str, int]:
    """Find running jobs whose heartbeat stopped (worker killed) and requeue or fail them.
    Also re-sends queued jobs whose broker message may have been lost."""
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.JOB_STALE_AFTER_S)
    counts = {"requeued": 0, "failed": 0, "redispatched": 0}
    for job_id in Job.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=stale_before).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            job = Job.objects.select_for_update().filter(pk=job_id, status=JobStatus.RUNNING).first()
            if job is None or (job.heartbeat_at and job.heartbeat_at >= stale_before):
                continue
            silent = int((now - job.heartbeat_at).total_seconds()) if job.heartbeat_at else None
            if job.cancel_requested_at is not None:
                job.status, job.finished_at, job.message = (
                    JobStatus.CANCELLED,
                    now,
                    "Cancelled (its worker had stopped).",
                )
            elif job.interrupted_at is not None:  # an orderly shutdown that ran past its grace period
                job.status, job.attempts, job.interrupted_at = JobStatus.QUEUED, max(0, job.attempts - 1), None
                job.message = INTERRUPTED_MESSAGE
                job.log = (job.log + f"\n{timezone.now():%H:%M:%S} Worker stopped; requeued by the reaper").strip()
                counts["requeued"] += 1
                transaction.on_commit(partial(job_dispatch, job_id=job.pk))
            elif job.attempts >= job.max_attempts:
                job.status, job.finished_at = JobStatus.FAILED, now
                job.error = job.message = (
                    f"The worker running this job stopped responding (killed or out of memory) on each of "
                    f"{job.attempts} attempt(s); it will not be retried. Try smaller inputs, or ask an admin "
                    f"to check the workers' memory limits."
                )[:500]
                counts["failed"] += 1
            else:
                job.status = JobStatus.QUEUED
                job.message = (
                    f"Its worker stopped responding (no heartbeat for {silent} s); retrying "
                    f"(attempt {job.attempts + 1} of {job.max_attempts})."
                )
                job.log = (job.log + f"\n{timezone.now():%H:%M:%S} Worker lost; requeued by the reaper").strip()
                counts["requeued"] += 1
                transaction.on_commit(partial(job_dispatch, job_id=job.pk))
            job.save()
            if job.status in FINAL_STATUSES:
                transaction.on_commit(partial(_notify_finished, job.pk))
    lost_before = now - timedelta(seconds=max(600.0, settings.JOB_STALE_AFTER_S * 10))
    lost = Q(dispatched_at__isnull=True, created_at__lt=lost_before) | Q(dispatched_at__lt=lost_before)
    for job_id in Job.objects.filter(lost, status=JobStatus.QUEUED).values_list("pk", flat=True):
        if job_dispatch(job_id=job_id):
            counts["redispatched"] += 1
    return counts


# --- workers ------------------------------------------------------------------------------------------


def worker_heartbeat_touch(*, hostname: str, pid: int, queues: str = "") -> None:
    now = timezone.now()
    updated = WorkerHeartbeat.objects.filter(hostname=hostname).update(last_seen=now, pid=pid, queues=queues)
    if not updated:
        WorkerHeartbeat.objects.get_or_create(hostname=hostname, defaults={"pid": pid, "queues": queues})


def worker_heartbeat_remove(*, hostname: str) -> None:
    WorkerHeartbeat.objects.filter(hostname=hostname).delete()
