"""The work queue (apps/labeling/services/queue.py) and its API (apps/labeling/api/queue.py): claims, seats, expiry,
answers, skips, and what a worker sees."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.labeling.choices import JobStatus, LabelSource, TaskStatus
from apps.labeling.models import LabelingItem, LabelingTask
from apps.labeling.services import queue
from apps.labeling.services.queue import QueueConflict, claims_expire, task_answer, task_claim_next, task_skip
from tests.factories import UserFactory, labeling_job

pytestmark = pytest.mark.django_db


def workers(project: Any, n: int) -> list[Any]:
    return [UserFactory(username=f"worker{i}", personas=["labeler"], projects=[project]) for i in range(n)]


def seats(job: Any) -> list[tuple[int, int, bool, int]]:
    return list(
        LabelingItem.objects.filter(job=job)
        .order_by("position")
        .values_list("position", "seats_taken", "is_open", "answer_count")
    )


def age(task: Any, seconds: float = 10_000) -> None:
    """Move a claim's time limit into the past."""
    LabelingTask.objects.filter(pk=task.pk).update(expires_at=timezone.now() - timedelta(seconds=seconds))


def test_table_names_in_the_claim_sql_are_the_models() -> None:
    assert LabelingItem._meta.db_table == "labeling_labelingitem"
    assert LabelingTask._meta.db_table == "labeling_labelingtask"


def test_claims_fill_items_in_position_order_and_close_them(project_a: Any) -> None:
    w = workers(project_a, 4)
    job = labeling_job(project_a, workers=w, n_items=2, workers_per_item=3)
    tasks = [task_claim_next(job=job, worker=x) for x in w]
    assert [t.item.position for t in tasks if t] == [0, 0, 0, 1]
    assert seats(job) == [(0, 3, False, 0), (1, 1, True, 0)]
    assert all(t.status == TaskStatus.ACTIVE for t in tasks if t)
    first = tasks[0]
    assert first is not None
    assert first.expires_at - first.claimed_at == timedelta(seconds=job.time_limit_s)


def test_a_held_claim_comes_back_no_hoarding(project_a: Any) -> None:
    (w,) = workers(project_a, 1)
    job = labeling_job(project_a, workers=[w], n_items=3)
    first = task_claim_next(job=job, worker=w)
    again = task_claim_next(job=job, worker=w)
    assert first is not None and again is not None and again.pk == first.pk
    assert LabelingTask.objects.filter(worker=w).count() == 1
    assert seats(job)[0] == (0, 1, True, 0)


def test_answer_then_next_then_nothing_left(project_a: Any) -> None:
    (w,) = workers(project_a, 1)
    job = labeling_job(project_a, workers=[w], n_items=2, workers_per_item=3)
    for position in (0, 1):
        task = task_claim_next(job=job, worker=w)
        assert task is not None and task.item.position == position
        done = task_answer(task=task, worker=w, answer={"label": "pos"}, time_spent_ms=1500)
        assert (done.status, done.answer, done.time_spent_ms) == (TaskStatus.ANSWERED, {"label": "pos"}, 1500)
    assert task_claim_next(job=job, worker=w) is None  # answered both; they stay open for two more workers
    assert seats(job) == [(0, 1, True, 1), (1, 1, True, 1)]


def test_no_double_answer_and_validation(project_a: Any) -> None:
    (w,) = workers(project_a, 1)
    job = labeling_job(project_a, workers=[w], n_items=1)
    task = task_claim_next(job=job, worker=w)
    assert task is not None
    with pytest.raises(ValidationError) as exc:
        task_answer(task=task, worker=w, answer={"label": "maybe"})
    assert "'maybe' is not one of the job's labels" in exc.value.message_dict["answer"][0]
    with pytest.raises(ValidationError) as exc:
        task_answer(task=task, worker=w, answer={"label": "pos"}, time_spent_ms="soon")
    assert "time_spent_ms" in exc.value.message_dict
    task_answer(task=task, worker=w, answer={"label": "pos"})
    with pytest.raises(QueueConflict) as conflict:
        task_answer(task=task, worker=w, answer={"label": "neg"})
    assert conflict.value.code == "answered"
    stored = LabelingTask.objects.get(pk=task.pk)
    assert stored.answer == {"label": "pos"} and stored.time_spent_ms is not None  # measured by the server
    assert seats(job) == [(0, 1, True, 1)]


