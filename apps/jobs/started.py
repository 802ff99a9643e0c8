"""Every action that starts a job answers with a redirect (Post/Redirect/Get) to the page the user clicked on, with
the job in the query (`?job=<id>`) and the card that holds the form as the anchor; that card includes
templates/jobs/_started.html, the job's live progress where the click happened. `started_job` reads the job back,
scoped to the user, so a hand-edited id shows nothing rather than someone else's job."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from django.http import Http404, HttpResponseRedirect

from apps.jobs.models import Job
from apps.jobs.selectors import job_get_for_user

QUERY_PARAM = "job"


def job_started_url(url: str, job: Job, anchor: str = "", **query: Any) -> str:
    """`url` with `?job=<id>` (and any other query) and `#anchor`."""
    params = urlencode({**query, QUERY_PARAM: job.pk})
    return f"{url}{'&' if '?' in url else '?'}{params}" + (f"#{anchor}" if anchor else "")


def redirect_to_started_job(url: str, job: Job, anchor: str = "", **query: Any) -> HttpResponseRedirect:
    return HttpResponseRedirect(job_started_url(url, job, anchor, **query))


def started_job(request: Any, *, kinds: Iterable[str] | None = None, project_id: int | None = None) -> Job | None:
    """The job named by `?job=` if the user may see it (and it is of one of `kinds`, in `project_id`), else None."""
    raw = request.GET.get(QUERY_PARAM, "")
    if not raw.isdigit():
        return None
    try:
        job = job_get_for_user(user=request.user, pk=int(raw))
    except Http404:
        return None
    if kinds is not None and job.kind not in set(kinds):
        return None
    if project_id is not None and job.project_id != project_id:
        return None
    return job
