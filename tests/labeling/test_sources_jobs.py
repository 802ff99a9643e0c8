"""Labeling jobs prepared by a REAL Celery worker on the real broker and test database: a text job on a dataset's
rows and an image job from a zip, both created through the API (201 → `labeling.prepare` → active with items)."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from apps.jobs.choices import JobStatus
from apps.labeling.models import LabelingJob
from tests.conftest import clean_project_storage, job_final
from tests.factories import make_version
from tests.labeling.labeling_data import TEXTS, image_bytes, team_of, text_frame, upload, zip_of

pytestmark = [pytest.mark.worker, pytest.mark.xdist_group("worker")]


def test_text_and_image_jobs_are_prepared_by_a_real_worker(
    start_worker: Any, api_for: Any, ds_user: Any, labeler_user: Any, project_a: Any
) -> None:
    clean_project_storage(project_a)
    version = make_version(project_a, ds_user, text_frame(), name="reviews")
    team = team_of(project_a, labeler_user)
    api = api_for(ds_user)
    start_worker()
    text = api.post(
        reverse("api:labeling-job-list"),
        {
            "project": project_a.pk,
            "name": "Sentiment",
            "task_type": "text_classification",
            "team": team.pk,
            "dataset_version": version.pk,
            "text_column": "review",
            "labels": ["pos", "neg"],
            "gold": {"0": {"label": "pos"}},
        },
        format="json",
    )
    assert text.status_code == 201, text.json()
    pets = zip_of({f"pets/{i}.png": image_bytes("PNG", (10 + i, 5)) for i in range(3)})
    images = api.post(
        reverse("api:labeling-job-list"),
        {
            "project": project_a.pk,
            "name": "Pets",
            "task_type": "bounding_box",
            "team": team.pk,
            "labels": '["cat", "dog"]',
            "file": upload("pets.zip", pets),
        },
        format="multipart",
    )
    assert images.status_code == 201, images.json()
    for created, count in ((text.json(), 5), (images.json(), 3)):
        job = job_final(created["prepare_job"], timeout=120)
        assert job.status == JobStatus.SUCCEEDED, (job.message, job.error[-2000:])
        labeling = LabelingJob.objects.get(pk=created["id"])
        assert (labeling.status, labeling.item_count, labeling.items.count()) == ("active", count, count)
    sentiment = LabelingJob.objects.get(pk=text.json()["id"])
    assert [i.data["text"] for i in sentiment.items.order_by("position")] == TEXTS
    assert list(sentiment.items.filter(is_gold=True).values_list("position", "gold_answer")) == [(0, {"label": "pos"})]
    boxes = LabelingJob.objects.get(pk=images.json()["id"])
    assert boxes.workers_per_item == 5
    assert [(i.data["name"], i.data["width"]) for i in boxes.items.order_by("position")] == [
        ("pets/0.png", 10),
        ("pets/1.png", 11),
        ("pets/2.png", 12),
    ]
    first = boxes.items.order_by("position").first()
    assert first is not None
    image = api_for(labeler_user).get(reverse("api:labeling-item-image", kwargs={"pk": first.pk}))
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