def test_only_the_claiming_worker_answers(project_a: Any) -> None:
    w1, w2 = workers(project_a, 2)
    job = labeling_job(project_a, workers=[w1, w2], n_items=1)
    task = task_claim_next(job=job, worker=w1)
    assert task is not None
    from django.http import Http404

    with pytest.raises(Http404):
        task_answer(task=task, worker=w2, answer={"label": "pos"})
    with pytest.raises(Http404):
        task_skip(task=task, worker=w2)


def test_the_last_answer_consolidates_the_item(project_a: Any) -> None:
    w = workers(project_a, 3)
    job = labeling_job(project_a, workers=w, n_items=1, workers_per_item=3)
    for worker, label in zip(w, ["pos", "pos", "neg"], strict=True):
        task = task_claim_next(job=job, worker=worker)
        assert task is not None
        task_answer(task=task, worker=worker, answer={"label": label})
        if label == "pos" and worker is w[0]:
            assert LabelingItem.objects.get(job=job).consolidated is None
    item = LabelingItem.objects.get(job=job)
    assert (item.answer_count, item.seats_taken, item.is_open) == (3, 3, False)
    assert item.consolidated == {"label": "pos"} and item.label_source == LabelSource.HUMAN
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED  # every item labeled
    assert task_claim_next(job=job, worker=UserFactory()) is None  # a completed job: nothing left (204)


def test_expired_claims_go_to_others_and_may_come_back(project_a: Any) -> None:
    w1, w2, w3 = workers(project_a, 3)
    job = labeling_job(project_a, workers=[w1, w2, w3], n_items=1, workers_per_item=1)
    t1 = task_claim_next(job=job, worker=w1)
    assert t1 is not None
    assert task_claim_next(job=job, worker=w2) is None  # the one seat is taken
    age(t1)
    t2 = task_claim_next(job=job, worker=w2)  # the claim path sweeps the expired claim and gives the seat away
    assert t2 is not None and t2.item_id == t1.item_id
    assert LabelingTask.objects.get(pk=t1.pk).status == TaskStatus.EXPIRED
    assert seats(job) == [(0, 1, False, 0)]
    # w1's late answer: the seat went to w2 → 409 in words.
    with pytest.raises(QueueConflict) as conflict:
        task_answer(task=t1, worker=w1, answer={"label": "pos"})
    assert conflict.value.code == "claim_expired" and "another worker" in conflict.value.message
    # w2 skips: the seat is free again, and w1 (whose claim expired) may get the item again (same task row).
    task_skip(task=t2, worker=w2)
    back = task_claim_next(job=job, worker=w1)
    assert back is not None and back.pk == t1.pk and back.status == TaskStatus.ACTIVE
    assert task_claim_next(job=job, worker=w2) is None  # skipped: never offered to w2 again
    task_answer(task=back, worker=w1, answer={"label": "neg"})
    assert seats(job) == [(0, 1, False, 1)]


def test_a_late_answer_is_kept_when_the_seat_is_still_free(project_a: Any) -> None:
    (w,) = workers(project_a, 1)
    job = labeling_job(project_a, workers=[w], n_items=1, workers_per_item=2)
    task = task_claim_next(job=job, worker=w)
    assert task is not None
    age(task)
    assert claims_expire(job=job) == 1
    assert seats(job) == [(0, 0, True, 0)]
    done = task_answer(task=task, worker=w, answer={"label": "pos"})  # the seat is taken back
    assert done.status == TaskStatus.ANSWERED
    assert seats(job) == [(0, 1, True, 1)]


def test_claims_expire_everywhere_and_the_beat_task(project_a: Any, settings: Any) -> None:
    w = workers(project_a, 2)
    jobs = [labeling_job(project_a, workers=w, n_items=2) for _ in range(2)]
    tasks = [task_claim_next(job=j, worker=x) for j in jobs for x in w]
    fresh = tasks.pop()
    for task in tasks:
        age(task)
    from apps.labeling.tasks import claims_expire as beat_task

    assert "labeling-claims-expire" in settings.CELERY_BEAT_SCHEDULE
    assert beat_task() == 3
    assert claims_expire() == 0  # idempotent
    assert LabelingTask.objects.get(pk=fresh.pk).status == TaskStatus.ACTIVE
    assert [s[1] for j in jobs for s in seats(j)] == [0, 0, 1, 0]


