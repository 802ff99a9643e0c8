"""Shared fixtures: personas, two projects, API clients, and real Celery workers on the real broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from apps.accounts.services import api_token_create
from tests.factories import ProjectFactory, UserFactory

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def project_a(db):  # type: ignore[no-untyped-def]
    return ProjectFactory(name="Alpha", slug="alpha")


@pytest.fixture
def project_b(db):  # type: ignore[no-untyped-def]
    return ProjectFactory(name="Bravo", slug="bravo")


@pytest.fixture
def admin_user(db):  # type: ignore[no-untyped-def]
    return UserFactory(username="ada", personas=["admin"])


@pytest.fixture
def ds_user(project_a):  # type: ignore[no-untyped-def]
    return UserFactory(username="dana", personas=["data_scientist"], projects=[project_a])


@pytest.fixture
def mlops_user(project_a):  # type: ignore[no-untyped-def]
    return UserFactory(username="omar", personas=["mlops_engineer"], projects=[project_a])


@pytest.fixture
def labeler_user(project_a):  # type: ignore[no-untyped-def]
    return UserFactory(username="lena", personas=["labeler"], projects=[project_a])


@pytest.fixture
def outsider(project_b):  # type: ignore[no-untyped-def]
    """A data scientist who is a member of project B only."""
    return UserFactory(username="bob", personas=["data_scientist"], projects=[project_b])


@pytest.fixture
def client_for() -> Callable:
    def make(user) -> Client:  # type: ignore[no-untyped-def]
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def api_for() -> Callable:
    """An APIClient authenticated with a real API token of `user` (None: anonymous)."""

    def make(user) -> APIClient:  # type: ignore[no-untyped-def]
        client = APIClient()
        if user is not None:
            _, key = api_token_create(user=user, name="test")
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    return make


# --- real workers ---------------------------------------------------------------------------------


class WorkerProcess:
    def __init__(self, proc: subprocess.Popen, name: str, log_path: Path) -> None:
        self.proc, self.name, self.log_path = proc, name, log_path

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and its children)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        # Tests do not need a warm shutdown; its ~5 s per worker adds up.
        self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _purge_broker() -> None:
    from studio.celery import app

    try:
        app.control.purge()
    except Exception:
        pass


@pytest.fixture
def start_worker(transactional_db, tmp_path) -> Iterator[Callable[..., WorkerProcess]]:  # type: ignore[no-untyped-def]
    """Start real `celery worker` processes against the test database and this run's broker."""
    started: list[WorkerProcess] = []
    _purge_broker()

    def start(concurrency: int = 1, wait: bool = True) -> WorkerProcess:
        from apps.jobs.models import WorkerHeartbeat

        n = len(started)
        xdist = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
        name = f"test-{xdist}-{n}-{os.getpid()}@localhost"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "studio.settings.test",
            "ATELIER_TEST_DATABASE_NAME": str(connection.settings_dict["NAME"]),
            "PYTEST_XDIST_WORKER": xdist,
            "PYTHONUNBUFFERED": "1",
        }
        log_path = tmp_path / f"worker-{n}.log"
        cmd = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "studio",
            "worker",
            "-P",
            "prefork",
            "-c",
            str(concurrency),
            "-Q",
            settings.CELERY_TASK_DEFAULT_QUEUE,
            "-n",
            name,
            "--without-mingle",
            "--without-gossip",
            "-l",
            "INFO",
        ]
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        worker = WorkerProcess(proc, name, log_path)
        started.append(worker)
        if wait:
            deadline = time.monotonic() + 60
            while not WorkerHeartbeat.objects.filter(hostname=name).exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker did not start:\n{worker.log()[-4000:]}")
                time.sleep(0.2)
        return worker

    yield start
    for worker in started:
        worker.stop()


def wait_for(
    predicate: Callable[[], object], timeout: float = 60, interval: float = 0.2, what: str = "condition"
) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def job_final(job_id: int, timeout: float = 90) -> Any:
    """The Job row once it reached a final state (AssertionError after `timeout` seconds)."""
    from apps.jobs.models import Job

    return wait_for(lambda: (j := Job.objects.get(pk=job_id)).is_final and j, timeout=timeout, what=f"job {job_id}")


def clean_project_storage(project: Any) -> None:
    """Delete every stored file of the project (tests that run a real worker share storage between runs)."""
    from apps.core.storage import project_root, storage, walk_files

    for path, _ in list(walk_files(project_root(project.pk))):
        storage().delete(path)


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    """The figures of this run's schemathesis pass (tests/core/test_schemathesis.py), for CI's log."""
    report = Path(settings.VAR_DIR) / "test" / f"schemathesis-{settings.TEST_RUN}.txt"
    if report.exists():
        terminalreporter.write_line(report.read_text().splitlines()[0])
        report.unlink()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    """In CI (ATELIER_REQUIRE_E2E=1) a skipped browser test is a failure: CI must prove the UI works."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("ATELIER_REQUIRE_E2E") == "1" and item.get_closest_marker("e2e"):
        report.outcome = "failed"
        report.longrepr = f"browser test skipped but ATELIER_REQUIRE_E2E=1: {report.longrepr}"


# --- shared by the module tests ---------------------------------------------------------------------------------


@pytest.fixture
def media(settings, tmp_path) -> Path:  # type: ignore[no-untyped-def]
    """A fresh MEDIA_ROOT per test (SQLite reuses ids after a rollback, so project folders would collide)."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture
def run_job(settings) -> Callable[[object], object]:  # type: ignore[no-untyped-def]
    """Run a job in this process, as a worker would (the heartbeat thread idles: it cannot see the uncommitted
    rows of the test transaction). Tests named *_jobs.py use a real worker instead."""
    from apps.jobs.models import Job
    from apps.jobs.services import job_run

    settings.JOB_HEARTBEAT_INTERVAL_S = 3600

    def run(job: object) -> Job:
        pk = job if isinstance(job, int) else job.pk  # type: ignore[attr-defined]
        job_run(job_id=pk)
        return Job.objects.get(pk=pk)

    return run
