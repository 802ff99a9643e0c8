"""Reads of built-in algorithm runs, scoped to the user (a run of a foreign project is a 404)."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.accounts.models import Project, User
from apps.accounts.selectors import object_get_for_user, scope_to_user
from apps.datasets import selectors as data_selectors
from apps.datasets.models import DatasetVersion
from apps.unsupervised.models import UnsupervisedRun


def run_list_for_user(*, user: User) -> QuerySet[UnsupervisedRun]:
    qs = UnsupervisedRun.objects.select_related(
        "project", "dataset_version__dataset", "output_version__dataset", "job", "created_by"
    )
    return scope_to_user(qs, user=user)


def run_get_for_user(*, user: User, pk: object) -> UnsupervisedRun:
    return object_get_for_user(run_list_for_user(user=user), user=user, pk=pk)


def versions_for_project(*, user: User, project: Project) -> QuerySet[DatasetVersion]:
    """Dataset versions a run may read (by dataset name, the latest first)."""
    return data_selectors.version_list_for_user(user=user).filter(project=project).order_by("dataset__name", "-number")
