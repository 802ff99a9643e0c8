"""Automated labeling: a generated tabular dataset (sklearn's make_classification) with simulated human labels at a
known 2 % noise rate reaches the target accuracy on held-out human labels, and its auto-labels are right against the
true labels; texts the same way with TF-IDF; claimed items stay with people; a second call makes round 2; a call too
early, or on a task type it does not fit, is refused in words; the threshold calibration on hand-worked cases."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from sklearn.datasets import make_classification

from apps.jobs.choices import JobStatus
from apps.labeling.models import AutoLabelRound, LabelingItem, LabelingJob
from apps.labeling.services import autolabel as al
from apps.labeling.services import export as ex
from tests.factories import labeling_job, make_version

pytestmark = pytest.mark.django_db

NOISE = 0.02
TARGET = 0.95


def label_by_people(job: LabelingJob, labels: dict[int, str]) -> None:
    """Items consolidated from three workers' answers, as the engine leaves them."""
    now = timezone.now()
    for position, label in labels.items():
        LabelingItem.objects.filter(job=job, position=position).update(
            consolidated={"label": label},
            confidence=0.9,
            label_source="human",
            labeled_at=now,
            seats_taken=3,
            answer_count=3,
            is_open=False,
        )


def noisy(truth: list[str], positions: range, classes: list[str], seed: int) -> dict[int, str]:
    rng = np.random.default_rng(seed)
    out = {}
    for p in positions:
        label = truth[p]
        if rng.random() < NOISE:
            label = next(c for c in classes if c != label)
        out[p] = label
    return out


@pytest.fixture
def fast_canvas(settings):  # type: ignore[no-untyped-def]
    settings.LABELING_AUTOLABEL_BUDGET_S = 30
    settings.LABELING_AUTOLABEL_MAX_TRIALS = 6
    settings.AUTOML_N_JOBS = 1
    return settings


def tabular_job(project: Any, user: Any, n: int = 1500) -> tuple[LabelingJob, list[str]]:
    X, y = make_classification(
        n_samples=n,
        n_features=6,
        n_informative=4,
        n_redundant=0,
        class_sep=2.0,
        flip_y=0.0,
        random_state=7,
    )
    columns = [f"f{i}" for i in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=columns)
    version = make_version(project, user, frame, name="generated")
    truth = ["yes" if v == 1 else "no" for v in y]
    job = labeling_job(
        project,
        created_by=user,
        task_type="tabular_classification",
        items=[{"row": {c: float(v) for c, v in zip(columns, row, strict=True)}} for row in X],
        labels=["yes", "no"],
        columns=columns,
        dataset_version=version,
        auto_labeling={"enabled": True, "target_accuracy": TARGET, "min_human_labels": 300},
    )
    return job, truth


def test_tabular_round_reaches_the_target_on_held_out_human_labels(project_a, ds_user, run_job, fast_canvas) -> None:
    job, truth = tabular_job(project_a, ds_user)
    humans = noisy(truth, range(800), ["yes", "no"], seed=1)
    label_by_people(job, humans)
    LabelingItem.objects.filter(job=job, position=900).update(seats_taken=1)  # a worker holds it
    round_ = al.autolabel_start(job=job, user=ds_user)
    assert round_.number == 1
    done = run_job(round_.job)
    assert done.status == JobStatus.SUCCEEDED, (done.message, done.error[-2000:])
    round_.refresh_from_db()
    assert round_.info["model"] == "canvas"
    assert round_.human_labels == 800
    assert round_.held_out == 240
    assert round_.threshold is not None
    assert round_.held_out_accuracy >= TARGET
    assert round_.info["support"] >= 20
    auto = list(LabelingItem.objects.filter(job=job, label_source="auto"))
    assert len(auto) == round_.auto_labeled
    assert round_.auto_labeled >= 600  # most of the 699 open, unclaimed items are clear cases
    right = sum(item.consolidated["label"] == truth[item.position] for item in auto)
    assert right / len(auto) >= TARGET  # checked against the true labels
    assert all(item.position >= 800 and not item.is_open and item.confidence >= round_.threshold for item in auto)
    claimed = LabelingItem.objects.get(job=job, position=900)
    assert (claimed.consolidated, claimed.label_source, claimed.seats_taken) == (None, "none", 1)
    assert LabelingItem.objects.filter(job=job, label_source="human").count() == 800
    job.refresh_from_db()
    assert job.stats["auto_labeling"] == [
        {
            "round": 1,
            "threshold": round_.threshold,
            "held_out_accuracy": round_.held_out_accuracy,
            "auto_labeled": round_.auto_labeled,
        }
    ]
    assert f"{round_.auto_labeled:,} item(s) labeled automatically" in done.message
    # every label says whether a person gave it
    flags = {}
    for line in b"".join(ex.export_stream(job=job, fmt="manifest").chunks).decode().splitlines():
        record = json.loads(line)
        flags[record["label-metadata"]["human-annotated"]] = (
            flags.get(record["label-metadata"]["human-annotated"], 0) + 1
        )
    assert flags == {"yes": 800, "no": round_.auto_labeled}
    # the next call is the next round: the claim on item 900 expired meanwhile, so the round may take it
    LabelingItem.objects.filter(job=job, position=900).update(seats_taken=0)
    second = al.autolabel_start(job=job, user=ds_user)
    assert second.number == 2
    assert run_job(second.job).status == JobStatus.SUCCEEDED
    second.refresh_from_db()
    assert second.held_out_accuracy is not None and second.held_out_accuracy >= TARGET
    labeled_now = LabelingItem.objects.filter(job=job, label_source="auto").count()
    assert second.auto_labeled == labeled_now - len(auto)  # item 900 and any left below round 1's threshold
    item = LabelingItem.objects.get(job=job, position=900)
    assert item.label_source == "auto" or (item.label_source == "none" and item.is_open)
    if LabelingItem.objects.filter(job=job, consolidated__isnull=True).exists():
        return
    with pytest.raises(ValidationError) as err:  # nothing left for a third round
        al.autolabel_start(job=job, user=ds_user)
    assert err.value.message_dict["auto_labeling"] == ["No unlabeled item is left that nobody is working on."]


