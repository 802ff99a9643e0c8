"""Reads of Clarify reports, scoped to the user (a report of a foreign project is a 404)."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.accounts.models import User
from apps.accounts.selectors import object_get_for_user, scope_to_user
from apps.clarify.models import ClarifyReport


def report_list_for_user(*, user: User) -> QuerySet[ClarifyReport]:
    qs = ClarifyReport.objects.select_related(
        "project", "dataset_version__dataset", "model_version__group", "automl_build", "job", "created_by", "parent"
    )
    return scope_to_user(qs, user=user)


def report_get_for_user(*, user: User, pk: object) -> ClarifyReport:
    return object_get_for_user(report_list_for_user(user=user), user=user, pk=pk)
