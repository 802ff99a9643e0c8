"""Permission-matrix rows for the labeling routes of the jobs part (joined in tests/labeling/test_permissions.py).

Studio personas read jobs; data scientists and admins (MANAGE_LABELING) create, change and delete them. An item's
image is for studio members of the project and workers of the job's team (a Labeler of team A reaches A's images;
B's are a 404 for everyone outside project B)."""

from __future__ import annotations

import io
from typing import Any

from tests.permissions import (
    ADMIN,
    DS,
    LABELER,
    MLOPS,
    PROJECT,
    ListRow,
    Probe,
    Route,
    World,
    get,
    labeling_job_kw,
    post,
)

MANAGERS = frozenset({ADMIN, DS})  # personas.MANAGE_LABELING
STUDIO = frozenset({ADMIN, DS, MLOPS})
IMAGE_READERS = frozenset({ADMIN, DS, MLOPS, LABELER})  # studio members of A, and A's Labeler (a worker of team A)


def spare_labeling_job_kw(w: World, user: Any, side: str) -> dict[str, Any]:
    """A fresh job of project A for each probe of the delete route (project B's stays the world's)."""
    if side == "b":
        return {"pk": w.labeling_jobs["b"].pk}
    from apps.labeling.models import LabelingJob

    model = w.labeling_jobs["a"]
    spare = LabelingJob.objects.create(
        project=model.project,
        name=f"spare labels {LabelingJob.objects.count()}",
        task_type="text_classification",
        status="active",
        labels=["pos", "neg"],
        team=model.team,
        attribute_name="spare",
    )
    return {"pk": spare.pk}


def labeling_image_item_kw(w: World, user: Any, side: str) -> dict[str, Any]:
    """An item of the side's job whose data names a stored (re-encoded) image of that project."""
    from PIL import Image

    from apps.core.storage import project_path, storage
    from apps.labeling.images import clean_image
    from apps.labeling.models import LabelingItem

    job = w.labeling_jobs[side]
    path = project_path(job.project_id, "labeling", "uploads", "probe", "red.png")
    if not storage().exists(path):
        raw = io.BytesIO()
        Image.new("RGB", (8, 6), "red").save(raw, "PNG")
        storage().save(path, io.BytesIO(clean_image(raw.getvalue(), "red.png").data))
    data = {"image": path, "name": "red.png", "width": 8, "height": 6}
    if side == "b":  # B's state is compared before and after: its second item shows the image (data is not compared)
        item = LabelingItem.objects.get(job=job, position=1)
        LabelingItem.objects.filter(pk=item.pk).update(data=data)
    else:
        item = LabelingItem.objects.create(
            job=job, position=LabelingItem.objects.filter(job=job).count() + 100, data=data
        )
    return {"pk": item.pk}


ROUTES: dict[str, Route] = {
    # POST without a body: 400 naming the fields, nothing created
    "api:labeling-job-list": Route((get(STUDIO), post(MANAGERS, 400))),
    # on a spare job of project A per probe (DELETE removes it); PATCH with an empty body changes nothing
    "api:labeling-job-detail": Route(
        (get(STUDIO), Probe(MANAGERS, "patch", 200), Probe(MANAGERS, "delete", 204)),
        kwargs=spare_labeling_job_kw,
        foreign=PROJECT,
    ),
    "api:labeling-job-status": Route((post(MANAGERS, 400),), kwargs=labeling_job_kw, foreign=PROJECT),  # no status
    "api:labeling-item-image": Route((get(IMAGE_READERS),), kwargs=labeling_image_item_kw, foreign=PROJECT),
}

LISTS: list[ListRow] = [("api:labeling-job-list", "", None, "labeling_jobs")]
