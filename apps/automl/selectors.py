"""Canvas reads, scoped to the user (a foreign build is a 404)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from apps.accounts.models import Project, User
from apps.accounts.selectors import object_get_for_user, scope_to_user
from apps.automl.models import AutomlBuild, AutomlCandidateModel, TuningJob
from apps.datasets import selectors as data_selectors
from apps.datasets.models import DatasetVersion
from apps.jobs.models import Job
from apps.registry.models import ModelVersion

BATCH_PREDICT_KIND = "automl.batch_predict"


def build_list_for_user(*, user: User) -> QuerySet[AutomlBuild]:
    qs = AutomlBuild.objects.select_related("project", "dataset_version__dataset", "job", "created_by")
    return scope_to_user(qs, user=user)


def build_get_for_user(*, user: User, pk: object) -> AutomlBuild:
    return object_get_for_user(build_list_for_user(user=user), user=user, pk=pk)


def batch_predictions_of_build(*, build: AutomlBuild, limit: int = 3) -> list[Job]:
    """The build's latest batch prediction jobs, newest first (the build page's batch card shows their progress)."""
    jobs = Job.objects.filter(kind=BATCH_PREDICT_KIND, project_id=build.project_id, params__build=build.pk)
    return list(jobs.order_by("-created_at", "-pk")[:limit])


def model_versions_for_build(*, build: AutomlBuild) -> QuerySet[ModelVersion]:
    """Registry versions registered from this build."""
    return ModelVersion.objects.filter(automl_build=build).select_related("group", "artifact").order_by("-created_at")


def versions_for_project(*, user: User, project: Project) -> QuerySet[DatasetVersion]:
    """Dataset versions a build may train on (the latest first)."""
    return data_selectors.version_list_for_user(user=user).filter(project=project).order_by("dataset__name", "-number")


def candidate_entry(*, build: AutomlBuild, name: str) -> dict[str, Any] | None:
    return next((e for e in build.leaderboard if e.get("name") == name), None)


def candidate_report(*, build: AutomlBuild, name: str | None = None) -> tuple[str, dict[str, Any]]:
    """(candidate, report) describing the selected (or named) candidate's fitted model: the build's report for the
    best, the candidate's own report for one refitted on request; the best's when the candidate has none yet."""
    name = name or build.chosen_candidate
    if name and name != build.best_candidate:
        row = AutomlCandidateModel.objects.filter(build=build, name=name, report__isnull=False).only("report").first()
        if row is not None and row.report:
            return name, dict(row.report)
    return build.best_candidate, dict(build.report or {})


def fitted_candidates(*, build: AutomlBuild) -> QuerySet[AutomlCandidateModel]:
    """Candidates refitted (or being refitted) on request, with their jobs."""
    return AutomlCandidateModel.objects.filter(build=build).select_related("job").defer("report")


def build_progress(*, build: AutomlBuild) -> dict[str, Any]:
    """A build's live state from one read of the build and its job (one query): the message and the counters are
    written together (apps.automl.progress), so what this returns always agrees with itself."""
    build = AutomlBuild.objects.select_related("job").get(pk=build.pk)
    job = build.job
    return {
        "id": build.pk,
        "status": build.status,
        "progress": 1.0 if build.status == "succeeded" else (job.progress if job else 0.0),
        "message": job.message if job else "",
        "error": job.error if job else "",
        "trials_done": build.trials_done,
        "best_score": build.best_score,
        "objective": build.objective,
        "history": build.history or [],
        "figure": build_history_figure(build=build),
    }


def build_history_figure(*, build: AutomlBuild) -> dict[str, Any]:
    """The best-score chart of a build: live while it runs, ending at the final model's score once it succeeded."""
    from apps.automl.charts import best_score_figure

    return best_score_figure(
        build.history or [],
        build.objective or "score",
        budget_s=_budget_s(build),
        final=bool(build.report) and build.status == "succeeded",
    )


def _budget_s(build: AutomlBuild) -> float | None:
    """The build's time budget: its own, else its mode's; None for a build no budget ran (a tuning job's export)."""
    from apps.automl import engine

    if build.time_budget_s:
        return float(build.time_budget_s)
    mode = engine.MODES.get(build.mode)
    return float(mode["budget_s"]) if mode else None


def tuning_list_for_user(*, user: User) -> QuerySet[TuningJob]:
    qs = TuningJob.objects.select_related("project", "dataset_version__dataset", "job", "created_by")
    return scope_to_user(qs, user=user)


def tuning_get_for_user(*, user: User, pk: object) -> TuningJob:
    return object_get_for_user(tuning_list_for_user(user=user), user=user, pk=pk)
