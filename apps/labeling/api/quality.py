"""The quality part of the labeling API (see api/__init__.py): consolidation, statistics, the items with their
consolidated labels and raw answers, and review. Studio only (USE_STUDIO; writes add MANAGE_LABELING); a job is
reached through its project (another project's is a 404).

- `POST /api/labeling-jobs/{id}/consolidate/` → 202 `{job}`: the Job `labeling.consolidate` (Dawid–Skene etc.).
- `GET /api/labeling-jobs/{id}/stats/` → the job's stats (LABELING.md's shape) with live progress counts.
- `GET /api/labeling-jobs/{id}/items/?review_status=&label_source=&ordering=` → paginated items: consolidated label,
  confidence, info, review state, gold, and every answer with its worker's username.
- `POST /api/labeling-items/{id}/review/` `{answer?}` → 200 the item: no answer accepts its label, an answer
  (validated as a worker's) replaces it.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Prefetch, Q
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import personas
from apps.accounts.requests import request_user
from apps.core.api.errors import error_response
from apps.labeling import selectors
from apps.labeling.choices import LabelSource, ReviewStatus, TaskStatus
from apps.labeling.models import LabelingItem, LabelingJob, LabelingTask
from apps.labeling.services.consolidation import consolidation_start
from apps.labeling.services.review import item_review

# A job not consolidated yet (LABELING.md's shape, empty).
EMPTY_STATS: dict[str, Any] = {
    "agreement": {"fleiss_kappa": None, "krippendorff_alpha": None, "level": "nominal"},
    "workers": [],
    "labels": {},
    "models": [],
    "auto_labeling": [],
    "updated_at": None,
}
ITEM_ORDERINGS = {
    "position": ("position",),
    "-position": ("-position",),
    "confidence": ("confidence", "position"),  # least confident first: what a reviewer looks at
    "-confidence": ("-confidence", "position"),
}


def live_progress(job: LabelingJob) -> dict[str, int]:
    counts = LabelingItem.objects.filter(job=job).aggregate(
        items=Count("pk"),
        labeled=Count("pk", filter=~Q(label_source=LabelSource.NONE)),
        auto=Count("pk", filter=Q(label_source=LabelSource.AUTO)),
        reviewed=Count("pk", filter=Q(label_source=LabelSource.REVIEWED)),
        pending_review=Count("pk", filter=Q(review_status=ReviewStatus.PENDING)),
    )
    counts["answers"] = LabelingTask.objects.filter(job=job, status=TaskStatus.ANSWERED).count()
    return {key: int(counts[key]) for key in ("items", "answers", "labeled", "auto", "reviewed", "pending_review")}


def item_payload(item: LabelingItem) -> dict[str, Any]:
    reviewer: Any = item.reviewed_by
    return {
        "id": item.pk,
        "position": item.position,
        "source_ref": item.source_ref,
        "data": item.data,
        "suggestion": item.suggestion,
        "is_gold": item.is_gold,
        "gold_answer": item.gold_answer,
        "consolidated": item.consolidated,
        "confidence": item.confidence,
        "consolidation_info": item.consolidation_info,
        "label_source": item.label_source,
        "review_status": item.review_status,
        "reviewed_by": reviewer.username if reviewer else None,
        "reviewed_at": item.reviewed_at,
        "labeled_at": item.labeled_at,
        "answers": [
            {
                "worker": task.worker.username,
                "answer": task.answer,
                "answered_at": task.answered_at,
                "time_spent_ms": task.time_spent_ms,
            }
            for task in item.answered_tasks  # type: ignore[attr-defined]
        ],
    }


def items_with_answers() -> Any:
    answered = (
        LabelingTask.objects.filter(status=TaskStatus.ANSWERED).select_related("worker").order_by("answered_at", "pk")
    )
    return LabelingItem.objects.select_related("reviewed_by").prefetch_related(
        Prefetch("tasks", queryset=answered, to_attr="answered_tasks")
    )


class ConsolidatedSerializer(serializers.Serializer):
    job = serializers.IntegerField(help_text="The Job consolidating the labels (GET /api/jobs/{id}/).")

    class Meta:
        ref_name = "LabelingConsolidateStarted"


class ReviewSerializer(serializers.Serializer):
    answer = serializers.JSONField(
        required=False, allow_null=True, help_text="Omit (or null) to accept the label; an answer to replace it."
    )

    class Meta:
        ref_name = "LabelingReview"


class JobConsolidateApi(APIView):
    """Re-consolidate every answered item of the job (Dawid–Skene for classification) and recompute its stats."""

    capability = personas.USE_STUDIO
    capabilities = {"post": personas.MANAGE_LABELING}

    @extend_schema(request=None, responses={202: ConsolidatedSerializer})
    def post(self, request: Request, pk: int) -> Response:
        user = request_user(request)
        job = selectors.job_get_for_user(user=user, pk=pk)
        run = consolidation_start(job=job, user=user)
        return Response({"job": run.pk}, status=status.HTTP_202_ACCEPTED)


class JobStatsApi(APIView):
    """The job's quality statistics as the last consolidation wrote them, with progress counted now."""

    capability = personas.USE_STUDIO

    @extend_schema(responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="LabelingJob.stats + live.")})
    def get(self, request: Request, pk: int) -> Response:
        job = selectors.job_get_for_user(user=request_user(request), pk=pk)
        stats = dict(job.stats or {})
        run: Any = job.consolidate_job
        body = {
            **EMPTY_STATS,
            **stats,
            "progress": live_progress(job),
            "status": job.status,
            "consolidated_at": job.consolidated_at,
            "consolidate_job": {"id": run.pk, "status": run.status} if run is not None else None,
        }
        return Response(body)