def text_items(n: int, seed: int) -> tuple[list[dict[str, str]], list[str]]:
    rng = np.random.default_rng(seed)
    good = ["great", "love", "excellent", "happy", "wonderful", "superb", "friendly", "tasty"]
    bad = ["awful", "hate", "terrible", "sad", "broken", "rude", "cold", "bland"]
    neutral = ["the", "food", "service", "was", "and", "our", "table", "waiter", "today", "really"]
    items, truth = [], []
    for _ in range(n):
        label = "pos" if rng.random() < 0.5 else "neg"
        words = list(rng.choice(good if label == "pos" else bad, size=3)) + list(rng.choice(neutral, size=4))
        rng.shuffle(words)
        items.append({"text": " ".join(words)})
        truth.append(label)
    return items, truth


def test_text_round_labels_with_tfidf(project_a, ds_user, run_job, api_for) -> None:
    items, truth = text_items(1200, seed=5)
    job = labeling_job(
        project_a,
        created_by=ds_user,
        task_type="text_classification",
        items=items,
        labels=["pos", "neg"],
        auto_labeling={"min_human_labels": 300},
    )
    label_by_people(job, noisy(truth, range(800), ["pos", "neg"], seed=2))
    started = api_for(ds_user).post(f"/api/labeling-jobs/{job.pk}/autolabel/")
    assert started.status_code == 202, started.content
    round_ = AutoLabelRound.objects.get(pk=started.json()["id"], job_id=started.json()["job"])
    assert run_job(round_.job).status == JobStatus.SUCCEEDED
    round_.refresh_from_db()
    assert round_.info["model"] == "tfidf_logistic_regression"
    assert round_.held_out_accuracy is not None, round_.info
    assert round_.held_out_accuracy >= TARGET
    auto = list(LabelingItem.objects.filter(job=job, label_source="auto"))
    assert len(auto) == round_.auto_labeled >= 200
    assert sum(i.consolidated["label"] == truth[i.position] for i in auto) / len(auto) >= TARGET


def test_a_call_too_early_is_refused_in_words(project_a, ds_user, api_for) -> None:
    items, truth = text_items(60, seed=3)
    job = labeling_job(project_a, created_by=ds_user, task_type="text_classification", items=items, auto_labeling={})
    label_by_people(job, {p: truth[p] for p in range(40)})
    response = api_for(ds_user).post(f"/api/labeling-jobs/{job.pk}/autolabel/")
    assert response.status_code == 400
    assert response.json()["errors"]["auto_labeling"] == [
        "Automated labeling starts once 200 items have labels from people; this job has 40 so far. "
        "Let workers label 160 more, then try again."
    ]
    assert not AutoLabelRound.objects.filter(labeling_job=job).exists()


def test_other_task_types_and_closed_jobs_are_refused(project_a, ds_user) -> None:
    boxes = labeling_job(project_a, created_by=ds_user, task_type="bounding_box")
    with pytest.raises(ValidationError) as err:
        al.autolabel_start(job=boxes, user=ds_user)
    assert "tabular and text classification" in err.value.message_dict["task_type"][0]
    done = labeling_job(project_a, created_by=ds_user, task_type="text_classification", status="completed")
    with pytest.raises(ValidationError) as err:
        al.autolabel_start(job=done, user=ds_user)
    assert err.value.message_dict["status"] == ["The job is completed; automated labeling needs an open job."]


