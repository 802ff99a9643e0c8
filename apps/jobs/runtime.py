"""What a job sees while it runs: progress, log, cancellation, and a heartbeat that never stops beating
while the process is alive (a background thread), so the reaper can tell a slow job from a dead worker.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections import deque
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from apps.jobs.choices import JobStatus
from apps.jobs.models import Job

LOG_TAIL_LINES = 200
LOG_LINE_MAX = 1000
PROGRESS_MIN_INTERVAL_S = 0.25


class JobError(Exception):
    """Raise from a job to fail it with a message a person can act on."""


class JobCancelled(Exception):
    """Raised inside a job when someone asked to cancel it."""


class JobInterrupted(BaseException):  # like KeyboardInterrupt: a job's `except Exception` must not eat it
    """Raised inside a job when its worker is shutting down in an orderly way (a restart, Ctrl-C): the job is handed
    back to the queue and the attempt is not counted."""


# --- orderly shutdown of this worker process ----------------------------------------------------------------------
# The worker's main process tells its pool processes (SIGURG, see apps/jobs/signals.py) when it is asked to stop.
# Running jobs then stop at their next progress report, and their heartbeat thread records at once that the attempt
# was interrupted, so that even a job that does not report in time (and is killed after the grace period) is retried
# without counting the attempt.
_shutdown = threading.Event()
_active: set[JobContext] = set()
_active_lock = threading.Lock()


def request_shutdown() -> None:
    """Ask every job running in this process to hand itself back (safe to call from a signal handler)."""
    _shutdown.set()
    for ctx in list(_active):
        ctx._wake.set()


@lru_cache(maxsize=1)
def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as handle:
            return handle.read().strip()[:8]
    except OSError:
        return "-"


def owner_id(pid: int | None = None) -> str:
    """Identifies this process across hosts and reboots: host|boot|pid."""
    return f"{socket.gethostname()}|{_boot_id()}|{pid or os.getpid()}"


def owner_is_dead(owner: str) -> bool:
    """True when `owner` is a process on this very host (same boot) that no longer exists."""
    try:
        host, boot, pid = owner.split("|")
    except ValueError:
        return False
    if host != socket.gethostname() or boot != _boot_id():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError):
        return False
    return False


class JobContext:
    """Handed to a job kind's function. All writes are conditional on this attempt still owning the job."""

    def __init__(self, job: Job) -> None:
        self.job_id: int = job.pk
        self.project_id: int = job.project_id
        self.created_by_id: int | None = job.created_by_id
        self.params: dict[str, Any] = dict(job.params or {})
        self.attempt: int = job.attempts
        self._log: deque[str] = deque((job.log or "").splitlines()[-LOG_TAIL_LINES:], maxlen=LOG_TAIL_LINES)
        self._log_dirty = False
        self._lock = threading.Lock()
        self._last_progress_write = 0.0
        self._progress = job.progress
        self._message = job.message
        self._reported = False  # progress or message changed since they were last written
        self._cancel_requested = False
        self._stop = threading.Event()
        self._wake = threading.Event()  # the heartbeat thread's alarm: its interval passed, or stop, or shutdown
        self._interrupt_recorded = False
        self._thread: threading.Thread | None = None
        self.final_message: str = ""  # set by a job to replace the default "Done in N s." summary

    # --- reporting -----------------------------------------------------------------------------
    def progress(self, fraction: float, message: str | None = None, *, force: bool = False) -> None:
        """Report progress in [0, 1] with an optional message. Cheap to call often: writes are throttled."""
        fraction = min(1.0, max(0.0, float(fraction)))
        with self._lock:
            self._progress = max(self._progress, fraction)
            if message is not None:
                self._message = message[:500]
            self._reported = True
        now = time.monotonic()
        if force or now - self._last_progress_write >= PROGRESS_MIN_INTERVAL_S:
            self._flush()
        self.check_cancelled()

    def log(self, line: str) -> None:
        stamp = timezone.now().strftime("%H:%M:%S")
        with self._lock:
            for part in str(line).splitlines() or [""]:
                self._log.append(f"{stamp} {part[:LOG_LINE_MAX]}")
            self._log_dirty = True

    def check_cancelled(self) -> None:
        if self._cancel_requested:
            raise JobCancelled()
        if _shutdown.is_set():
            raise JobInterrupted()

    @property
    def log_text(self) -> str:
        with self._lock:
            return "\n".join(self._log)

    # --- persistence ---------------------------------------------------------------------------------
    def _owned(self):  # type: ignore[no-untyped-def]
        return Job.objects.filter(pk=self.job_id, status=JobStatus.RUNNING, attempts=self.attempt)

    def _flush(self, *, reported: bool = True) -> None:
        """Write the heartbeat, and progress and message when `reported` (a report writes them) or when they changed
        since last written. So the heartbeat thread never writes back an older message over a newer one another
        thread wrote in the meantime (it could read the fields just before that thread's report)."""
        with self._lock:
            fields: dict[str, Any] = {"heartbeat_at": timezone.now()}
            if reported or self._reported:
                fields.update(progress=self._progress, message=self._message)
                self._reported = False
            if self._log_dirty:
                fields["log"] = "\n".join(self._log)
                self._log_dirty = False
        self._last_progress_write = time.monotonic()
        updated = self._owned().update(**fields, updated_at=timezone.now())
        if updated == 0:
            # Someone else (the reaper, a cancel of a queued retry) took the job from this attempt.
            self._cancel_requested = True
            return
        if Job.objects.filter(pk=self.job_id, cancel_requested_at__isnull=False).exists():
            self._cancel_requested = True

    def _record_interrupt(self) -> None:
        """Mark this attempt as interrupted by an orderly shutdown (once), before anything can kill the process."""
        if not self._interrupt_recorded:
            self._owned().update(interrupted_at=timezone.now(), message="Handing the job back: its worker is stopping")
            self._interrupt_recorded = True

    def _beat(self) -> None:
        interval = settings.JOB_HEARTBEAT_INTERVAL_S
        try:
            while True:
                self._wake.wait(interval)
                self._wake.clear()
                if self._stop.is_set():
                    break
                try:
                    if _shutdown.is_set():
                        self._record_interrupt()
                    self._flush(reported=False)
                except Exception:  # noqa: BLE001 - the heartbeat must outlive a transient DB error
                    close_old_connections()
        finally:
            connection.close()

    def start_heartbeat(self) -> None:
        with _active_lock:
            _active.add(self)
        self._thread = threading.Thread(target=self._beat, name=f"job-{self.job_id}-heartbeat", daemon=True)
        self._thread.start()
        if _shutdown.is_set():
            self._wake.set()

    def stop_heartbeat(self) -> None:
        with _active_lock:
            _active.discard(self)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
