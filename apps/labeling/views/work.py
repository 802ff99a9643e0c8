"""Work pages of Ground Truth, for labelers: "My work" (the jobs of their work teams, with what is left for them) and
the labeling page of one job, whose form static/js/labeling_work.js drives through the queue API
(apps/labeling/api/queue.py: next task, answer, skip). A job of a team the user is not in is a 404."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views import View

from apps.accounts import personas
from apps.accounts.mixins import CapabilityRequiredMixin
from apps.labeling import selectors
from apps.labeling.choices import JobStatus, TaskStatus
from apps.labeling.models import LabelingItem, LabelingJob, LabelingTask
from apps.labeling.services import queue

# What each task type asks of the worker, in one line over the form (the page's heading).
TASK_PROMPTS = {
    "text_classification": "Choose the label that fits the text.",
    "text_classification_multi": "Choose every label that fits the text.",
    "named_entity": "Select each entity in the text with the mouse, then pick its label.",
    "image_classification": "Choose the label that fits the image.",
    "image_classification_multi": "Choose every label that fits the image.",
    "bounding_box": "Pick a label, then draw a box around each object of it.",
    "tabular_classification": "Choose the label that fits the row.",
    "label_verification": "Is the earlier label right?",
    "rating": "Rate the response on each criterion.",
    "pairwise_preference": "Which response is better?",
    "ranking": "Order the responses from best to worst.",
    "rewrite": "Write a better response.",
}


def jobs_with_counts_for_worker(*, user: Any) -> QuerySet[LabelingJob]:
    """The worker's jobs (selectors.job_list_for_worker), each with `available` (open items this worker has not
    claimed, answered or skipped: services.queue.available_count, for all jobs in one query) and `answered`."""
    held = LabelingTask.objects.filter(job=OuterRef(OuterRef("pk")), worker=user, status__in=queue.HOLDING)
    open_items = (
        LabelingItem.objects.filter(job=OuterRef("pk"), is_open=True)
        .exclude(pk__in=held.values("item_id"))
        .order_by()
        .values("job")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return selectors.job_list_for_worker(user=user).annotate(
        available=Coalesce(Subquery(open_items, output_field=IntegerField()), Value(0)),
        answered=Count("tasks", filter=Q(tasks__worker=user, tasks__status=TaskStatus.ANSWERED)),
    )


class WorkMixin(CapabilityRequiredMixin):
    capability = personas.USE_LABELING


class MyWorkView(WorkMixin, View):
    """The labeler's landing page: the jobs of their teams, what is left for them, and a way in."""

    def get(self, request: HttpRequest) -> HttpResponse:
        jobs = list(jobs_with_counts_for_worker(user=request.user).order_by("status", "-created_at", "-id"))
        teams = list(request.user.work_teams.order_by("name").values_list("name", flat=True))  # type: ignore[union-attr]
        return render(
            request,
            "labeling/work_list.html",
            {"jobs": jobs, "teams": teams, "active": JobStatus.ACTIVE},
        )


class WorkView(WorkMixin, View):
    """The labeling page of one job: the shell the form is drawn in (the items come from the queue API)."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = selectors.job_get_for_worker(user=request.user, pk=pk)
        context = {
            "job": job,
            "prompt": TASK_PROMPTS.get(job.task_type, ""),
            "is_active": job.status == JobStatus.ACTIVE,
        }
        return render(request, "labeling/work_form.html", context)


urlpatterns = [
    path("work/", MyWorkView.as_view(), name="my_work"),
    path("work/<id:pk>/", WorkView.as_view(), name="work"),
]