def test_skip_releases_the_seat(project_a: Any) -> None:
    w1, w2 = workers(project_a, 2)
    job = labeling_job(project_a, workers=[w1, w2], n_items=2, workers_per_item=1)
    t = task_claim_next(job=job, worker=w1)
    assert t is not None and t.item.position == 0
    task_skip(task=t, worker=w1)
    task_skip(task=t, worker=w1)  # harmless twice
    assert seats(job)[0] == (0, 0, True, 0)
    nxt = task_claim_next(job=job, worker=w1)
    assert nxt is not None and nxt.item.position == 1
    other = task_claim_next(job=job, worker=w2)
    assert other is not None and other.item.position == 0
    task_answer(task=other, worker=w2, answer={"label": "pos"})
    with pytest.raises(QueueConflict):
        task_skip(task=other, worker=w2)
    with pytest.raises(QueueConflict) as conflict:
        task_answer(task=t, worker=w1, answer={"label": "pos"})
    assert conflict.value.code == "skipped"


@pytest.mark.parametrize("status", ["paused", "preparing", "cancelled", "failed"])
def test_a_job_not_open_for_work_is_refused(project_a: Any, status: str) -> None:
    (w,) = workers(project_a, 1)
    job = labeling_job(project_a, workers=[w], n_items=1, status=status)
    with pytest.raises(QueueConflict) as conflict:
        task_claim_next(job=job, worker=w)
    assert conflict.value.code == "job_not_active" and job.name in conflict.value.message


def test_gold_items_are_served_like_the_others(project_a: Any) -> None:
    (w,) = workers(project_a, 1)
    job = labeling_job(project_a, workers=[w], n_items=2)
    LabelingItem.objects.filter(job=job, position=0).update(is_gold=True, gold_answer={"label": "neg"})
    task = task_claim_next(job=job, worker=w)
    assert task is not None and task.item.position == 0


def test_auto_labeled_items_stay_closed_when_a_seat_is_released(project_a: Any) -> None:
    (w,) = workers(project_a, 1)
    job = labeling_job(project_a, workers=[w], n_items=1)
    task = task_claim_next(job=job, worker=w)
    assert task is not None
    LabelingItem.objects.filter(job=job).update(label_source=LabelSource.AUTO, is_open=False)
    task_skip(task=task, worker=w)
    assert seats(job) == [(0, 0, False, 0)]


def test_claim_and_answer_take_a_handful_of_queries(project_a: Any) -> None:
    w = workers(project_a, 2)
    job = labeling_job(project_a, workers=w, n_items=3)
    task_claim_next(job=job, worker=w[0])
    with CaptureQueriesContext(connection) as claim:
        task = task_claim_next(job=job, worker=w[1])
    assert task is not None
    assert len(claim) <= 8, [q["sql"] for q in claim]
    with CaptureQueriesContext(connection) as answer:
        task_answer(task=task, worker=w[1], answer={"label": "pos"})
    assert len(answer) <= 6, [q["sql"] for q in answer]


def test_available_count(project_a: Any) -> None:
    w1, w2 = workers(project_a, 2)
    job = labeling_job(project_a, workers=[w1, w2], n_items=3, workers_per_item=1)
    t = task_claim_next(job=job, worker=w1)
    assert t is not None
    assert queue.available_count(job=job, worker=w2) == 2
    assert queue.available_count(job=job, worker=w1) == 2


# --- the API ------------------------------------------------------------------------------------------------


