"""Automated labeling (active learning) for tabular and text classification jobs, one round per call.

A round (Job `labeling.autolabel`):
1. takes the items people labeled (consolidated by the engine, or set by a reviewer; never earlier auto-labels);
2. holds out a share of them (stratified, seeded by the round number) and trains on the rest: tabular rows with the
   Canvas engine (apps/automl/engine.build, a quick build inside LABELING_AUTOLABEL_BUDGET_S); texts with TF-IDF
   (words and word pairs) and a logistic regression (the Canvas engine types a column as text only when its values
   are long, so short texts would be read as categories there);
3. predicts the held-out items and calibrates a confidence threshold: the smallest one for which the held-out items
   at or above it are labeled right often enough: the Wilson lower bound (z = LABELING_AUTOLABEL_Z) of their accuracy
   reaches the target accuracy (job.auto_labeling["target_accuracy"], default 0.95) with at least
   LABELING_AUTOLABEL_MIN_SUPPORT of them. The held-out accuracy above the threshold is what the round reports;
4. labels the unlabeled, unclaimed items whose confidence reaches the threshold, atomically per item (an item that
   a worker claimed meanwhile, seats_taken > 0, is left to people): consolidated, confidence, label_source "auto",
   is_open False. The rest stay open for people. The next call trains again on the human labels of that moment.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, F, FloatField, Max, Value, When
from django.utils import timezone

from apps.accounts.models import User
from apps.jobs.choices import ACTIVE_STATUSES
from apps.jobs.runtime import JobContext, JobError
from apps.jobs.services import job_start
from apps.labeling.choices import JobStatus, LabelSource, ReviewStatus, TaskType
from apps.labeling.models import AutoLabelRound, LabelingItem, LabelingJob

AUTOLABEL_KIND = "labeling.autolabel"
TASK_TYPES = (TaskType.TABULAR_CLASSIFICATION, TaskType.TEXT_CLASSIFICATION)
HUMAN_SOURCES = (LabelSource.HUMAN, LabelSource.REVIEWED)
CHUNK = 500


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def auto_options(job: LabelingJob) -> dict[str, Any]:
    """The job's automated-labeling options over the settings' defaults."""
    options = dict(job.auto_labeling or {})
    return {
        "target_accuracy": float(options.get("target_accuracy") or 0.95),
        "min_human_labels": int(
            options.get("min_human_labels") or _setting("LABELING_AUTOLABEL_MIN_HUMAN_LABELS", 200)
        ),
        "holdout_share": float(options.get("holdout_share") or _setting("LABELING_AUTOLABEL_HOLDOUT_SHARE", 0.3)),
        "min_support": int(options.get("min_support") or _setting("LABELING_AUTOLABEL_MIN_SUPPORT", 20)),
        "z": float(_setting("LABELING_AUTOLABEL_Z", 1.0)),
    }


def human_items(job: LabelingJob) -> Any:
    return (
        LabelingItem.objects.filter(job_id=job.pk, label_source__in=HUMAN_SOURCES, consolidated__has_key="label")
        .exclude(review_status=ReviewStatus.PENDING)
        .order_by("position")
    )


def open_items(job: LabelingJob) -> Any:
    """Items nobody has claimed or answered and nothing labeled: the ones a round may label."""
    return LabelingItem.objects.filter(
        job_id=job.pk,
        consolidated__isnull=True,
        seats_taken=0,
        answer_count=0,
        is_open=True,
        is_gold=False,
    )


def autolabel_start(*, job: LabelingJob, user: User | None) -> AutoLabelRound:
    """Start the next round, or ValidationError saying in words why not yet (task type, status, too few human
    labels, nothing left to label, a round still running)."""
    if job.task_type not in TASK_TYPES:
        raise ValidationError(
            {
                "task_type": "Automated labeling is for tabular and text classification (one label per item); this "
                f"is a {TaskType(job.task_type).label.lower()} job."
            }
        )
    if job.status not in (JobStatus.ACTIVE, JobStatus.PAUSED):
        raise ValidationError(
            {"status": f"The job is {JobStatus(job.status).label.lower()}; automated labeling needs an open job."}
        )
    options = auto_options(job)
    with transaction.atomic():
        locked = LabelingJob.objects.select_for_update().get(pk=job.pk)
        running = AutoLabelRound.objects.filter(labeling_job=locked, job__status__in=ACTIVE_STATUSES).first()
        if running is not None:
            raise ValidationError({"auto_labeling": f"Round {running.number} is still running; wait for it to end."})
        humans = human_items(locked).count()
        if humans < options["min_human_labels"]:
            raise ValidationError(
                {
                    "auto_labeling": f"Automated labeling starts once {options['min_human_labels']:,} items have "
                    f"labels from people; this job has {humans:,} so far. Let workers label "
                    f"{options['min_human_labels'] - humans:,} more, then try again."
                }
            )
        distinct = {row.get("label") for row in human_items(locked).values_list("consolidated", flat=True)[:100_000]}
        if len(distinct) < 2:
            raise ValidationError(
                {"auto_labeling": "Every label people gave so far is the same; a model needs at least two labels."}
            )
        if not open_items(locked).exists():
            raise ValidationError({"auto_labeling": "No unlabeled item is left that nobody is working on."})
        number = (AutoLabelRound.objects.filter(labeling_job=locked).aggregate(n=Max("number"))["n"] or 0) + 1
        round_ = AutoLabelRound.objects.create(
            labeling_job=locked, number=number, target_accuracy=options["target_accuracy"]
        )
        round_.job = job_start(
            kind=AUTOLABEL_KIND,
            project=locked.project,
            created_by=user,
            params={"round": round_.pk},
            title=f"Automated labeling of {locked.name}, round {number}"[:200],
        )
        round_.save(update_fields=["job"])
    return round_


def autolabel_start_if_due(*, job: LabelingJob, user: User | None) -> AutoLabelRound | None:
    """For a job with auto_labeling["enabled"] (e.g. after a consolidation run): start the next round when one is
    due: enough human labels, and since the previous round at least LABELING_AUTOLABEL_STEP more of them. Returns the
    round started, or None (not enabled, not due, or refused for a reason autolabel_start gives)."""
    if not (job.auto_labeling or {}).get("enabled") or job.task_type not in TASK_TYPES:
        return None
    last = AutoLabelRound.objects.filter(labeling_job=job).order_by("-number").first()
    if last is not None:
        step = int(_setting("LABELING_AUTOLABEL_STEP", 100))
        if human_items(job).count() < last.human_labels + step:
            return None
    try:
        return autolabel_start(job=job, user=user)
    except ValidationError:
        return None


def autolabel_rounds_due() -> int:
    """Periodic (beat, with the claims sweep): start the next round of every open job that has automated labeling
    on and is due (autolabel_start_if_due). Returns how many rounds were started."""
    jobs = LabelingJob.objects.filter(
        status=JobStatus.ACTIVE, task_type__in=list(TASK_TYPES), auto_labeling__enabled=True
    ).select_related("created_by")
    return sum(autolabel_start_if_due(job=job, user=job.created_by) is not None for job in jobs)


# --- calibration (plain) ---------------------------------------------------------------------------------------


def wilson_lower(correct: int, n: int, z: float) -> float:
    """The Wilson score interval's lower bound of a proportion (`correct` of `n`)."""
    if n == 0:
        return 0.0
    p = correct / n
    denominator = 1 + z * z / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - spread) / denominator


