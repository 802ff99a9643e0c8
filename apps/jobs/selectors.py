from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from apps.accounts.models import User
from apps.accounts.selectors import object_get_for_user, project_get_for_user, scope_to_user
from apps.jobs.models import Job


def job_list_for_user(*, user: User) -> QuerySet[Job]:
    return scope_to_user(Job.objects.select_related("project", "created_by"), user=user).defer("log", "error")


def job_get_for_user(*, user: User, pk: object) -> Job:
    return object_get_for_user(Job.objects.select_related("project", "created_by"), user=user, pk=pk)


def job_stream_allowed(*, user: User | None, job_id: int | None, project_id: int | None) -> bool:
    """May `user` follow the live updates of one job, or of every job of a project? The job's (or the project's)
    project among the user's (admins: every project). The persona half is the consumer's declaration
    (apps/jobs/consumers.py, apps/accounts/permissions.py)."""
    if user is None or not user.is_authenticated:
        return False
    try:
        if job_id is not None:
            job_get_for_user(user=user, pk=job_id)
        if project_id is not None:
            project_get_for_user(user=user, pk=project_id)
    except Http404:
        return False
    return True


def job_state(job: Job, *, with_log: bool = False) -> dict[str, Any]:
    """The JSON a browser or API client sees for a job."""
    data: dict[str, Any] = {
        "id": job.pk,
        "kind": job.kind,
        "title": job.title,
        "project": job.project_id,
        "status": job.status,
        "progress": round(job.progress, 4),
        "message": job.message,
        "error": job.error if job.status == "failed" else "",
        "result": job.result,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "updated_at": job.updated_at.isoformat() if job.updated_at else None,
    }
    if with_log:
        data["log"] = job.log
    return data
