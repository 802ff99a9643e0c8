"""Reads of Ground Truth, scoped by user. Two ways in:

- the studio (data scientists, MLOps engineers, admins): a job is seen through its project, as every asset
  (apps.accounts.selectors.scope_to_user);
- workers (the Labeler persona): a job is seen through its work team, whether the worker is a project member (an
  employees team) or an outside person invited to one vendor team only. A worker sees the jobs of their teams and
  only their own tasks. Another team's job or another worker's task is a 404 (never 403).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from apps.accounts.selectors import object_get_for_user, scope_to_user, user_is_admin
from apps.labeling.choices import JobStatus
from apps.labeling.models import LabelingItem, LabelingJob, LabelingTask

# Jobs a worker may see in "My work": open ones, and paused or completed ones (their own answers stay listed).
WORKER_STATUSES = (JobStatus.ACTIVE, JobStatus.PAUSED, JobStatus.COMPLETED)


def job_list_for_user(*, user: Any) -> QuerySet[LabelingJob]:
    return scope_to_user(LabelingJob.objects.select_related("project", "team", "dataset_version"), user=user)


def job_get_for_user(*, user: Any, pk: object) -> LabelingJob:
    return object_get_for_user(LabelingJob.objects.select_related("project", "team"), user=user, pk=pk)


def item_get_for_user(*, user: Any, pk: object) -> LabelingItem:
    return object_get_for_user(
        LabelingItem.objects.select_related("job", "job__project"), user=user, pk=pk, project_field="job__project"
    )


def job_list_for_worker(*, user: Any) -> QuerySet[LabelingJob]:
    """The jobs of the teams `user` belongs to (admins: every job), in the statuses a worker sees."""
    if not getattr(user, "is_authenticated", False):
        return LabelingJob.objects.none()
    jobs = LabelingJob.objects.select_related("project", "team").filter(status__in=WORKER_STATUSES)
    if user_is_admin(user):
        return jobs
    return jobs.filter(team__members=user)


def job_get_for_worker(*, user: Any, pk: object) -> LabelingJob:
    try:
        return job_list_for_worker(user=user).get(pk=int(pk))  # type: ignore[call-overload]
    except (LabelingJob.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such labeling job.") from exc


def task_get_for_worker(*, user: Any, pk: object) -> LabelingTask:
    """The worker's own task (admins: their own too: a task is one person's claim)."""
    if not getattr(user, "is_authenticated", False):
        raise Http404("No such labeling task.")
    try:
        return LabelingTask.objects.select_related("job", "item").get(pk=int(pk), worker=user)  # type: ignore[call-overload]
    except (LabelingTask.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such labeling task.") from exc
