"""The work queue: a worker claims the next item, answers or skips it; claims expire after the job's time limit.

Seats. An item has `workers_per_item` seats; `seats_taken` counts its active claims and its answers, and `is_open`
(seats_taken < workers_per_item, and not auto-labeled) is kept beside it in the same UPDATE, so the claim query reads
one indexed flag (index labeling_item_open: job, is_open, position). Every change of seats is one conditional UPDATE:
taking a seat only `WHERE seats_taken < workers_per_item`, so an item never has more claims + answers than seats,
whatever runs at once.

Claiming (`task_claim_next`):
- PostgreSQL: one statement, `UPDATE item SET seats_taken = seats_taken + 1 ... WHERE id = (SELECT ... ORDER BY position
  LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING *`: concurrent claimers never wait for each other, each locks a different
  open item. A transaction-scoped advisory lock per (job, worker) serialises one worker's own requests (a double
  click cannot hand out two claims).
- SQLite (and any other database): the open items are read in position order, then a conditional UPDATE takes a seat
  and its row count says whether it did. SQLite's IMMEDIATE transactions (settings) serialise writers anyway.
- Either way the task row is written with an upsert on the unique (item, worker): a worker never holds two tasks on
  one item, and a worker whose claim expired gets the same row back if the item comes round to them again.
- A worker who holds an active claim in the job gets that task back (no hoarding).

Expiry: a claim past its `expires_at` is marked expired and its seat released, each in its own short transaction
(lock order task → item, as in answering, so sweeps and answers never deadlock). Swept lazily at each claim (one
indexed read when nothing expired) and by the beat task `labeling.claims_expire`. A worker whose expired claim was
swept may still answer if a seat is free; if the seat went to another worker the answer is refused (409).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import BooleanField, ExpressionWrapper, F, Q
from django.http import Http404
from django.utils import timezone

from apps.labeling.answers import validate_answer
from apps.labeling.choices import JobStatus, LabelSource, TaskStatus
from apps.labeling.models import LabelingItem, LabelingJob, LabelingTask
from apps.labeling.services.consolidation import item_consolidate

SWEEP_BATCH = 200  # expired claims released per lazy sweep (the beat task loops until none is left)
HOLDING = (TaskStatus.ACTIVE, TaskStatus.ANSWERED, TaskStatus.SKIPPED)  # a worker with one of these is not served
MAX_TIME_MS = 2**31 - 1


class QueueConflict(Exception):
    """The request cannot be done in the task's or the job's current state (the API answers 409 with `code`)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message, self.code = message, code


def _refuse_inactive(job: LabelingJob) -> None:
    if job.status != JobStatus.ACTIVE:
        words = {
            JobStatus.PREPARING: "is still being prepared",
            JobStatus.PAUSED: "is paused",
            JobStatus.COMPLETED: "is completed",
            JobStatus.FAILED: "failed to prepare",
            JobStatus.CANCELLED: "was cancelled",
        }.get(JobStatus(job.status), f"is {job.status}")
        raise QueueConflict(f"The job “{job.name}” {words}: no tasks are handed out.", code="job_not_active")


# --- seats ----------------------------------------------------------------------------------------------------


def _open_after(wpi: int, delta: int) -> ExpressionWrapper:
    """`is_open` once seats_taken changes by `delta` (SQL reads the old value on the right of SET)."""
    return ExpressionWrapper(
        Q(seats_taken__lt=wpi - delta) & ~Q(label_source=LabelSource.AUTO), output_field=BooleanField()
    )


def _seat_take(item_id: int, wpi: int) -> bool:
    """Take a seat on the item if one is free (one conditional UPDATE; its row count says whether it did)."""
    return bool(
        LabelingItem.objects.filter(pk=item_id, is_open=True, seats_taken__lt=wpi).update(
            seats_taken=F("seats_taken") + 1, is_open=_open_after(wpi, 1)
        )
    )


def _seat_release(item_id: int, wpi: int) -> None:
    LabelingItem.objects.filter(pk=item_id, seats_taken__gt=0).update(
        seats_taken=F("seats_taken") - 1, is_open=_open_after(wpi, -1)
    )


# --- expiry ---------------------------------------------------------------------------------------------------


def _expire_one(task_id: int, item_id: int, wpi: int, now: Any) -> bool:
    """Mark one claim expired and release its seat, if it is still an active claim past its time."""
    with transaction.atomic():
        done = LabelingTask.objects.filter(pk=task_id, status=TaskStatus.ACTIVE, expires_at__lte=now).update(
            status=TaskStatus.EXPIRED
        )
        if done:
            _seat_release(item_id, wpi)
    return bool(done)


