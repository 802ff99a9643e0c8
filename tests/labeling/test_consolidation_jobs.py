"""The `labeling.consolidate` Job end to end on a REAL Celery worker and the real test database: started through the
API (202 → job), Dawid–Skene over more items than one write chunk, statistics read back through the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.jobs.choices import JobStatus as RunStatus
from apps.labeling.choices import JobStatus, LabelSource, TaskStatus
from apps.labeling.models import LabelingItem, LabelingTask
from apps.labeling.services.consolidation import BULK_CHUNK
from tests.conftest import job_final
from tests.factories import UserFactory, labeling_job

pytestmark = [pytest.mark.worker, pytest.mark.xdist_group("worker")]


def test_a_consolidation_runs_on_a_real_worker(start_worker, api_for, ds_user, project_a) -> None:
    n = BULK_CHUNK + 150
    workers = [UserFactory(username=name, personas=["labeler"], projects=[project_a]) for name in ("ann", "ben", "cat")]
    job = labeling_job(project_a, workers=workers, items=[{"text": f"text {i}"} for i in range(n)])
    truth = ["pos" if i % 3 else "neg" for i in range(n)]
    flip = {"pos": "neg", "neg": "pos"}
    now = timezone.now()
    tasks = []
    items = list(job.items.order_by("position"))
    for item in items:
        t = truth[item.position]
        answers = {
            "ann": t,  # reliable
            "ben": flip[t] if item.position % 10 in (0, 1, 2, 3) else t,  # careless: wrong four times in ten
            "cat": flip[t] if item.position % 10 in (0, 4, 5, 6) else t,  # careless too, and wrong with ben
        }
        for worker in workers:
            tasks.append(
                LabelingTask(
                    job=job,
                    item=item,
                    worker=worker,
                    status=TaskStatus.ANSWERED,
                    answer={"label": answers[worker.username]},
                    claimed_at=now,
                    expires_at=now + timedelta(minutes=5),
                    answered_at=now,
                    time_spent_ms=4000,
                )
            )
    LabelingTask.objects.bulk_create(tasks, batch_size=2000)
    LabelingItem.objects.filter(job=job).update(answer_count=3, seats_taken=3, is_open=False)
    api = api_for(ds_user)
    start_worker()
    r = api.post(f"/api/labeling-jobs/{job.pk}/consolidate/")
    assert r.status_code == 202, r.content
    run = job_final(r.json()["job"], timeout=180)
    assert run.status == RunStatus.SUCCEEDED, (run.message, run.error[-2000:])
    assert f"Consolidated {n:,} items from {3 * n:,} answers" in run.message
    job.refresh_from_db()
    assert job.labeled_count == n and job.status == JobStatus.COMPLETED
    labels = dict(job.items.values_list("position", "consolidated"))
    # ben and cat are both wrong on every tenth item (a wrong majority there); Dawid–Skene follows ann
    assert {job.items.get(position=10).consolidation_info["votes"][flip[truth[10]]]} == {2}
    assert sum(labels[i]["label"] != truth[i] for i in range(n)) == 0
    assert set(job.items.values_list("label_source", flat=True)) == {LabelSource.HUMAN}
    stats = api.get(f"/api/labeling-jobs/{job.pk}/stats/").json()
    workers_stats = {row["worker"]: row for row in stats["workers"]}
    assert workers_stats["ann"]["reliability"] > 0.95
    assert workers_stats["ben"]["reliability"] < 0.7 and workers_stats["cat"]["reliability"] < 0.7
    assert workers_stats["ann"]["agreement"] == 1.0
    assert workers_stats["cat"]["agreement"] == pytest.approx(0.6, abs=0.01)
    assert workers_stats["ann"]["median_time_s"] == 4.0
    assert stats["progress"]["labeled"] == n and stats["progress"]["answers"] == 3 * n
    assert stats["labels"] == {"pos": truth.count("pos"), "neg": truth.count("neg")}
    assert 0 < stats["agreement"]["krippendorff_alpha"] < 1
    assert stats["consolidate_job"] == {"id": run.pk, "status": "succeeded"}
    # the raw answers are untouched
    assert LabelingTask.objects.filter(job=job, worker__username="cat", answer={"label": "neg"}).count() == sum(
        (flip[truth[i]] if i % 10 in (0, 4, 5, 6) else truth[i]) == "neg" for i in range(n)
    )
