"""Job kinds: the single way to define a long-running thing.

    @job_kind("datasets.import", title="Import dataset")
    def dataset_import(ctx: JobContext) -> dict:
        ctx.progress(0.5, "Reading rows")
        ...
        return {"dataset_version": 12}

The function receives a JobContext (apps/jobs/runtime.py) and returns a JSON-serialisable result.
Raise JobError("what went wrong and what to do") to fail with that message.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    from apps.jobs.runtime import JobContext


@dataclass(frozen=True)
class JobKind:
    name: str
    title: str
    run: Callable[[JobContext], Any]
    max_attempts: int | None = None
    queue: str | None = None
    time_limit_s: int | None = None
    # Tell whoever started a job when it ends. False for jobs another job starts as its helpers (the parent's own
    # notification tells the person), so one event makes one notification.
    notify: bool = True


_KINDS: dict[str, JobKind] = {}
_loaded = False


def job_kind(
    name: str,
    *,
    title: str,
    max_attempts: int | None = None,
    queue: str | None = None,
    time_limit_s: int | None = None,
    notify: bool = True,
) -> Callable[[Callable[[JobContext], Any]], Callable[[JobContext], Any]]:
    def register(fn: Callable[[JobContext], Any]) -> Callable[[JobContext], Any]:
        existing = _KINDS.get(name)
        if existing is not None and existing.run.__qualname__ != fn.__qualname__:
            raise RuntimeError(f"Job kind {name!r} is defined twice.")
        _KINDS[name] = JobKind(name, title, fn, max_attempts, queue, time_limit_s, notify)
        return fn

    return register


def load_job_modules() -> None:
    global _loaded
    if _loaded:
        return
    for module in settings.JOB_MODULES:
        importlib.import_module(module)
    _loaded = True


def get_kind(name: str) -> JobKind:
    load_job_modules()
    try:
        return _KINDS[name]
    except KeyError as exc:
        raise LookupError(f"Unknown job kind {name!r}.") from exc
