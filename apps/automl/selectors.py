"""Canvas reads, scoped to the user (a foreign build is a 404)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from apps.accounts.models import Project, User
from apps.accounts.selectors import object_get_for_user, scope_to_user
from apps.automl.models import AutomlBuild, AutomlModelPackage
from apps.datasets import selectors as data_selectors
from apps.datasets.models import DatasetVersion


def build_list_for_user(*, user: User) -> QuerySet[AutomlBuild]:
    qs = AutomlBuild.objects.select_related("project", "dataset_version__dataset", "job", "created_by")
    return scope_to_user(qs, user=user)


def build_get_for_user(*, user: User, pk: object) -> AutomlBuild:
    return object_get_for_user(build_list_for_user(user=user), user=user, pk=pk)


def package_list_for_build(*, build: AutomlBuild) -> QuerySet[AutomlModelPackage]:
    return AutomlModelPackage.objects.filter(build=build).select_related("artifact").order_by("-created_at")


def versions_for_project(*, user: User, project: Project) -> QuerySet[DatasetVersion]:
    """Dataset versions a build may train on (the latest first)."""
    return data_selectors.version_list_for_user(user=user).filter(project=project).order_by("dataset__name", "-number")


def candidate_entry(*, build: AutomlBuild, name: str) -> dict[str, Any] | None:
    return next((e for e in build.leaderboard if e.get("name") == name), None)


def build_progress(*, build: AutomlBuild) -> dict[str, Any]:
    job = build.job
    return {
        "id": build.pk,
        "status": build.status,
        "progress": job.progress if job else 0.0,
        "message": job.message if job else "",
        "error": job.error if job else "",
        "trials_done": build.trials_done,
        "best_score": build.best_score,
        "objective": build.objective,
        "history": build.history or [],
    }
