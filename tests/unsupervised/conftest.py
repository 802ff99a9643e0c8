"""Fixtures for the built-in algorithm tests: a fresh media folder and an in-process job runner."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from apps.jobs.models import Job
from apps.jobs.services import job_run


@pytest.fixture
def media(settings, tmp_path) -> Path:  # type: ignore[no-untyped-def]
    """A fresh MEDIA_ROOT per test (SQLite reuses ids after a rollback, so project folders would collide)."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture
def run_job(settings) -> Callable[[Any], Job]:  # type: ignore[no-untyped-def]
    """Run a job in this process, as a worker would (tests/unsupervised/test_jobs.py uses a real worker)."""
    settings.JOB_HEARTBEAT_INTERVAL_S = 3600

    def run(job: Any) -> Job:
        pk = job if isinstance(job, int) else job.pk
        job_run(job_id=pk)
        return Job.objects.get(pk=pk)

    return run
