"""Browser-test fixtures: the real ASGI app under uvicorn in a subprocess, real Celery workers, headless Chromium.

The web server and the workers open the pytest-django test database (committed data: `transactional_db`).
Playwright's sync API keeps an asyncio loop running in this thread, and Django refuses ORM calls while a loop
runs here; `off_loop()` runs such calls (starting a worker, reading a row) in a short-lived thread instead.
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pytest
from django.conf import settings
from django.db import connection, connections

ROOT = Path(__file__).resolve().parent.parent.parent
SCREENSHOT_DIR = ROOT / "docs" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1366, "height": 900}
PASSWORD = "correct-horse-battery"  # tests.factories.UserFactory's password

T = TypeVar("T")


def off_loop(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a function that uses the Django ORM outside Playwright's running event loop (in a thread)."""

    def call() -> T:
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class StudioServer:
    url: str
    proc: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass


@pytest.fixture(scope="session")
def collected_static() -> dict[str, str]:
    """Run collectstatic once per session, as `make run` does before it serves: hashed names, gzip and brotli
    variants (apps/core/staticfiles.py) in the test STATIC_ROOT. Test runs and xdist workers share that folder, so
    the run holds a lock; a file compressed by an earlier run is not compressed again. Returns the environment
    under which a server serves those files."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "studio.settings.test", "ATELIER_STATIC_COLLECTED": "1"}
    root = Path(settings.VAR_DIR) / "test"
    root.mkdir(parents=True, exist_ok=True)
    # Once per test run, not once per xdist worker: a second collectstatic rewrites files that a server started by
    # another worker is reading (CI saw uvicorn fail on a hashed file that vanished under it).
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"pid{os.getpid()}"
    marker = root / f"static.collected.{run}"
    with open(root / "static.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return {"ATELIER_STATIC_COLLECTED": "1"}
        done = subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, f"collectstatic failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        for old in root.glob("static.collected.*"):
            old.unlink(missing_ok=True)
        marker.touch()
    return {"ATELIER_STATIC_COLLECTED": "1"}


@pytest.fixture
def studio_server(transactional_db, tmp_path, collected_static) -> Iterator[StudioServer]:  # type: ignore[no-untyped-def]
    """`uvicorn studio.asgi:application` on a free port against the test database, serving the collected static
    files as `make run` does; killed at teardown."""
    port = _free_port()
    env = {
        **os.environ,
        **collected_static,
        "DJANGO_SETTINGS_MODULE": "studio.settings.test",
        "ATELIER_TEST_DATABASE_NAME": str(connection.settings_dict["NAME"]),
        "PYTEST_XDIST_WORKER": os.environ.get("PYTEST_XDIST_WORKER", "gw0"),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
    }
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "studio.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--ws",
        "websockets-sansio",
        "--lifespan",
        "off",
        "--no-server-header",
    ]
    log_path = tmp_path / "uvicorn.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = StudioServer(url=f"http://127.0.0.1:{port}", proc=proc, log_path=log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"uvicorn exited with code {proc.returncode}:\n{server.log()[-4000:]}")
            try:
                with urllib.request.urlopen(f"{server.url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not answer /healthz within 60 s:\n{server.log()[-4000:]}")
            time.sleep(0.2)
        yield server
    finally:
        server.stop()
        # Shown by pytest only when the test failed.
        print(f"--- uvicorn log (last 4000 chars) ---\n{server.log()[-4000:]}")


@pytest.fixture
def studio_worker(start_worker) -> Callable[[], Any]:  # type: ignore[no-untyped-def]
    """Start one real Celery worker (tests.conftest.start_worker) when called; safe while a browser runs."""

    def start() -> Any:
        return off_loop(start_worker, 1)

    return start


class Browser:
    """Headless Chromium, started on the first `new_page()`: set up data with the ORM before that, and use
    `off_loop()` for ORM calls after it (Playwright's loop then runs in this thread)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.page_errors: list[str] = []
        self._playwright: Any = None
        self._browser: Any = None

    def new_page(self) -> Any:
        if self._browser is None:
            from playwright.sync_api import sync_playwright

            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = self._browser.new_context(base_url=self.base_url, viewport=VIEWPORT)
        context.set_default_timeout(15_000)
        context.set_default_navigation_timeout(30_000)
        page = context.new_page()
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        return page

    def close(self) -> None:
        try:
            if self._browser is not None:
                self._browser.close()
        finally:
            if self._playwright is not None:
                self._playwright.stop()
            self._browser = self._playwright = None


@pytest.fixture
def chromium_executable() -> Path:
    """Debian's Chromium (no browser download here); the test is skipped without it (CI counts that a failure)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed: the e2e browser tests need Debian's chromium package")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    return CHROMIUM


@pytest.fixture
def browser(chromium_executable, studio_server) -> Iterator[Browser]:  # type: ignore[no-untyped-def]
    """Headless Chromium pointed at the studio server (uvicorn subprocess)."""
    holder = Browser(base_url=studio_server.url)
    try:
        yield holder
    finally:
        holder.close()
    assert not holder.page_errors, f"uncaught JavaScript errors in the pages: {holder.page_errors}"


def login(page: Any, username: str, password: str = PASSWORD) -> None:
    """Sign in through the login form (the page must show it)."""
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(password)
    page.locator("#login-form button[type=submit]").click()


def wait_until(page: Any, expression: str, timeout: float = 30_000) -> Any:
    """Poll a JavaScript expression until it is truthy (its value), or fail after `timeout` ms. Playwright's own
    wait_for_function evaluates its predicate with eval() inside the page, which our Content-Security-Policy (no
    unsafe-eval) refuses; page.evaluate goes through the debugging protocol, which the policy does not cover."""
    from playwright.sync_api import Error as PlaywrightError

    deadline = time.monotonic() + timeout / 1000
    while True:
        try:
            value = page.evaluate(expression)
        except PlaywrightError as exc:  # the page navigated meanwhile (a live page reloads itself when a job ends)
            if "context was destroyed" not in str(exc) and "navigat" not in str(exc):
                raise
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout / 1000:.0f} s waiting for: {expression}")
        page.wait_for_timeout(100)


def wait_for_scripts(page: Any) -> None:
    """Wait until the page's own scripts have run their DOMContentLoaded set-up (autosubmit, live jobs, charts)."""
    wait_until(page, "document.readyState !== 'loading' && !!window.Atelier")


def screenshot(page: Any, name: str) -> None:
    """Check the page does not overflow sideways, then save a full-page PNG into docs/screenshots/ when
    ATELIER_SCREENSHOTS=1 (CI leaves the files alone)."""
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{name}: the page is {overflow}px wider than the {VIEWPORT['width']}px viewport"
    if os.environ.get("ATELIER_SCREENSHOTS") != "1":
        return
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / f"{name}.png"), full_page=True, animations="disabled", caret="hide")


