"""The queue part of the labeling API (see api/__init__.py): what a worker (the Labeler persona) calls.

- `POST /api/labeling-jobs/{id}/next-task/` → 200 `{id, item: {id, data, suggestion}, job: {...}, expires_at}` (the
  worker's claim) or 204 (nothing left for them); 409 when the job is not open for work.
- `POST /api/labeling-tasks/{id}/answers/` (`{answer: {...}, time_spent_ms}`, or the short `{label}` of single-label
  tasks) → 201 the task with the answer as stored; 400 naming what is wrong; 409 when the task is answered, skipped,
  or its claim expired and went to another worker.
- `POST /api/labeling-tasks/{id}/skip/` → 204.
- `GET /api/labeling-work/` → the worker's jobs with counts (available to them, answered by them).

A worker reaches only the jobs of their teams and only their own tasks (another's is a 404). Nothing here carries
another worker's answers, an item's consolidated label, a gold answer or whether an item is gold; the project's name
is left out when the job hides it (it is never part of a task).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q
from django.urls import path
from django.utils.html import escape, linebreaks
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import personas
from apps.accounts.requests import request_user
from apps.core.api.errors import error_response
from apps.labeling import selectors
from apps.labeling.answers import ANSWER_EXAMPLES, SINGLE_LABEL
from apps.labeling.choices import TaskStatus
from apps.labeling.models import LabelingJob, LabelingTask
from apps.labeling.services import queue


def instructions_html(job: LabelingJob) -> str:
    """The job's Markdown instructions, sanitised (apps/labeling/markdown.py once present; escaped text before)."""
    try:
        from apps.labeling.markdown import render_instructions  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # pragma: no cover - the jobs part brings markdown.py
        return linebreaks(escape(job.instructions or ""))
    return str(render_instructions(job.instructions or ""))


def job_for_worker(job: LabelingJob) -> dict[str, Any]:
    """What the labeling form needs of the job (never its project, stats or gold)."""
    return {
        "id": job.pk,
        "name": job.name,
        "task_type": job.task_type,
        "labels": job.labels,
        "criteria": job.criteria,
        "scale": job.scale,
        "instructions_html": instructions_html(job),
        "examples": job.examples,
        "time_limit_s": job.time_limit_s,
    }


def task_payload(task: LabelingTask, job: LabelingJob) -> dict[str, Any]:
    item = task.item
    return {
        "id": task.pk,
        "status": task.status,
        "item": {"id": item.pk, "data": item.data, "suggestion": item.suggestion},
        "job": job_for_worker(job),
        "claimed_at": task.claimed_at,
        "expires_at": task.expires_at,
    }


def conflict(exc: queue.QueueConflict) -> Response:
    return error_response(status.HTTP_409_CONFLICT, exc.message, code=exc.code)


class TaskSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    item = serializers.DictField(help_text="{id, data, suggestion}: data's shape depends on the job's source.")  # type: ignore[assignment]
    job = serializers.DictField(  # type: ignore[assignment]
        help_text="{id, name, task_type, labels, criteria, scale, instructions_html, examples, time_limit_s}"
    )
    claimed_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()

    class Meta:
        ref_name = "LabelingTaskClaim"


class AnswerSerializer(serializers.Serializer):
    answer = serializers.JSONField(
        required=False,
        help_text=f"The answer, shaped per task type (e.g. {ANSWER_EXAMPLES['text_classification']}, "
        f"{ANSWER_EXAMPLES['pairwise_preference']}; see apps/labeling/answers.py).",
    )
    label = serializers.CharField(required=False, help_text="Short form for single-label tasks: the label.")  # type: ignore[assignment]
    time_spent_ms = serializers.IntegerField(required=False, min_value=0, help_text="Time on the task, measured.")

    class Meta:
        ref_name = "LabelingAnswer"


class AnsweredSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    item = serializers.IntegerField()
    status = serializers.CharField()
    answer = serializers.JSONField()
    answered_at = serializers.DateTimeField()
    time_spent_ms = serializers.IntegerField()

    class Meta:
        ref_name = "LabelingAnswered"