class JobItemsApi(GenericAPIView):
    """The job's items with their consolidated labels and every worker's answer (studio only: workers never see
    each other's answers). Filters: `review_status`, `label_source`; `ordering`: position (default), confidence."""

    capability = personas.USE_STUDIO
    filter_backends: list[Any] = []

    @extend_schema(
        parameters=[
            OpenApiParameter("review_status", str, enum=list(ReviewStatus.values)),
            OpenApiParameter("label_source", str, enum=list(LabelSource.values)),
            OpenApiParameter("ordering", str, enum=list(ITEM_ORDERINGS)),
        ],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="{count, next, previous, results}")},
    )
    def get(self, request: Request, pk: int) -> Response:
        job = selectors.job_get_for_user(user=request_user(request), pk=pk)
        items = items_with_answers().filter(job=job)
        params = request.query_params
        for name, choices in (("review_status", ReviewStatus.values), ("label_source", LabelSource.values)):
            value = params.get(name)
            if value in (None, ""):
                continue
            if value not in choices:
                return error_response(
                    status.HTTP_400_BAD_REQUEST,
                    f"{name} must be one of {', '.join(choices)}.",
                    code="invalid",
                    field=name,
                )
            items = items.filter(**{name: value})
        ordering = params.get("ordering") or "position"
        if ordering not in ITEM_ORDERINGS:
            return error_response(
                status.HTTP_400_BAD_REQUEST,
                f"ordering must be one of {', '.join(ITEM_ORDERINGS)}.",
                code="invalid",
                field="ordering",
            )
        page = self.paginate_queryset(items.order_by(*ITEM_ORDERINGS[ordering]))
        assert page is not None  # the default pagination class always pages
        return self.get_paginated_response([item_payload(item) for item in page])


class ItemReviewApi(APIView):
    """Accept an item's consolidated label (no answer) or replace it (an answer of the job's task type)."""

    capability = personas.USE_STUDIO
    capabilities = {"post": personas.MANAGE_LABELING}

    @extend_schema(request=ReviewSerializer, responses={200: OpenApiResponse(OpenApiTypes.OBJECT)})
    def post(self, request: Request, pk: int) -> Response:
        user = request_user(request)
        item = selectors.item_get_for_user(user=user, pk=pk)
        body: Any = request.data if hasattr(request.data, "get") else {}
        item_review(item=item, user=user, answer=body.get("answer"))
        return Response(item_payload(items_with_answers().get(pk=item.pk)))


urlpatterns = [
    path("labeling-jobs/<id:pk>/consolidate/", JobConsolidateApi.as_view(), name="labeling-job-consolidate"),
    path("labeling-jobs/<id:pk>/stats/", JobStatsApi.as_view(), name="labeling-job-stats"),
    path("labeling-jobs/<id:pk>/items/", JobItemsApi.as_view(), name="labeling-job-items"),
    path("labeling-items/<id:pk>/review/", ItemReviewApi.as_view(), name="labeling-item-review"),
]