# --- a project with a churn dataset (Canvas and tuning) ------------------------------------------------------


def churn_frame(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    tenure = rng.integers(1, 72, n)
    monthly = rng.normal(70, 20, n).round(2)
    plan = rng.choice(["basic", "plus", "pro"], n)
    paperless = rng.choice(["Y", "N"], n)
    logit = -0.06 * tenure + 0.03 * (monthly - 70) + (plan == "basic") * 1.0 + 1.0
    churn = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return pd.DataFrame(
        {
            "customer_id": np.arange(5000, 5000 + n),
            "tenure_months": tenure,
            "monthly_fee": monthly,
            "plan": pd.array(plan, "string"),
            "paperless": pd.array(paperless, "string"),
            "churn": churn,
        }
    )


def imported_version(project: object, user: object, frame: pd.DataFrame, name: str) -> object:
    """`frame` stored as an import stores a file: typed columns (yes/no as booleans) and the inferred schema."""
    from tests.factories import DatasetVersionFactory

    return DatasetVersionFactory(project=project, created_by=user, frame=frame, name=name, typed=True)


@pytest.fixture
def churn_project() -> Iterator[object]:
    """Project "Customer care" with data scientist dana and dataset "subscribers" (churn yes/no, paperless Y/N)
    stored as an import stores it; for the Canvas and tuning browser tests."""
    from tests.conftest import clean_project_storage
    from tests.factories import ProjectFactory, UserFactory

    project = ProjectFactory(name="Customer care", slug="care", description="Churn models.")
    user = UserFactory(username="dana", personas=["data_scientist"], projects=[project])
    clean_project_storage(project)
    imported_version(project, user, churn_frame(), name="subscribers")
    yield project
    off_loop(clean_project_storage, project)