def calibrate_threshold(
    confidence: np.ndarray, correct: np.ndarray, *, target: float, min_support: int, z: float
) -> dict[str, Any] | None:
    """The smallest confidence threshold t such that the held-out items with confidence >= t number at least
    `min_support` and the Wilson lower bound of their accuracy reaches `target`: {threshold, accuracy, support,
    lower_bound}; None when no threshold does."""
    order = np.argsort(-confidence, kind="stable")
    conf = confidence[order]
    hits = np.cumsum(correct[order].astype(int))
    best: dict[str, Any] | None = None
    n = len(conf)
    for k in range(1, n + 1):
        if k < n and conf[k] == conf[k - 1]:
            continue  # a threshold takes every item of the same confidence
        if k < min_support:
            continue
        lower = wilson_lower(int(hits[k - 1]), k, z)
        if lower >= target:
            best = {
                "threshold": float(conf[k - 1]),
                "accuracy": float(hits[k - 1] / k),
                "support": k,
                "lower_bound": round(lower, 6),
            }
    return best


# --- models ------------------------------------------------------------------------------------------------------


class _TextModel:
    """TF-IDF (words and word pairs) + multinomial logistic regression."""

    name = "tfidf_logistic_regression"

    def __init__(self, texts: list[str], labels: list[str]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        self.pipeline = make_pipeline(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, max_features=50_000),
            LogisticRegression(max_iter=2000, C=4.0),
        )
        self.pipeline.fit(texts, labels)
        self.classes = [str(c) for c in self.pipeline.classes_]

    def predict(self, data: list[dict[str, Any]]) -> tuple[list[str], np.ndarray]:
        proba = self.pipeline.predict_proba([str(d.get("text") or "") for d in data])
        return [self.classes[i] for i in proba.argmax(axis=1)], proba.max(axis=1)


