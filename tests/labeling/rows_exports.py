"""Permission-matrix rows for the labeling routes of the exports part (joined in tests/labeling/test_permissions.py).

Reading an export (streamed, the list of export jobs, a finished export's file) is for studio personas; starting an
export job or a round of automated labeling needs MANAGE_LABELING (data scientists and admins). A Labeler reaches
none of it. Probes are harmless: the world's jobs have no human labels, so a round is refused (400, too early), and an
export started without a format is a 400."""

from __future__ import annotations

from typing import Any

from tests.permissions import (
    ADMIN,
    DS,
    PROJECT,
    STUDIO,
    ListRow,
    Route,
    World,
    get,
    labeling_job_kw,
    post,
)

MANAGERS = frozenset({ADMIN, DS})  # personas.MANAGE_LABELING


def labeling_export_kw(w: World, user: Any, side: str) -> dict[str, Any]:
    """A finished manifest export of the side's labeling job, with its stored file (made once per world)."""
    from django.core.files.base import ContentFile

    from apps.core.storage import project_path, storage
    from apps.labeling.models import LabelingExport

    cache: dict[str, Any] = w.__dict__.setdefault("_labeling_exports", {})
    if side not in cache:
        job = w.labeling_jobs[side]
        name = storage().save(
            project_path(job.project_id, "labeling", str(job.pk), "exports", f"probe-{side}.manifest"),
            ContentFile(b"{}\n"),
        )
        cache[side] = LabelingExport.objects.create(
            project=job.project, labeling_job=job, format="manifest", file=name, size_bytes=3, item_count=0
        )
    return {"pk": cache[side].pk}


ROUTES: dict[str, Route] = {
    "api:labeling-job-export": Route((get(STUDIO),), kwargs=labeling_job_kw, foreign=PROJECT),
    "api:labeling-job-exports": Route((get(STUDIO), post(MANAGERS, 400)), kwargs=labeling_job_kw, foreign=PROJECT),
    "api:labeling-export-download": Route((get(STUDIO),), kwargs=labeling_export_kw, foreign=PROJECT),
    "api:labeling-job-autolabel": Route((post(MANAGERS, 400),), kwargs=labeling_job_kw, foreign=PROJECT),
}
LISTS: list[ListRow] = []