def claims_expire(*, job: LabelingJob | None = None, limit: int | None = None) -> int:
    """Expire the active claims past their time (of `job`, or of every job); their seats go back to the queue.
    Returns how many were expired. Safe to run anywhere, any number of times at once."""
    now = timezone.now()
    expired = 0
    while True:
        rows = LabelingTask.objects.filter(status=TaskStatus.ACTIVE, expires_at__lte=now)
        if job is not None:
            rows = rows.filter(job=job)
        batch = list(
            rows.order_by("expires_at", "pk").values_list("pk", "item_id", "job__workers_per_item")[:SWEEP_BATCH]
        )
        for task_id, item_id, wpi in batch:
            expired += _expire_one(task_id, item_id, wpi, now)
        if len(batch) < SWEEP_BATCH or (limit is not None and expired >= limit):
            return expired


# --- claim ----------------------------------------------------------------------------------------------------


def _worker_lock(job: LabelingJob, worker: Any) -> None:
    """PostgreSQL: serialise one worker's queue requests in one job until the transaction ends."""
    if connection.vendor != "postgresql":
        return
    digest = hashlib.blake2b(f"labeling-queue:{job.pk}:{worker.pk}".encode(), digest_size=8).digest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest, "big", signed=True)])


# Table names written out (tests/labeling/test_queue.py checks them against the models).
_CLAIM_SQL = """
UPDATE labeling_labelingitem SET seats_taken = seats_taken + 1, is_open = (seats_taken + 1 < %(wpi)s)
WHERE id = (
    SELECT i.id FROM labeling_labelingitem i
    WHERE i.job_id = %(job)s AND i.is_open AND i.seats_taken < %(wpi)s
      AND NOT EXISTS (
        SELECT 1 FROM labeling_labelingtask t
        WHERE t.item_id = i.id AND t.worker_id = %(worker)s AND t.status = ANY(%(holding)s)
      )
    ORDER BY i.position
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
RETURNING *
"""


def _claim_item_postgresql(job: LabelingJob, worker: Any) -> LabelingItem | None:
    params = {"wpi": job.workers_per_item, "job": job.pk, "worker": worker.pk, "holding": [str(s) for s in HOLDING]}
    rows = list(LabelingItem.objects.raw(_CLAIM_SQL, params))
    return rows[0] if rows else None


def _claim_item_portable(job: LabelingJob, worker: Any) -> LabelingItem | None:
    wpi = job.workers_per_item
    mine = LabelingTask.objects.filter(job=job, worker=worker, status__in=HOLDING).values("item_id")
    candidates = LabelingItem.objects.filter(job=job, is_open=True, seats_taken__lt=wpi).exclude(pk__in=mine)
    while True:
        ids = list(candidates.order_by("position").values_list("pk", flat=True)[:16])
        if not ids:
            return None
        for item_id in ids:
            if _seat_take(item_id, wpi):
                return LabelingItem.objects.get(pk=item_id)


def task_claim_next(*, job: LabelingJob, worker: Any) -> LabelingTask | None:
    """The worker's next task in `job`: their active claim if they hold one, else a new claim on the first open item
    (by position) they have not answered, skipped or claimed. None when nothing is available (the API's 204), and for
    a completed job; a job in another state that is not active is refused (QueueConflict)."""
    if job.status == JobStatus.COMPLETED:
        return None
    _refuse_inactive(job)
    claims_expire(job=job, limit=SWEEP_BATCH)
    now = timezone.now()
    with transaction.atomic():
        _worker_lock(job, worker)
        held = (
            LabelingTask.objects.select_related("item")
            .filter(job=job, worker=worker, status=TaskStatus.ACTIVE)
            .order_by("claimed_at")
            .first()
        )
        if held is not None:
            if held.expires_at > now:
                return held
            _expire_one(held.pk, held.item_id, job.workers_per_item, now)  # expired a moment ago: its seat back first
        if connection.vendor == "postgresql":
            item = _claim_item_postgresql(job, worker)
        else:
            item = _claim_item_portable(job, worker)
        if item is None:
            return None
        task = LabelingTask(
            job=job,
            item=item,
            worker=worker,
            status=TaskStatus.ACTIVE,
            claimed_at=now,
            expires_at=now + timedelta(seconds=job.time_limit_s),
        )
        # The worker's expired task on this item, if any, becomes this claim (one task per item and worker).
        LabelingTask.objects.bulk_create(
            [task],
            update_conflicts=True,
            unique_fields=["item", "worker"],
            update_fields=["status", "claimed_at", "expires_at", "answer", "answered_at", "time_spent_ms"],
        )
        if task.pk is None:  # databases that do not return ids from an upsert
            task.pk = LabelingTask.objects.get(item=item, worker=worker).pk
    return task


