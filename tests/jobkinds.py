"""Job kinds used only by the tests (loaded through JOB_MODULES in studio/settings/test.py)."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from apps.jobs.registry import job_kind
from apps.jobs.runtime import JobContext, JobError


@job_kind("tests.steps", title="Test steps", max_attempts=3)
def steps(ctx: JobContext) -> dict[str, Any]:
    """`steps` steps of `step_s` seconds, reporting progress after each."""
    n = int(ctx.params.get("steps", 5))
    step_s = float(ctx.params.get("step_s", 0.2))
    for i in range(n):
        time.sleep(step_s)
        ctx.progress((i + 1) / n, f"Step {i + 1} of {n}")
        ctx.log(f"step {i + 1}")
    return {"steps": n, "attempt": ctx.attempt, "pid": os.getpid()}


@job_kind("tests.fail", title="Test failure")
def fail(ctx: JobContext) -> None:
    ctx.progress(0.3, "About to fail")
    raise JobError("The column 'price' has text in row 7; fix the file and import it again.")


@job_kind("tests.boom", title="Test unexpected error")
def boom(ctx: JobContext) -> None:
    raise ZeroDivisionError("division by zero")


@job_kind("tests.poison", title="Test poison job", max_attempts=2)
def poison(ctx: JobContext) -> None:
    """Kills its own worker process on every attempt."""
    ctx.progress(0.1, "About to crash")
    os.kill(os.getpid(), signal.SIGKILL)


@job_kind("tests.sleep", title="Test long silent step", max_attempts=1)
def silent(ctx: JobContext) -> dict[str, Any]:
    """One long step that reports nothing (a model fit inside C code): it cannot hand itself back in time."""
    ctx.progress(0.1, "Fitting")
    deadline = time.monotonic() + float(ctx.params.get("seconds", 30))
    release = ctx.params.get("release_file")  # the test lets the step end early by creating this file
    while time.monotonic() < deadline and not (release and os.path.exists(release)):
        time.sleep(0.05)
    ctx.progress(1.0, "Fitted")
    return {"attempt": ctx.attempt}