def test_api_next_answer_skip_and_work_list(project_a: Any, api_for: Any) -> None:
    w1, w2 = workers(project_a, 2)
    job = labeling_job(
        project_a,
        workers=[w1, w2],
        n_items=2,
        instructions="Pick **one**. <script>alert(1)</script>",
        examples=[{"text": "great", "label": "pos", "note": ""}],
    )
    LabelingItem.objects.filter(job=job, position=0).update(
        suggestion={"label": "pos", "confidence": 0.9}, is_gold=True, gold_answer={"label": "neg"}
    )
    c1, c2 = api_for(w1), api_for(w2)
    next_url = reverse("api:labeling-job-next-task", kwargs={"pk": job.pk})
    r = c1.post(next_url)
    assert r.status_code == 200, r.content
    body = r.json()
    assert set(body) == {"id", "status", "item", "job", "claimed_at", "expires_at"}
    assert body["item"] == {
        "id": body["item"]["id"],
        "data": {"text": "a fine day"},
        "suggestion": {"label": "pos", "confidence": 0.9},
    }
    assert body["job"]["labels"] == ["pos", "neg"] and body["job"]["task_type"] == "text_classification"
    assert body["job"]["time_limit_s"] == 600 and body["job"]["examples"][0]["text"] == "great"
    assert "<script>" not in body["job"]["instructions_html"]
    assert "gold" not in r.content.decode() and "Alpha" not in r.content.decode()
    assert c1.post(next_url).json()["id"] == body["id"]  # the same claim back
    answers_url = reverse("api:labeling-task-answers", kwargs={"pk": body["id"]})
    # Bad input: 400 naming the field.
    r = c1.post(answers_url, {"answer": {"label": "maybe"}}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "invalid" and "maybe" in r.json()["errors"]["answer"][0]
    r = c1.post(answers_url, {"time_spent_ms": 10}, format="json")
    assert r.status_code == 400 and "answer" in r.json()["errors"] and "label" in r.json()["detail"]
    r = c1.post(answers_url, {"label": "pos", "time_spent_ms": -1}, format="json")
    assert r.status_code == 400 and "time_spent_ms" in r.json()["errors"]
    # Another worker's task is a 404.
    assert c2.post(answers_url, {"label": "pos"}, format="json").status_code == 404
    # The DESIGN's short form.
    r = c1.post(answers_url, {"label": "pos", "time_spent_ms": 2100}, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["answer"] == {"label": "pos"} and r.json()["time_spent_ms"] == 2100 and r.json()["item"]
    r = c1.post(answers_url, {"answer": {"label": "neg"}}, format="json")
    assert r.status_code == 409 and r.json()["code"] == "answered" and r.json()["detail"]
    # w2 claims item 0 (one seat of three taken by w1's answer) and skips it.
    r = c2.post(next_url)
    assert r.status_code == 200 and r.json()["item"]["id"] == body["item"]["id"]
    assert set(r.json()["item"]) == {"id", "data", "suggestion"}  # others' answers, gold: never shown
    skip_url = reverse("api:labeling-task-skip", kwargs={"pk": r.json()["id"]})
    assert c2.post(skip_url).status_code == 204
    r = c2.post(next_url)
    assert r.status_code == 200 and r.json()["item"]["data"] == {"text": "a fine day"}
    # The work list.
    work = c1.get(reverse("api:labeling-work-list")).json()
    assert work["count"] == 1
    (row,) = work["results"]
    assert row["id"] == job.pk and row["project"] == "Alpha" and row["answered"] == 1
    assert row["available"] == 1 and row["active_task"] is None  # item 1 (w2 holds one of its three seats)


def test_api_paused_job_is_409_and_nothing_left_is_204(project_a: Any, api_for: Any) -> None:
    (w,) = workers(project_a, 1)
    job = labeling_job(project_a, workers=[w], n_items=1, status="paused")
    url = reverse("api:labeling-job-next-task", kwargs={"pk": job.pk})
    r = api_for(w).post(url)
    assert r.status_code == 409 and r.json()["code"] == "job_not_active" and "paused" in r.json()["detail"]
    job.status = "active"
    job.save()
    task = api_for(w).post(url).json()
    api_for(w).post(reverse("api:labeling-task-skip", kwargs={"pk": task["id"]}))
    r = api_for(w).post(url)
    assert r.status_code == 204 and r.content == b""


def test_api_hide_project_and_other_teams(project_a: Any, project_b: Any, api_for: Any) -> None:
    (w,) = workers(project_a, 1)
    hidden = labeling_job(project_a, workers=[w], n_items=1, hide_project=True, name="Sentiment")
    other = labeling_job(project_b, n_items=1, name="Bravo secret labels")
    client = api_for(w)
    work = client.get(reverse("api:labeling-work-list"))
    assert work.status_code == 200
    assert [r["id"] for r in work.json()["results"]] == [hidden.pk]
    assert work.json()["results"][0]["project"] is None
    assert "Alpha" not in work.content.decode() and "Bravo" not in work.content.decode()
    claim = client.post(reverse("api:labeling-job-next-task", kwargs={"pk": hidden.pk}))
    assert claim.status_code == 200 and "Alpha" not in claim.content.decode()
    answered = client.post(
        reverse("api:labeling-task-answers", kwargs={"pk": claim.json()["id"]}), {"label": "neg"}, format="json"
    )
    assert answered.status_code == 201 and "Alpha" not in answered.content.decode()
    assert client.post(reverse("api:labeling-job-next-task", kwargs={"pk": other.pk})).status_code == 404
