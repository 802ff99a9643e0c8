"""Consolidation on the database: per item as the last answer arrives (through the queue), and the whole job
(the `labeling.consolidate` Job run in this process; tests/labeling/test_consolidation_jobs.py uses a real worker)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.jobs.choices import JobStatus as RunStatus
from apps.labeling.choices import JobStatus, LabelSource, ReviewStatus, TaskStatus
from apps.labeling.engine.agreement import fleiss_kappa, krippendorff_alpha
from apps.labeling.models import LabelingItem, LabelingJob, LabelingTask
from apps.labeling.services import queue
from apps.labeling.services.consolidation import consolidation_start, item_consolidate
from apps.labeling.services.review import item_review
from tests.factories import UserFactory, labeling_job

pytestmark = pytest.mark.django_db


def labelers(project: Any, n: int, prefix: str = "w") -> list[Any]:
    return [UserFactory(username=f"{prefix}{i}", personas=["labeler"], projects=[project]) for i in range(n)]


def work_through(job: LabelingJob, workers: list[Any], answer_of: Callable[[Any, LabelingItem], dict]) -> None:
    """Every worker claims and answers until the queue has nothing left for them."""
    for worker in workers:
        while (task := queue.task_claim_next(job=job, worker=worker)) is not None:
            queue.task_answer(task=task, worker=worker, answer=answer_of(worker, task.item), time_spent_ms=2000)
            job.refresh_from_db()


def add_answers(job: LabelingJob, rows: list[tuple[int, Any, dict]], seconds: int = 3) -> None:
    """Answered tasks written directly: (item position, worker, answer)."""
    items = {i.position: i for i in job.items.all()}
    now = timezone.now()
    LabelingTask.objects.bulk_create(
        [
            LabelingTask(
                job=job,
                item=items[pos],
                worker=worker,
                status=TaskStatus.ANSWERED,
                answer=answer,
                claimed_at=now,
                expires_at=now + timedelta(minutes=10),
                answered_at=now + timedelta(seconds=k),
                time_spent_ms=seconds * 1000,
            )
            for k, (pos, worker, answer) in enumerate(rows)
        ]
    )
    for item in items.values():
        item.answer_count = item.tasks.filter(status=TaskStatus.ANSWERED).count()
        item.save(update_fields=["answer_count"])


def test_an_item_is_consolidated_when_its_last_answer_arrives(project_a):
    w = labelers(project_a, 3)
    job = labeling_job(project_a, workers=w, n_items=2, labels=["pos", "neg"])
    votes = {"w0": "pos", "w1": "neg", "w2": "pos"}
    first = job.items.get(position=0)
    for worker in w[:2]:
        task = queue.task_claim_next(job=job, worker=worker)
        assert task.item_id == first.pk
        queue.task_answer(task=task, worker=worker, answer={"label": votes[worker.username]})
    first.refresh_from_db()
    assert first.consolidated is None and first.label_source == LabelSource.NONE  # 2 of 3 answers: not yet
    task = queue.task_claim_next(job=job, worker=w[2])
    queue.task_answer(task=task, worker=w[2], answer={"label": "pos"})
    first.refresh_from_db()
    assert first.consolidated == {"label": "pos"}
    assert first.confidence == pytest.approx(2 / 3, abs=1e-6)
    assert first.consolidation_info == {
        "method": "weighted_majority",
        "votes": {"pos": 2, "neg": 1},
        "posterior": {"pos": pytest.approx(2 / 3, abs=1e-6), "neg": pytest.approx(1 / 3, abs=1e-6)},
    }
    assert first.label_source == LabelSource.HUMAN and first.labeled_at is not None
    assert first.review_status == ReviewStatus.NONE
    job.refresh_from_db()
    assert job.labeled_count == 1 and job.status == JobStatus.ACTIVE
    # the raw answers stay as given
    assert sorted(first.tasks.values_list("worker__username", "answer")) == [
        ("w0", {"label": "pos"}),
        ("w1", {"label": "neg"}),
        ("w2", {"label": "pos"}),
    ]


def test_the_job_completes_when_every_item_is_labeled(project_a):
    w = labelers(project_a, 3)
    job = labeling_job(project_a, workers=w, n_items=3)
    work_through(job, w, lambda worker, item: {"label": "neg" if item.position == 1 else "pos"})
    job.refresh_from_db()
    assert job.labeled_count == 3
    assert job.status == JobStatus.COMPLETED
    labels = dict(job.items.values_list("position", "consolidated"))
    assert labels == {0: {"label": "pos"}, 1: {"label": "neg"}, 2: {"label": "pos"}}
    assert set(job.items.values_list("confidence", flat=True)) == {1.0}


def test_review_required_holds_completion_until_reviewed(project_a, ds_user):
    w = labelers(project_a, 3)
    job = labeling_job(project_a, workers=w, n_items=2, review_required=True)
    work_through(job, w, lambda worker, item: {"label": "pos"})
    job.refresh_from_db()
    assert job.labeled_count == 2 and job.status == JobStatus.ACTIVE
    assert set(job.items.values_list("review_status", flat=True)) == {ReviewStatus.PENDING}
    first, second = job.items.order_by("position")
    item_review(item=first, user=ds_user)  # accept
    first.refresh_from_db()
    assert (first.review_status, first.label_source, first.consolidated) == (
        ReviewStatus.ACCEPTED,
        LabelSource.HUMAN,
        {"label": "pos"},
    )
    assert first.reviewed_by == ds_user
    job.refresh_from_db()
    assert job.status == JobStatus.ACTIVE  # the second still waits
    item_review(item=second, user=ds_user, answer={"label": "neg"})  # adjust
    second.refresh_from_db()
    assert second.consolidated == {"label": "neg"} and second.confidence == 1.0
    assert (second.label_source, second.review_status) == (LabelSource.REVIEWED, ReviewStatus.ADJUSTED)
    assert second.consolidation_info["previous"] == {"label": "pos"}
    assert second.tasks.filter(answer={"label": "pos"}).count() == 3  # the workers' answers stay
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED


def test_review_refuses_a_bad_answer_and_accepting_nothing(project_a, ds_user):
    from django.core.exceptions import ValidationError

    job = labeling_job(project_a, n_items=1)
    item = job.items.get()
    with pytest.raises(ValidationError) as missing:
        item_review(item=item, user=ds_user)
    assert "answer" in missing.value.message_dict
    with pytest.raises(ValidationError) as bad:
        item_review(item=item, user=ds_user, answer={"label": "<script>"})
    assert "answer" in bad.value.message_dict
    item.refresh_from_db()
    assert item.consolidated is None and item.review_status == ReviewStatus.NONE
    # a reviewer may label an item nobody answered: it counts as labeled
    item_review(item=item, user=ds_user, answer={"label": "neg"})
    job.refresh_from_db()
    assert job.labeled_count == 1 and job.status == JobStatus.COMPLETED


def test_worker_weights_from_the_last_consolidation_turn_the_vote(project_a):
    w = labelers(project_a, 3)
    job = labeling_job(project_a, workers=w, n_items=1)
    job.stats = {
        "workers": [
            {"worker": "w0", "reliability": 0.3},
            {"worker": "w1", "reliability": 0.95},
            {"worker": "w2", "reliability": 0.4},
        ]
    }
    job.save(update_fields=["stats"])
    answers = {"w0": "pos", "w1": "neg", "w2": "pos"}
    work_through(job, w, lambda worker, item: {"label": answers[worker.username]})
    item = job.items.get()
    assert item.consolidated == {"label": "neg"}  # 0.95 against 0.3 + 0.4
    assert item.confidence == pytest.approx(0.95 / 1.65, abs=1e-6)


def test_a_single_worker_gives_no_confidence(project_a):
    w = labelers(project_a, 1)
    job = labeling_job(project_a, workers=w, n_items=1, workers_per_item=1)
    work_through(job, w, lambda worker, item: {"label": "neg"})
    item = job.items.get()
    assert (item.consolidated, item.confidence) == ({"label": "neg"}, 0.0)


@pytest.mark.parametrize(
    ("task_type", "answers", "expected", "confidence"),
    [
        (
            "text_classification_multi",
            [{"labels": ["pos"]}, {"labels": ["pos", "neg"]}, {"labels": []}],
            {"labels": ["pos"]},
            pytest.approx(2 / 3, abs=1e-6),  # pos 2/3 yes, neg 1/3 yes: mean of max(p, 1 - p)
        ),
        (
            "named_entity",
            [{"spans": [{"start": 0, "end": 12, "label": "PER"}]}] * 2 + [{"spans": []}],
            {"spans": [{"start": 0, "end": 12, "label": "PER", "confidence": pytest.approx(2 / 3, abs=1e-4)}]},
            pytest.approx(2 / 3, abs=1e-4),
        ),
        (
            "pairwise_preference",
            [{"preferred": 0, "reason": ""}, {"preferred": 0, "reason": "kinder"}, {"preferred": 1, "reason": ""}],
            {"preferred": 0, "scores": [pytest.approx(0.6, abs=0.1), pytest.approx(0.4, abs=0.1)]},
            pytest.approx(2 / 3, abs=1e-6),
        ),
        (
            "rating",
            [
                {"ratings": {"helpfulness": 4, "humour": 1}},
                {"ratings": {"helpfulness": 4, "humour": 3}},
                {"ratings": {"helpfulness": 4, "humour": 2}},
            ],
            {
                "ratings": {
                    "helpfulness": {"mean": 4.0, "std": 0.0, "n": 3},
                    "humour": {"mean": 2.0, "std": pytest.approx(0.8165, abs=1e-4), "n": 3},
                }
            },
            pytest.approx(1 - 0.8165 / 2 / 2, abs=1e-3),
        ),
        ("rewrite", [{"text": "Hi"}, {"text": "Hello"}, {"text": "Hey"}], {"texts": ["Hi", "Hello", "Hey"]}, None),
    ],
)
def test_item_consolidation_of_other_task_types(project_a, task_type, answers, expected, confidence):
    w = labelers(project_a, 3)
    job = labeling_job(project_a, workers=w, n_items=1, task_type=task_type)
    by_worker = dict(zip(["w0", "w1", "w2"], answers, strict=True))
    work_through(job, w, lambda worker, item: by_worker[worker.username])
    item = job.items.get()
    assert item.consolidated == expected
    assert item.confidence == confidence
    assert item.label_source == LabelSource.HUMAN


def _pooled(project: Any) -> tuple[LabelingJob, list[str], dict[str, Any]]:
    """The engine test's case on the database: 50 items; R with good G1, G2 on items 0..29, R with careless C1, C2
    on 30..49, who are both wrong on items 30 and 37. Items 0..3 are gold."""
    users = {
        name: UserFactory(username=name, personas=["labeler"], projects=[project])
        for name in ("R", "G1", "G2", "C1", "C2")
    }
    truth = ["pos" if i % 2 else "neg" for i in range(50)]
    job = labeling_job(project, workers=list(users.values()), items=[{"text": f"text {i}"} for i in range(50)])
    flip = {"pos": "neg", "neg": "pos"}
    wrong = {
        "G1": {3, 12, 21},
        "G2": {8, 17, 26},
        "C1": {30, 33, 34, 37, 40, 41, 44, 47},
        "C2": {30, 31, 35, 37, 38, 42, 45, 48},
    }
    rows = []
    for i, t in enumerate(truth):
        for name in ("R", "G1", "G2") if i < 30 else ("R", "C1", "C2"):
            rows.append((i, users[name], {"label": flip[t] if i in wrong.get(name, set()) else t}))
    add_answers(job, rows)
    LabelingItem.objects.filter(job=job, position__lt=4).update(is_gold=True)
    for item in job.items.filter(position__lt=4):
        item.gold_answer = {"label": truth[item.position]}
        item.save(update_fields=["gold_answer"])
    for item in job.items.all():  # as the queue would have: the majority, item by item
        item_consolidate(item=item)
    return job, truth, users


def test_the_consolidation_job_follows_the_reliable_worker(project_a, ds_user, run_job):
    job, truth, _ = _pooled(project_a)
    majority = dict(job.items.values_list("position", "consolidated"))
    assert [i for i in range(50) if majority[i]["label"] != truth[i]] == [30, 37]  # the per-item vote is wrong there
    answers_before = sorted(LabelingTask.objects.filter(job=job).values_list("pk", "answer"))
    run = consolidation_start(job=job, user=ds_user)
    assert run_job(run).status == RunStatus.SUCCEEDED
    job.refresh_from_db()
    labels = dict(job.items.values_list("position", "consolidated"))
    assert [i for i in range(50) if labels[i]["label"] != truth[i]] == []  # Dawid–Skene: right on all 50
    item30 = job.items.get(position=30)
    assert item30.consolidation_info["method"] == "dawid_skene"
    assert item30.consolidation_info["votes"] == {"pos": 2, "neg": 1}
    assert item30.confidence == pytest.approx(item30.consolidation_info["posterior"]["neg"]) and item30.confidence > 0.9
    assert sorted(LabelingTask.objects.filter(job=job).values_list("pk", "answer")) == answers_before
    stats = job.stats
    workers = {row["worker"]: row for row in stats["workers"]}
    assert workers["R"]["items"] == 50 and workers["C1"]["items"] == 20
    assert workers["R"]["reliability"] > 0.95 > 0.65 > workers["C1"]["reliability"]
    assert workers["R"]["agreement"] == 1.0  # R agrees with every consolidated label
    assert workers["C1"]["agreement"] == pytest.approx(12 / 20)
    assert workers["R"]["median_time_s"] == 3.0
    assert (workers["R"]["gold_items"], workers["R"]["gold_accuracy"]) == (4, 1.0)
    assert (workers["G1"]["gold_items"], workers["G1"]["gold_accuracy"]) == (4, 0.75)  # G1 is wrong on item 3
    assert workers["C1"]["gold_items"] == 0 and workers["C1"]["gold_accuracy"] is None
    assert stats["labels"] == {"pos": 25, "neg": 25}
    assert stats["progress"] == {
        "items": 50,
        "answers": 150,
        "labeled": 50,
        "auto": 0,
        "reviewed": 0,
        "pending_review": 0,
    }
    # agreement over the same answers, computed here from the tasks
    units: dict[int, list[str]] = {}
    for item_id, answer in LabelingTask.objects.filter(job=job).values_list("item_id", "answer"):
        units.setdefault(item_id, []).append(answer["label"])
    table = [[u.count("pos"), u.count("neg")] for u in units.values()]
    assert stats["agreement"]["level"] == "nominal"
    assert stats["agreement"]["fleiss_kappa"] == pytest.approx(fleiss_kappa(table), abs=1e-6)
    assert stats["agreement"]["krippendorff_alpha"] == pytest.approx(krippendorff_alpha(list(units.values())), abs=1e-6)
    assert 0 < stats["agreement"]["krippendorff_alpha"] < 1
    assert job.status == JobStatus.COMPLETED and job.labeled_count == 50 and job.consolidated_at is not None
    # the next item consolidated by the queue uses the reliabilities the job wrote
    from apps.labeling.services.consolidation import worker_weights

    assert worker_weights(job)["R"] == workers["R"]["reliability"]


def test_the_consolidation_job_keeps_a_reviewers_label(project_a, ds_user, run_job):
    job, _, _ = _pooled(project_a)
    item = job.items.get(position=5)  # truth pos, all three said pos
    item_review(item=item, user=ds_user, answer={"label": "neg"})
    assert run_job(consolidation_start(job=job, user=ds_user)).status == RunStatus.SUCCEEDED
    item.refresh_from_db()
    assert (item.consolidated, item.label_source, item.confidence) == ({"label": "neg"}, LabelSource.REVIEWED, 1.0)
    job.refresh_from_db()
    assert job.stats["progress"]["reviewed"] == 1


def test_a_second_start_returns_the_queued_consolidation(project_a, ds_user):
    job = labeling_job(project_a, n_items=1)
    first = consolidation_start(job=job, user=ds_user)
    assert consolidation_start(job=job, user=ds_user).pk == first.pk
    job.refresh_from_db()
    assert job.consolidate_job_id == first.pk


def test_preference_jobs_get_a_model_leaderboard(project_a, ds_user, run_job):
    w = labelers(project_a, 3)
    data = [
        {"prompt": "p", "responses": [{"text": "a", "model": "alpha"}, {"text": "b", "model": "beta"}]},
        {"prompt": "p", "responses": [{"text": "b", "model": "beta"}, {"text": "a", "model": "alpha"}]},
        {"prompt": "p", "responses": [{"text": "g", "model": "gamma"}, {"text": "b", "model": "beta"}]},
        {"prompt": "p", "responses": [{"text": "x", "model": ""}, {"text": "a", "model": "alpha"}]},
    ]
    job = labeling_job(project_a, workers=w, task_type="pairwise_preference", items=data)
    # alpha beats beta 3 of 3 on item 0 and 2 of 3 on item 1; beta beats gamma 3 of 3; item 3 has an unnamed model
    prefs = {0: [0, 0, 0], 1: [1, 1, 0], 2: [1, 1, 1], 3: [0, 1, 1]}
    add_answers(
        job, [(pos, w[k], {"preferred": p, "reason": ""}) for pos, ps in prefs.items() for k, p in enumerate(ps)]
    )
    assert run_job(consolidation_start(job=job, user=ds_user)).status == RunStatus.SUCCEEDED
    job.refresh_from_db()
    board = job.stats["models"]
    assert [row["model"] for row in board] == ["alpha", "beta", "gamma"]
    rows = {row["model"]: row for row in board}
    assert (rows["alpha"]["wins"], rows["alpha"]["comparisons"]) == (5, 6)
    assert (rows["beta"]["wins"], rows["beta"]["comparisons"]) == (4, 9)
    assert (rows["gamma"]["wins"], rows["gamma"]["comparisons"]) == (0, 3)
    assert job.stats["agreement"]["level"] == "nominal" and job.stats["agreement"]["fleiss_kappa"] is not None
    assert job.items.get(position=1).consolidated["preferred"] == 1


def test_rating_and_ranking_agreement_levels(project_a, ds_user, run_job):
    w = labelers(project_a, 3)
    job = labeling_job(project_a, workers=w, task_type="rating", n_items=2, scale=5)
    points = [[(5, 1), (4, 1), (5, 2)], [(1, 5), (2, 5), (1, 4)]]
    add_answers(
        job,
        [
            (pos, w[k], {"ratings": {"helpfulness": h, "humour": u}})
            for pos, ps in enumerate(points)
            for k, (h, u) in enumerate(ps)
        ],
    )
    assert run_job(consolidation_start(job=job, user=ds_user)).status == RunStatus.SUCCEEDED
    job.refresh_from_db()
    agreement = job.stats["agreement"]
    assert agreement["level"] == "interval" and agreement["fleiss_kappa"] is None
    units = [[5, 4, 5], [1, 1, 2], [1, 2, 1], [5, 5, 4]]
    assert agreement["krippendorff_alpha"] == pytest.approx(krippendorff_alpha(units, "interval"), abs=1e-6)
    assert job.items.get(position=0).consolidated["ratings"]["helpfulness"]["mean"] == pytest.approx(14 / 3, abs=1e-4)
    # every worker's ratings are within 1 point of the consolidated means
    assert {row["agreement"] for row in job.stats["workers"]} == {1.0}

    ranking = labeling_job(project_a, workers=w, task_type="ranking", n_items=1)
    add_answers(
        ranking,
        [(0, w[0], {"ranking": [0, 1, 2]}), (0, w[1], {"ranking": [0, 1, 2]}), (0, w[2], {"ranking": [1, 0, 2]})],
    )
    assert run_job(consolidation_start(job=ranking, user=ds_user)).status == RunStatus.SUCCEEDED
    ranking.refresh_from_db()
    assert ranking.stats["agreement"]["level"] == "ordinal"
    assert ranking.items.get().consolidated["ranking"] == [0, 1, 2]
    assert [row["model"] for row in ranking.stats["models"]] == ["m1", "m2"]  # the third response has no model name
