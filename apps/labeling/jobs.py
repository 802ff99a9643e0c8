"""Job kinds of Ground Truth. Thin: each calls one service that re-reads its inputs."""

from __future__ import annotations

from typing import Any

from apps.jobs.registry import job_kind
from apps.jobs.runtime import JobContext


@job_kind("labeling.prepare", title="Prepare labeling items", max_attempts=2)
def prepare_run(ctx: JobContext) -> dict[str, Any]:
    from apps.labeling.services.prepare import prepare_run_execute

    return prepare_run_execute(ctx)


@job_kind("labeling.consolidate", title="Consolidate labels", max_attempts=2)
def consolidation_run(ctx: JobContext) -> dict[str, Any]:
    from apps.labeling.services.consolidation import consolidation_run_execute

    return consolidation_run_execute(ctx)


@job_kind("labeling.export", title="Labeling export", max_attempts=2)
def export_run(ctx: JobContext) -> dict[str, Any]:
    from apps.labeling.services.export import export_run_execute

    return export_run_execute(ctx)


@job_kind("labeling.autolabel", title="Automated labeling", max_attempts=2)
def autolabel_run(ctx: JobContext) -> dict[str, Any]:
    from apps.labeling.services.autolabel import autolabel_run_execute

    return autolabel_run_execute(ctx)
