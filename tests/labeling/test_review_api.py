"""The quality API: items with consolidated labels and raw answers (filters, paging, pinned query count), stats with
live progress, review (accept, adjust, refusals naming the field), consolidation start; studio only."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.labeling.choices import JobStatus, LabelSource, ReviewStatus
from apps.labeling.models import LabelingJob
from apps.labeling.services import queue
from tests.factories import UserFactory, labeling_job

pytestmark = pytest.mark.django_db


def labeled_job(project: Any, n_items: int = 3, **fields: Any) -> tuple[LabelingJob, list[Any]]:
    workers = [UserFactory(username=f"w{i}", personas=["labeler"], projects=[project]) for i in range(3)]
    job = labeling_job(project, workers=workers, n_items=n_items, **fields)
    for k, worker in enumerate(workers):
        while (task := queue.task_claim_next(job=job, worker=worker)) is not None:
            label = "neg" if (k == 2 and task.item.position == 0) else "pos"
            queue.task_answer(task=task, worker=worker, answer={"label": label}, time_spent_ms=1500 + k)
            job.refresh_from_db()
    return job, workers


def test_items_list_shows_consolidated_labels_and_every_answer(api_for, ds_user, project_a):
    job, _ = labeled_job(project_a)
    r = api_for(ds_user).get(f"/api/labeling-jobs/{job.pk}/items/")
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 3
    first = body["results"][0]
    assert first["position"] == 0 and first["data"] == {"text": "a fine day"}
    assert first["consolidated"] == {"label": "pos"}
    assert first["confidence"] == pytest.approx(2 / 3, abs=1e-6)
    assert first["label_source"] == "human" and first["review_status"] == "none"
    assert [(a["worker"], a["answer"], a["time_spent_ms"]) for a in first["answers"]] == [
        ("w0", {"label": "pos"}, 1500),
        ("w1", {"label": "pos"}, 1501),
        ("w2", {"label": "neg"}, 1502),
    ]
    # least confident first
    r = api_for(ds_user).get(f"/api/labeling-jobs/{job.pk}/items/?ordering=confidence&limit=1")
    assert r.json()["count"] == 3 and [i["position"] for i in r.json()["results"]] == [0]
    assert r.json()["next"]


def test_items_filters_and_bad_values(api_for, ds_user, project_a):
    job, _ = labeled_job(project_a, review_required=True)
    api = api_for(ds_user)
    item = job.items.get(position=1)
    assert api.post(f"/api/labeling-items/{item.pk}/review/", {}, format="json").status_code == 200
    pending = api.get(f"/api/labeling-jobs/{job.pk}/items/?review_status=pending").json()
    assert sorted(i["position"] for i in pending["results"]) == [0, 2]
    accepted = api.get(f"/api/labeling-jobs/{job.pk}/items/?review_status=accepted&label_source=human").json()
    assert [i["position"] for i in accepted["results"]] == [1]
    assert accepted["results"][0]["reviewed_by"] == ds_user.username
    none = api.get(f"/api/labeling-jobs/{job.pk}/items/?label_source=reviewed").json()
    assert none["count"] == 0
    for query, field in (
        ("review_status=maybe", "review_status"),
        ("label_source=x", "label_source"),
        ("ordering=pk", "ordering"),
        ("limit=0", "limit"),
    ):
        r = api.get(f"/api/labeling-jobs/{job.pk}/items/?{query}")
        assert r.status_code == 400, query
        assert field in r.json()["errors"], (query, r.json())


@pytest.mark.parametrize("n_items", [2, 8])
def test_items_query_count_is_pinned(api_for, ds_user, project_a, n_items):
    job, _ = labeled_job(project_a, n_items=n_items)
    api = api_for(ds_user)
    url = f"/api/labeling-jobs/{job.pk}/items/"
    api.get(url)
    with CaptureQueriesContext(connection) as queries:
        r = api.get(url)
    assert r.status_code == 200 and r.json()["count"] == n_items
    assert len(queries) == 7, [q["sql"] for q in queries]


def test_review_adjust_accept_and_refusals(api_for, ds_user, project_a, mlops_user):
    job, _ = labeled_job(project_a, n_items=2, review_required=True)
    api = api_for(ds_user)
    first, second = job.items.order_by("position")
    r = api.post(f"/api/labeling-items/{first.pk}/review/", {"answer": {"label": "neg"}}, format="json")
    assert r.status_code == 200
    body = r.json()
    assert body["consolidated"] == {"label": "neg"} and body["confidence"] == 1.0
    assert (body["label_source"], body["review_status"]) == ("reviewed", "adjusted")
    assert body["consolidation_info"]["previous"] == {"label": "pos"}
    assert len(body["answers"]) == 3  # the workers' answers stay
    bad = api.post(f"/api/labeling-items/{second.pk}/review/", {"answer": {"label": "maybe"}}, format="json")
    assert bad.status_code == 400 and "answer" in bad.json()["errors"]
    assert "maybe" in bad.json()["errors"]["answer"][0]  # the value comes back as written
    shape = api.post(f"/api/labeling-items/{second.pk}/review/", {"answer": "neg"}, format="json")
    assert shape.status_code == 400 and "answer" in shape.json()["errors"]
    second.refresh_from_db()
    assert second.review_status == ReviewStatus.PENDING and second.label_source == LabelSource.HUMAN
    job.refresh_from_db()
    assert job.status == JobStatus.ACTIVE
    assert api_for(mlops_user).post(f"/api/labeling-items/{second.pk}/review/", {}, format="json").status_code == 403
    ok = api.post(f"/api/labeling-items/{second.pk}/review/", {}, format="json")
    assert ok.status_code == 200 and ok.json()["review_status"] == "accepted"
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED


def test_stats_before_and_after_work(api_for, ds_user, project_a, mlops_user):
    job = labeling_job(project_a, n_items=2)
    r = api_for(mlops_user).get(f"/api/labeling-jobs/{job.pk}/stats/")
    assert r.status_code == 200
    body = r.json()
    assert body["agreement"] == {"fleiss_kappa": None, "krippendorff_alpha": None, "level": "nominal"}
    assert body["progress"] == {"items": 2, "answers": 0, "labeled": 0, "auto": 0, "reviewed": 0, "pending_review": 0}
    assert body["workers"] == [] and body["consolidate_job"] is None and body["status"] == "active"
    job2, _ = labeled_job(project_a)
    started = api_for(ds_user).post(f"/api/labeling-jobs/{job2.pk}/consolidate/")
    assert started.status_code == 202
    body = api_for(ds_user).get(f"/api/labeling-jobs/{job2.pk}/stats/").json()
    assert body["progress"]["answers"] == 9 and body["progress"]["labeled"] == 3  # live, before the run
    assert body["consolidate_job"] == {"id": started.json()["job"], "status": "queued"}


def test_consolidate_refuses_a_job_still_preparing(api_for, ds_user, project_a):
    job = labeling_job(project_a, n_items=1, status="preparing")
    r = api_for(ds_user).post(f"/api/labeling-jobs/{job.pk}/consolidate/")
    assert r.status_code == 400 and "status" in r.json()["errors"]


def test_a_labeler_sees_none_of_it(api_for, labeler_user, project_a):
    job, _ = labeled_job(project_a)
    job.team.members.add(labeler_user)
    api = api_for(labeler_user)
    item = job.items.first()
    for url in (f"/api/labeling-jobs/{job.pk}/items/", f"/api/labeling-jobs/{job.pk}/stats/"):
        r = api.get(url)
        assert r.status_code == 403 and "w0" not in r.content.decode()
    assert api.post(f"/api/labeling-items/{item.pk}/review/", {}, format="json").status_code == 403
    assert api.post(f"/api/labeling-jobs/{job.pk}/consolidate/").status_code == 403