# --- answer and skip ------------------------------------------------------------------------------------------


def _time_spent(value: Any, task: LabelingTask, now: Any) -> int:
    if value is None or value == "":
        return min(MAX_TIME_MS, max(0, int((now - task.claimed_at).total_seconds() * 1000)))
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or value < 0:
        raise ValidationError({"time_spent_ms": "Must be a whole number of milliseconds, 0 or more."})
    return min(MAX_TIME_MS, int(value))


def _own(task: LabelingTask, worker: Any) -> None:
    if task.worker_id != getattr(worker, "pk", None):
        raise Http404("No such labeling task.")


def task_answer(*, task: LabelingTask, worker: Any, answer: Any, time_spent_ms: Any = None) -> LabelingTask:
    """Record the worker's answer to their claim. The answer is validated against the job and the item; when the item
    has all its answers it is consolidated in the same transaction. Refused (409) when the task is already answered
    or skipped, when the job no longer takes answers, or when the claim expired and its seat went to another worker."""
    _own(task, worker)
    job, item = task.job, task.item
    if job.status not in (JobStatus.ACTIVE, JobStatus.PAUSED):
        _refuse_inactive(job)
    normalised = validate_answer(job, item, answer)
    now = timezone.now()
    spent = _time_spent(time_spent_ms, task, now)
    wpi = job.workers_per_item
    with transaction.atomic():
        locked = LabelingTask.objects.select_for_update().get(pk=task.pk)
        if locked.status == TaskStatus.ANSWERED:
            raise QueueConflict("This task is already answered; an answer cannot be changed.", code="answered")
        if locked.status == TaskStatus.SKIPPED:
            raise QueueConflict("You skipped this task, so it cannot be answered now.", code="skipped")
        if locked.status == TaskStatus.EXPIRED and not _seat_take(item.pk, wpi):
            raise QueueConflict(
                f"Your claim expired (the time limit is {job.time_limit_s} s) and the item went to another worker;"
                " this answer was not recorded.",
                code="claim_expired",
            )
        locked.status, locked.answer, locked.answered_at, locked.time_spent_ms = (
            TaskStatus.ANSWERED,
            normalised,
            now,
            spent,
        )
        locked.save(update_fields=["status", "answer", "answered_at", "time_spent_ms"])
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE labeling_labelingitem SET answer_count = answer_count + 1 WHERE id = %s RETURNING answer_count",
                [item.pk],
            )
            row = cursor.fetchone()
        answers = int(row[0]) if row else 0
        if answers >= wpi:
            item_consolidate(item=LabelingItem.objects.select_related("job").get(pk=item.pk))
    locked.job, locked.item = job, item
    item.answer_count = answers
    return locked


def task_skip(*, task: LabelingTask, worker: Any) -> LabelingTask:
    """The worker passes on their claim: its seat goes back to the queue and the item is not offered to them again.
    Skipping an answered task is refused (409); skipping twice is harmless."""
    _own(task, worker)
    with transaction.atomic():
        locked = LabelingTask.objects.select_for_update().get(pk=task.pk)
        if locked.status == TaskStatus.ANSWERED:
            raise QueueConflict("This task is already answered; it cannot be skipped.", code="answered")
        if locked.status != TaskStatus.SKIPPED:
            was_active = locked.status == TaskStatus.ACTIVE
            locked.status = TaskStatus.SKIPPED
            locked.save(update_fields=["status"])
            if was_active:
                _seat_release(locked.item_id, task.job.workers_per_item)
    return locked


# --- the worker's view of their jobs -------------------------------------------------------------------------


def available_count(*, job: LabelingJob, worker: Any) -> int:
    """Items of `job` the worker could claim now (open, not answered, skipped or claimed by them)."""
    mine = LabelingTask.objects.filter(job=job, worker=worker, status__in=HOLDING).values("item_id")
    return LabelingItem.objects.filter(job=job, is_open=True).exclude(pk__in=mine).count()
