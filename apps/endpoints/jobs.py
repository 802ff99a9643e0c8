"""Job kinds of endpoints. Thin: each calls one service that re-reads its inputs."""

from __future__ import annotations

from typing import Any

from apps.jobs.registry import job_kind
from apps.jobs.runtime import JobContext


@job_kind("endpoints.batch_transform", title="Batch transform", max_attempts=2)
def batch_transform(ctx: JobContext) -> dict[str, Any]:
    from apps.endpoints.services import batch_transform_run

    return batch_transform_run(ctx)


@job_kind("endpoints.async_invoke", title="Asynchronous inference", max_attempts=2)
def async_invoke(ctx: JobContext) -> dict[str, Any]:
    from apps.endpoints.services import async_invocation_run

    return async_invocation_run(ctx)