class NextTaskApi(APIView):
    """Claim the next item of a job (or get back the claim already held). 204 when nothing is left for this worker."""

    capability = personas.USE_LABELING

    @extend_schema(
        request=None,
        responses={
            200: TaskSerializer,
            204: OpenApiResponse(description="Nothing left for this worker."),
            409: OpenApiResponse(description="The job is not open for work."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        worker = request_user(request)
        job = selectors.job_get_for_worker(user=worker, pk=pk)
        try:
            task = queue.task_claim_next(job=job, worker=worker)
        except queue.QueueConflict as exc:
            return conflict(exc)
        if task is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(task_payload(task, job))


def _task(request: Request, pk: int) -> LabelingTask:
    """The worker's own task, in a job of one of their teams (404 otherwise)."""
    worker = request_user(request)
    task = selectors.task_get_for_worker(user=worker, pk=pk)
    task.job = selectors.job_get_for_worker(user=worker, pk=task.job_id)  # still in the job's team
    return task


class TaskAnswerApi(APIView):
    """Answer a claimed task: `{answer, time_spent_ms}` (or `{label}` for single-label tasks) → 201."""

    capability = personas.USE_LABELING

    @extend_schema(
        request=AnswerSerializer,
        responses={201: AnsweredSerializer, 409: OpenApiResponse(description="Answered, skipped or lost claim.")},
    )
    def post(self, request: Request, pk: int) -> Response:
        task = _task(request, pk)
        body: Any = request.data if hasattr(request.data, "get") else {}
        if "answer" in body:
            answer = body.get("answer")
        elif "label" in body and task.job.task_type in SINGLE_LABEL:
            answer = {"label": body.get("label")}
        else:
            example = ANSWER_EXAMPLES[task.job.task_type]
            message = f"Send the answer as {{'answer': {example}}}."
            if task.job.task_type in SINGLE_LABEL:
                message += " The short form {'label': ...} is accepted too."
            return error_response(status.HTTP_400_BAD_REQUEST, message, code="invalid", field="answer")
        try:
            done = queue.task_answer(
                task=task, worker=request_user(request), answer=answer, time_spent_ms=body.get("time_spent_ms")
            )
        except queue.QueueConflict as exc:
            return conflict(exc)
        return Response(
            {
                "id": done.pk,
                "item": done.item_id,
                "status": done.status,
                "answer": done.answer,
                "answered_at": done.answered_at,
                "time_spent_ms": done.time_spent_ms,
            },
            status=status.HTTP_201_CREATED,
        )


class TaskSkipApi(APIView):
    """Pass on a claimed task: its seat goes back to the queue, and the item is not offered to this worker again."""

    capability = personas.USE_LABELING

    @extend_schema(request=None, responses={204: OpenApiResponse(description="Skipped.")})
    def post(self, request: Request, pk: int) -> Response:
        task = _task(request, pk)
        try:
            queue.task_skip(task=task, worker=request_user(request))
        except queue.QueueConflict as exc:
            return conflict(exc)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WorkListApi(APIView):
    """The jobs of the worker's teams: `{id, name, task_type, status, team, project (null when the job hides it),
    item_count, available (items they could claim now), answered (by them), active_task (their claim, or null)}`."""

    capability = personas.USE_LABELING

    @extend_schema(responses={200: OpenApiResponse(description="The worker's jobs with their counts.")})
    def get(self, request: Request) -> Response:
        worker = request_user(request)
        jobs = (
            selectors.job_list_for_worker(user=worker)
            .annotate(
                answered=Count(
                    "tasks", filter=Q(tasks__worker=worker, tasks__status=TaskStatus.ANSWERED), distinct=True
                )
            )
            .order_by("-created_at", "-pk")
        )
        active = dict(LabelingTask.objects.filter(worker=worker, status=TaskStatus.ACTIVE).values_list("job_id", "pk"))
        rows = []
        for job in jobs:
            rows.append(
                {
                    "id": job.pk,
                    "name": job.name,
                    "task_type": job.task_type,
                    "status": job.status,
                    "team": job.team.name,
                    "project": None if job.hide_project else job.project.name,
                    "item_count": job.item_count,
                    "available": queue.available_count(job=job, worker=worker) if job.status == "active" else 0,
                    "answered": job.answered,  # type: ignore[attr-defined]
                    "active_task": active.get(job.pk),
                    "time_limit_s": job.time_limit_s,
                }
            )
        return Response({"count": len(rows), "results": rows})


urlpatterns = [
    path("labeling-jobs/<id:pk>/next-task/", NextTaskApi.as_view(), name="labeling-job-next-task"),
    path("labeling-tasks/<id:pk>/answers/", TaskAnswerApi.as_view(), name="labeling-task-answers"),
    path("labeling-tasks/<id:pk>/skip/", TaskSkipApi.as_view(), name="labeling-task-skip"),
    path("labeling-work/", WorkListApi.as_view(), name="labeling-work-list"),
]
