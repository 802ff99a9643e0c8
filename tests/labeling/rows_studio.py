"""Permission-matrix rows for the labeling routes of the studio part (joined in tests/labeling/test_permissions.py).

Studio pages: every studio persona reads the jobs, a job's page and its review page (USE_STUDIO); creating a job,
the actions (pause, resume, cancel, consolidate, export, auto-label), the instructions preview and reviewing need
MANAGE_LABELING (data scientists and admins: MLOps 403). A Labeler reaches none of them (403); another project's job
is a 404 and nothing of it changes."""

from __future__ import annotations

from tests.permissions import ADMIN, DS, PROJECT, STUDIO, ListRow, Route, get, labeling_job_kw, post

MANAGERS = frozenset({ADMIN, DS})  # personas.MANAGE_LABELING

ROUTES: dict[str, Route] = {
    "labeling:list": Route((get(STUDIO),)),
    # POST without data: the form's errors (400), nothing created
    "labeling:create": Route((get(MANAGERS), post(MANAGERS, 400))),
    "labeling:preview": Route((post(MANAGERS, 200),)),
    "labeling:detail": Route((get(STUDIO),), kwargs=labeling_job_kw, foreign=PROJECT),
    # no action named: back to the job's page with the refusal as a message, nothing changes
    "labeling:action": Route((post(MANAGERS, 302),), kwargs=labeling_job_kw, foreign=PROJECT),
    # no item named: back to the review page with the refusal as a message
    "labeling:review": Route((get(STUDIO), post(MANAGERS, 302)), kwargs=labeling_job_kw, foreign=PROJECT),
}
# The jobs page lists the current project's jobs only (an admin's too), so it has no row here: the API's list is
# checked in rows_jobs.py, and tests/labeling/test_studio_views.py checks the page shows no other project's job.
LISTS: list[ListRow] = []