class _CanvasModel:
    """A quick Canvas build on the rows (apps/automl/engine), the label as its target."""

    name = "canvas"

    def __init__(self, rows: list[dict[str, Any]], labels: list[str], *, seed: int, ctx: JobContext) -> None:
        from apps.automl import engine

        frame = pd.DataFrame.from_records([d.get("row") or {} for d in rows])
        self.target = _free_column([str(c) for c in frame.columns], "label")
        frame[self.target] = labels
        config = engine.BuildConfig(
            target=self.target,
            mode="quick",
            time_budget_s=float(_setting("LABELING_AUTOLABEL_BUDGET_S", 60)),
            max_trials=_setting("LABELING_AUTOLABEL_MAX_TRIALS", None),
            seed=seed,
            n_jobs=int(_setting("AUTOML_N_JOBS", 2)),
        )

        def progress(fraction: float, message: str, best: Any = None, trials: int = 0) -> None:
            ctx.progress(0.1 + 0.5 * float(fraction), f"Canvas: {message}")

        try:
            result = engine.build(frame, config, progress=progress)
        except engine.BuildError as exc:
            raise JobError(str(exc)) from exc
        self.model = result.model
        self.columns = list(frame.columns.drop(self.target))
        self.best = result.report.get("best")

    def predict(self, data: list[dict[str, Any]]) -> tuple[list[str], np.ndarray]:
        from apps.automl import engine

        frame = pd.DataFrame.from_records([d.get("row") or {} for d in data], columns=self.columns)
        out = engine.predict(self.model, frame, allow_extra=True)
        keys = [str(c) for c in self.model.classes]
        proba = np.array([[p[k] for k in keys] for p in out["probabilities"]], dtype=float)
        return [str(x) for x in out["predictions"]], proba.max(axis=1)


def _free_column(columns: list[str], base: str) -> str:
    name, n = base, 2
    while name in columns:
        name, n = f"{base}_{n}", n + 1
    return name


def _train(job: LabelingJob, data: list[dict[str, Any]], labels: list[str], *, seed: int, ctx: JobContext) -> Any:
    if job.task_type == TaskType.TABULAR_CLASSIFICATION:
        return _CanvasModel(data, labels, seed=seed, ctx=ctx)
    return _TextModel([str(d.get("text") or "") for d in data], labels)


