"""Job kind of the built-in algorithms. Thin: it calls one service that re-reads its inputs."""

from __future__ import annotations

from typing import Any

from apps.jobs.registry import job_kind
from apps.jobs.runtime import JobContext


@job_kind("unsupervised.run", title="Built-in algorithm", max_attempts=2)
def unsupervised_run(ctx: JobContext) -> dict[str, Any]:
    from apps.unsupervised.services import unsupervised_run_execute

    return unsupervised_run_execute(ctx)
