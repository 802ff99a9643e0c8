"""Export jobs end to end through a REAL Celery worker on the real broker and the real test database: a manifest
export started through the API is written to storage and downloads as the streamed export does; a "dataset" export
makes a new dataset version (the source columns plus label, confidence and human-annotated columns; a yes/no label as
written; lineage naming the labeling job) that Canvas can read."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from apps.datasets import selectors as data_selectors
from apps.datasets.models import DatasetVersion
from apps.jobs.choices import JobStatus
from apps.labeling.models import LabelingExport, LabelingItem
from tests.conftest import clean_project_storage, job_final
from tests.factories import labeling_job, make_version

pytestmark = [pytest.mark.worker, pytest.mark.xdist_group("worker")]


def _job(project, user):  # type: ignore[no-untyped-def]
    frame = pd.DataFrame(
        {
            "review": ["Great value", "Broke after a day", "=1+1 fine", "Average"],
            "stars": [5, 1, 4, 3],
        }
    )
    version = make_version(project, user, frame, name="reviews")
    job = labeling_job(
        project,
        created_by=user,
        task_type="text_classification",
        items=[{"text": t} for t in frame["review"]],
        labels=["yes", "no"],
        attribute_name="recommend",
        name="Would recommend",
        dataset_version=version,
        text_column="review",
    )
    for position, label, source, confidence in (
        (0, "yes", "human", 0.9),
        (1, "no", "auto", 0.97),
        (3, "no", "reviewed", 0.6),
    ):
        LabelingItem.objects.filter(job=job, position=position).update(
            consolidated={"label": label}, label_source=source, confidence=confidence, is_open=False
        )
    return job, version


def test_manifest_export_job_writes_the_file_it_streams(start_worker, api_for, ds_user, project_a) -> None:
    clean_project_storage(project_a)
    job, _ = _job(project_a, ds_user)
    api = api_for(ds_user)
    start_worker()
    started = api.post(f"/api/labeling-jobs/{job.pk}/exports/", {"format": "manifest"}, format="json")
    assert started.status_code == 202, started.content
    final = job_final(started.json()["job"])
    assert final.status == JobStatus.SUCCEEDED, (final.message, final.error[-2000:])
    assert "3 labeled item(s)" in final.message
    listed = api.get(f"/api/labeling-jobs/{job.pk}/exports/").json()["results"]
    assert [(e["id"], e["format"], e["status"], e["item_count"]) for e in listed] == [
        (started.json()["id"], "manifest", "succeeded", 3)
    ]
    download = api.get(listed[0]["download"])
    assert download.status_code == 200
    assert download["X-Content-Type-Options"] == "nosniff"
    stored = b"".join(download.streaming_content)
    streamed = b"".join(api.get(f"/api/labeling-jobs/{job.pk}/export/?format=manifest").streaming_content)
    assert stored == streamed
    records = [json.loads(line) for line in stored.decode().splitlines()]
    assert [(r["source"], r["recommend"], r["recommend-metadata"]["human-annotated"]) for r in records] == [
        ("Great value", 0, "yes"),
        ("Broke after a day", 1, "no"),
        ("Average", 1, "yes"),
    ]
    assert listed[0]["size_bytes"] == len(stored)


def test_dataset_export_job_makes_a_new_version_for_canvas(start_worker, api_for, ds_user, project_a) -> None:
    clean_project_storage(project_a)
    job, version = _job(project_a, ds_user)
    api = api_for(ds_user)
    start_worker()
    started = api.post(f"/api/labeling-jobs/{job.pk}/exports/", {"format": "dataset"}, format="json")
    assert started.status_code == 202, started.content
    final = job_final(started.json()["job"])
    assert final.status == JobStatus.SUCCEEDED, (final.message, final.error[-2000:])
    export = LabelingExport.objects.get(pk=started.json()["id"])
    new = DatasetVersion.objects.get(pk=export.dataset_version_id)
    assert new.dataset.name == "Would recommend labels"
    assert list(new.parents.all()) == [version]
    assert new.source["kind"] == "labeling"
    assert (new.source["labeling_job"], new.source["labeling_job_name"]) == (job.pk, "Would recommend")
    assert export.item_count == 3
    frame = data_selectors.version_frame(version=new, as_written=True)
    assert list(frame.columns) == [
        "review",
        "stars",
        "recommend",
        "recommend_confidence",
        "recommend_human_annotated",
    ]
    assert frame["review"].tolist() == ["Great value", "Broke after a day", "=1+1 fine", "Average"]
    assert frame["stars"].tolist() == [5, 1, 4, 3]
    labels = [None if pd.isna(v) else v for v in frame["recommend"]]
    assert labels == ["yes", "no", None, "no"]  # yes/no labels come back as written
    human = [None if pd.isna(v) else v for v in frame["recommend_human_annotated"]]
    assert human == ["yes", "no", None, "yes"]
    assert frame["recommend_confidence"].tolist()[:2] == [0.9, 0.97]
    download = api.get(f"/api/labeling-exports/{export.pk}/download/")
    assert download.status_code == 404
    assert "dataset version" in download.json()["detail"]