def _split(labels: list[str], share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    index = np.arange(len(labels))
    counts = pd.Series(labels).value_counts()
    stratify = labels if int(counts.min()) >= 2 else None
    train, held = train_test_split(index, test_size=share, random_state=seed, stratify=stratify)
    return np.sort(train), np.sort(held)


# --- the round --------------------------------------------------------------------------------------------------


def _chunks(query: Any, chunk: int = CHUNK) -> Iterator[list[LabelingItem]]:
    last = -1
    while True:
        rows = list(query.filter(position__gt=last).only("id", "position", "data").order_by("position")[:chunk])
        if not rows:
            return
        yield rows
        last = rows[-1].position


def _label_items(round_: AutoLabelRound, ids: list[int], labels: list[str], confidences: list[float]) -> int:
    """Label these items if they are still unlabeled and unclaimed (one conditional UPDATE per label: a worker's
    claim in between makes seats_taken > 0 and the item is skipped). Returns how many were labeled."""
    now = timezone.now()
    info = {
        "method": "auto_labeling",
        "round": round_.number,
        "threshold": round_.threshold,
        "model": (round_.info or {}).get("model"),
    }
    labeled = 0
    by_label: dict[str, list[tuple[int, float]]] = {}
    for pk, label, confidence in zip(ids, labels, confidences, strict=True):
        by_label.setdefault(label, []).append((pk, round(float(confidence), 6)))
    for label, pairs in by_label.items():
        with transaction.atomic():
            labeled += LabelingItem.objects.filter(
                pk__in=[pk for pk, _ in pairs],
                consolidated__isnull=True,
                seats_taken=0,
                answer_count=0,
                is_open=True,
            ).update(
                consolidated={"label": label},
                confidence=Case(*[When(pk=pk, then=Value(c)) for pk, c in pairs], output_field=FloatField()),
                consolidation_info=info,
                label_source=LabelSource.AUTO,
                is_open=False,
                labeled_at=now,
            )
    return labeled


def autolabel_run_execute(ctx: JobContext) -> dict[str, Any]:
    round_ = (
        AutoLabelRound.objects.select_related("labeling_job")
        .filter(pk=ctx.params["round"], labeling_job__project_id=ctx.project_id)
        .first()
    )
    if round_ is None:
        raise JobError("The labeling job was deleted before this round ran.")
    if (round_.info or {}).get("done"):  # a redelivery after the round was recorded
        return {"round": round_.pk, "auto_labeled": round_.auto_labeled}
    job = round_.labeling_job
    options = auto_options(job)
    ctx.progress(0.02, "Reading the labels people gave", force=True)
    humans = list(human_items(job).values_list("data", "consolidated"))
    data = [d or {} for d, _ in humans]
    labels = [str((c or {}).get("label")) for _, c in humans]
    if len(set(labels)) < 2:
        raise JobError("Every label people gave is the same; a model needs at least two labels.")
    seed = round_.number
    train, held = _split(labels, options["holdout_share"], seed)
    ctx.progress(0.08, f"Training on {len(train):,} labels, {len(held):,} held out", force=True)
    model = _train(job, [data[i] for i in train], [labels[i] for i in train], seed=seed, ctx=ctx)
    ctx.progress(0.65, "Calibrating the confidence threshold on the held-out labels", force=True)
    predicted, confidence = model.predict([data[i] for i in held])
    correct = np.array([p == labels[i] for p, i in zip(predicted, held, strict=True)], dtype=bool)
    overall = float(correct.mean()) if len(correct) else None
    found = calibrate_threshold(
        confidence, correct, target=options["target_accuracy"], min_support=options["min_support"], z=options["z"]
    )
    info: dict[str, Any] = {
        "model": model.name,
        "canvas_candidate": getattr(model, "best", None),
        "train": len(train),
        "held_out_overall_accuracy": overall,
        "min_support": options["min_support"],
        "z": options["z"],
    }
    round_.human_labels = len(humans)
    round_.held_out = len(held)
    round_.target_accuracy = options["target_accuracy"]
    auto_labeled = 0
    if found is None:
        round_.threshold = None
        round_.held_out_accuracy = None
        info["reason"] = (
            f"No confidence threshold reaches {options['target_accuracy']:.0%} on at least "
            f"{options['min_support']} held-out labels (overall held-out accuracy "
            f"{(overall or 0):.1%}); every item stays with people. More human labels help."
        )
    else:
        round_.threshold = found["threshold"]
        round_.held_out_accuracy = found["accuracy"]
        info.update(support=found["support"], lower_bound=found["lower_bound"])
        round_.info = info
        candidates = open_items(job)
        total = max(1, candidates.count())
        seen = 0
        for rows in _chunks(candidates):
            ctx.check_cancelled()
            predicted, conf = model.predict([r.data or {} for r in rows])
            keep = [i for i, c in enumerate(conf) if c >= found["threshold"]]
            auto_labeled += _label_items(
                round_,
                [rows[i].pk for i in keep],
                [predicted[i] for i in keep],
                [float(conf[i]) for i in keep],
            )
            seen += len(rows)
            ctx.progress(0.7 + 0.25 * seen / total, f"Labeled {auto_labeled:,} of {seen:,} open items")
    info["done"] = True
    round_.info = info
    round_.auto_labeled = auto_labeled
    with transaction.atomic():
        round_.save(
            update_fields=[
                "human_labels",
                "held_out",
                "threshold",
                "target_accuracy",
                "held_out_accuracy",
                "auto_labeled",
                "info",
            ]
        )
        locked = LabelingJob.objects.select_for_update().get(pk=job.pk)
        stats = dict(locked.stats or {})
        rounds = [r for r in stats.get("auto_labeling") or [] if r.get("round") != round_.number]
        rounds.append(
            {
                "round": round_.number,
                "threshold": round_.threshold,
                "held_out_accuracy": round_.held_out_accuracy,
                "auto_labeled": auto_labeled,
            }
        )
        stats["auto_labeling"] = rounds
        LabelingJob.objects.filter(pk=job.pk).update(
            stats=stats, labeled_count=F("labeled_count") + auto_labeled, updated_at=timezone.now()
        )
    if found is None:
        ctx.final_message = f"Round {round_.number}: {info['reason']}"
    else:
        ctx.final_message = (
            f"Round {round_.number}: {auto_labeled:,} item(s) labeled automatically at confidence >= "
            f"{found['threshold']:.3f} ({found['accuracy']:.1%} right on {found['support']} held-out labels); "
            f"the rest stay with people."
        )
    return {
        "round": round_.pk,
        "number": round_.number,
        "auto_labeled": auto_labeled,
        "threshold": round_.threshold,
        "held_out_accuracy": round_.held_out_accuracy,
    }
