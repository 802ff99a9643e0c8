"""Job kinds of Clarify. Thin: each calls one service that re-reads its inputs."""

from __future__ import annotations

from typing import Any

from apps.jobs.registry import job_kind
from apps.jobs.runtime import JobContext


@job_kind("clarify.report", title="Clarify report", max_attempts=2)
def report_run(ctx: JobContext) -> dict[str, Any]:
    from apps.clarify.services import report_run_execute

    return report_run_execute(ctx)


@job_kind("clarify.mitigate", title="Clarify mitigation", max_attempts=2)
def mitigation_run(ctx: JobContext) -> dict[str, Any]:
    from apps.clarify.services import mitigation_run_execute

    return mitigation_run_execute(ctx)
