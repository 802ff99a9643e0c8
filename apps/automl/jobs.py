"""Job kinds of Canvas. Thin: each calls one service that re-reads its inputs."""

from __future__ import annotations

from typing import Any

from apps.jobs.registry import job_kind
from apps.jobs.runtime import JobContext


@job_kind("automl.build", title="AutoML build", max_attempts=2)
def automl_build(ctx: JobContext) -> dict[str, Any]:
    from apps.automl.services import automl_build_run

    return automl_build_run(ctx)


@job_kind("automl.batch_predict", title="Batch prediction", max_attempts=2)
def automl_batch_predict(ctx: JobContext) -> dict[str, Any]:
    from apps.automl.services import automl_batch_predict_run

    return automl_batch_predict_run(ctx)
