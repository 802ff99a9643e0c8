"""Registry reads, scoped to the user: a group or version of a project the user is not a member of is a 404."""

from __future__ import annotations

import math
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, OuterRef, Prefetch, QuerySet, Subquery

from apps.accounts.models import User
from apps.accounts.selectors import object_get_for_user, scope_to_user
from apps.automl.engine.metrics import METRICS
from apps.registry.models import ApprovalEvent, ModelAlias, ModelGroup, ModelVersion

MAX_COMPARED = 6


def group_list_for_user(*, user: User) -> QuerySet[ModelGroup]:
    """Groups with `version_count`, and their latest version's number and approval state."""
    latest = ModelVersion.objects.filter(group=OuterRef("pk")).order_by("-version")
    qs = ModelGroup.objects.select_related("project").annotate(
        version_count=Count("versions", distinct=True),
        latest_version=Subquery(latest.values("version")[:1]),
        latest_status=Subquery(latest.values("approval_status")[:1]),
    )
    return scope_to_user(qs, user=user)


def group_get_for_user(*, user: User, pk: object) -> ModelGroup:
    return object_get_for_user(group_list_for_user(user=user), user=user, pk=pk)


def version_list_for_user(*, user: User) -> QuerySet[ModelVersion]:
    qs = ModelVersion.objects.select_related(
        "group", "project", "artifact", "approval_by", "created_by"
    ).prefetch_related(Prefetch("aliases", queryset=ModelAlias.objects.order_by("name")))
    return scope_to_user(qs, user=user)


def version_get_for_user(*, user: User, pk: object) -> ModelVersion:
    qs = (
        version_list_for_user(user=user)
        .select_related(
            "dataset_version__dataset",
            "automl_build",
            "tuning_job",
        )
        .prefetch_related(Prefetch("approval_events", queryset=ApprovalEvent.objects.select_related("created_by")))
    )
    return object_get_for_user(qs, user=user, pk=pk)


def versions_of_group(*, group: ModelGroup) -> QuerySet[ModelVersion]:
    return (
        ModelVersion.objects.filter(group=group)
        .select_related("approval_by", "created_by")
        .prefetch_related(Prefetch("aliases", queryset=ModelAlias.objects.order_by("name")))
        .order_by("-version")
    )


def aliases_of_group(*, group: ModelGroup) -> QuerySet[ModelAlias]:
    return ModelAlias.objects.filter(group=group).select_related("version").order_by("name")


# --- comparison ---------------------------------------------------------------------------------------------


def compared_versions(*, user: User, raw: Any) -> list[ModelVersion]:
    """The versions named by `?versions=1,2,3` (ids), in that order; foreign or unknown ids are a 404."""
    parts = [p.strip() for p in str(raw or "").split(",") if p.strip()]
    if len(parts) < 2:
        raise ValidationError({"versions": "Choose at least two versions to compare (?versions=1,2)."})
    if len(parts) > MAX_COMPARED:
        raise ValidationError({"versions": f"Compare at most {MAX_COMPARED} versions at once."})
    if not all(p.isdigit() for p in parts):
        raise ValidationError({"versions": "Version ids are whole numbers separated by commas."})
    ids = list(dict.fromkeys(int(p) for p in parts))
    return [version_get_for_user(user=user, pk=pk) for pk in ids]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def comparison(*, versions: list[ModelVersion]) -> dict[str, Any]:
    """Rows for the compare page: metrics with the best value per row marked (by the metric's direction; unknown
    metrics count higher as better) and hyperparameters with rows whose values differ marked."""
    metric_names = sorted({k for v in versions for k in (v.metrics or {})})
    metric_rows = []
    for name in metric_names:
        values = [(v.metrics or {}).get(name) for v in versions]
        numbers = [_number(x) for x in values]
        known = [n for n in numbers if n is not None]
        metric = METRICS.get(name)
        higher = metric.greater_is_better if metric else True
        best = (max(known) if higher else min(known)) if len(known) > 1 else None
        metric_rows.append(
            {
                "name": name,
                "label": metric.label if metric else name,
                "higher_is_better": higher,
                "cells": [
                    {"value": x, "best": best is not None and n == best} for x, n in zip(values, numbers, strict=True)
                ],
            }
        )
    param_names = sorted({k for v in versions for k in (v.hyperparameters or {})})
    param_rows = []
    for name in param_names:
        missing = object()
        values = [(v.hyperparameters or {}).get(name, missing) for v in versions]
        reprs = [None if x is missing else repr(x) for x in values]
        param_rows.append(
            {"name": name, "differs": len(set(reprs)) > 1, "cells": [None if x is missing else x for x in values]}
        )
    return {"metrics": metric_rows, "params": param_rows}