def test_one_label_only_is_refused(project_a, ds_user) -> None:
    job = labeling_job(
        project_a, created_by=ds_user, task_type="text_classification", n_items=5, auto_labeling={"min_human_labels": 2}
    )
    label_by_people(job, {0: "pos", 1: "pos", 2: "pos"})
    with pytest.raises(ValidationError) as err:
        al.autolabel_start(job=job, user=ds_user)
    assert "at least two labels" in err.value.message_dict["auto_labeling"][0]


def test_calibration_hand_worked() -> None:
    conf = np.array([0.99, 0.98, 0.97, 0.9, 0.8, 0.7])
    correct = np.array([1, 1, 1, 1, 0, 0], dtype=bool)
    # point accuracy (z = 0): the smallest threshold keeping accuracy >= 0.95 is 0.9 (4 of 4 right)
    assert al.calibrate_threshold(conf, correct, target=0.95, min_support=2, z=0.0) == {
        "threshold": 0.9,
        "accuracy": 1.0,
        "support": 4,
        "lower_bound": 1.0,
    }
    # with the Wilson lower bound (z = 1), 4 of 4 is not enough evidence for 95 % (bound 0.8)
    assert al.calibrate_threshold(conf, correct, target=0.95, min_support=2, z=1.0) is None
    assert al.wilson_lower(4, 4, 1.0) == pytest.approx(0.8)
    # a threshold takes every item of its confidence: the tie at 0.9 is never split
    tie = al.calibrate_threshold(
        np.array([0.9, 0.9, 0.8]), np.array([1, 0, 1], dtype=bool), target=0.5, min_support=1, z=0.0
    )
    assert tie is not None and (tie["threshold"], tie["support"]) == (0.8, 3)
    # too little support
    assert al.calibrate_threshold(conf, correct, target=0.95, min_support=5, z=0.0) is None


def test_a_round_is_due_only_when_enabled_and_enough_new_human_labels(project_a, ds_user, settings) -> None:
    settings.LABELING_AUTOLABEL_STEP = 10
    items, truth = text_items(60, seed=4)
    off = labeling_job(project_a, created_by=ds_user, task_type="text_classification", items=items, auto_labeling={})
    label_by_people(off, {p: truth[p] for p in range(30)})
    assert al.autolabel_start_if_due(job=off, user=ds_user) is None  # not enabled
    job = labeling_job(
        project_a,
        created_by=ds_user,
        task_type="text_classification",
        items=items,
        auto_labeling={"enabled": True, "min_human_labels": 20},
    )
    label_by_people(job, {p: truth[p] for p in range(15)})
    assert al.autolabel_start_if_due(job=job, user=ds_user) is None  # too early: no round, no error
    label_by_people(job, {p: truth[p] for p in range(15, 25)})
    first = al.autolabel_start_if_due(job=job, user=ds_user)
    assert first is not None and first.number == 1
    AutoLabelRound.objects.filter(pk=first.pk).update(human_labels=25)
    first.job.status = JobStatus.SUCCEEDED
    first.job.save(update_fields=["status"])
    label_by_people(job, {p: truth[p] for p in range(25, 30)})
    assert al.autolabel_start_if_due(job=job, user=ds_user) is None  # 5 new labels < step 10
    label_by_people(job, {p: truth[p] for p in range(30, 35)})
    second = al.autolabel_start_if_due(job=job, user=ds_user)
    assert second is not None and second.number == 2


def test_beat_and_a_consolidation_run_start_the_due_rounds(project_a, ds_user, run_job) -> None:
    """Automated labeling on repeats by itself: beat's periodic task (labeling.autolabel_rounds) starts the round of
    every due job, a job without it gets none; a consolidation run starts it too when due."""
    from apps.labeling import tasks
    from apps.labeling.services.consolidation import consolidation_start

    items, truth = text_items(60, seed=5)
    on = labeling_job(
        project_a,
        created_by=ds_user,
        task_type="text_classification",
        items=items,
        auto_labeling={"enabled": True, "min_human_labels": 20},
    )
    off = labeling_job(project_a, created_by=ds_user, task_type="text_classification", items=items, auto_labeling={})
    for job in (on, off):
        label_by_people(job, {p: truth[p] for p in range(25)})
    assert tasks.autolabel_rounds() == 1
    assert AutoLabelRound.objects.filter(labeling_job=on).count() == 1
    assert not AutoLabelRound.objects.filter(labeling_job=off).exists()
    assert tasks.autolabel_rounds() == 0  # the round is still running: nothing more is due

    again = labeling_job(
        project_a,
        created_by=ds_user,
        task_type="text_classification",
        items=items,
        auto_labeling={"enabled": True, "min_human_labels": 20},
    )
    label_by_people(again, {p: truth[p] for p in range(25)})
    consolidated = run_job(consolidation_start(job=again, user=ds_user))
    assert consolidated.status == JobStatus.SUCCEEDED, consolidated.error
    started = AutoLabelRound.objects.get(labeling_job=again)
    assert started.number == 1 and started.job is not None
