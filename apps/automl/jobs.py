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


@job_kind("automl.fit_candidate", title="Fit a candidate", max_attempts=2)
def automl_fit_candidate(ctx: JobContext) -> dict[str, Any]:
    from apps.automl.services import automl_candidate_fit_run

    return automl_candidate_fit_run(ctx)


@job_kind("automl.tune", title="Tuning job", max_attempts=2)
def automl_tune(ctx: JobContext) -> dict[str, Any]:
    from apps.automl.tuning import tuning_run

    return tuning_run(ctx)


@job_kind("automl.tune_worker", title="Tuning job worker", max_attempts=2, notify=False)
def automl_tune_worker(ctx: JobContext) -> dict[str, Any]:
    from apps.automl.tuning import tuning_worker_run

    return tuning_worker_run(ctx)
