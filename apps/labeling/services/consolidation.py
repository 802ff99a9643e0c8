"""Consolidation: workers' answers → each item's consolidated label, confidence and info; and the job's quality
statistics (`LabelingJob.stats`, shape in LABELING.md).

Two paths:
- `item_consolidate`, fast and per item, called by the queue inside the answer's transaction once an item has all its
  answers: a weighted vote with the workers' current reliabilities (from the last consolidation Job), clustering
  for boxes and spans, Bradley–Terry for preferences and rankings, mean and spread for ratings;
- the Job `labeling.consolidate` (`consolidation_run_execute`): the whole job again, with Dawid–Skene EM for
  classification (worker confusion matrices estimated from every answer), agreement, per-worker and gold statistics
  and the model leaderboard of preference and ranking jobs. Raw answers (the tasks) are never written.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Hashable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.jobs.choices import ACTIVE_STATUSES
from apps.jobs.runtime import JobContext
from apps.jobs.services import job_start
from apps.labeling.choices import JobStatus, LabelSource, ReviewStatus, TaskStatus, TaskType
from apps.labeling.engine import agreement as agreement_lib
from apps.labeling.engine.bradley_terry import bradley_terry, ranking_pairs
from apps.labeling.engine.classification import dawid_skene, multilabel_dawid_skene
from apps.labeling.engine.consolidate import MULTI_LABEL, SINGLE_LABEL, comparable, consolidate_answers
from apps.labeling.models import LabelingItem, LabelingJob, LabelingTask
from apps.labeling.services import autolabel

CONSOLIDATE_KIND = "labeling.consolidate"
BULK_CHUNK = 1000
ITEM_FIELDS = ["consolidated", "confidence", "consolidation_info", "label_source", "labeled_at", "review_status"]


# --- one item, as its last answer arrives ----------------------------------------------------------------------------


def worker_weights(job: LabelingJob) -> dict[Any, float]:
    """{username: weight} from the last consolidation's reliabilities (a worker not yet rated counts 1)."""
    weights: dict[Any, float] = {}
    for row in (job.stats or {}).get("workers", []) or []:
        reliability = row.get("reliability")
        if isinstance(reliability, int | float) and row.get("worker"):
            weights[str(row["worker"])] = float(reliability)
    return weights


def _criteria(job: LabelingJob) -> list[str]:
    return [c["name"] if isinstance(c, dict) else str(c) for c in job.criteria or []]


def item_consolidate(*, item: LabelingItem) -> None:
    """Consolidate one item from its answered tasks (a no-op without answers; a reviewer's label is kept)."""
    job = item.job
    answers: list[tuple[str, Any]] = [
        (username, answer)
        for username, answer in LabelingTask.objects.filter(item=item, status=TaskStatus.ANSWERED)
        .order_by("answered_at", "pk")
        .values_list("worker__username", "answer")
    ]
    if not answers or item.label_source == LabelSource.REVIEWED:
        return
    result = consolidate_answers(
        job.task_type,
        answers,
        labels=job.labels or [],
        criteria=_criteria(job),
        scale=job.scale,
        weights=worker_weights(job),
    )
    newly = item.label_source == LabelSource.NONE
    item.consolidated = result.consolidated
    item.confidence = result.confidence
    item.consolidation_info = result.info
    item.label_source = LabelSource.HUMAN
    item.labeled_at = timezone.now()
    if job.review_required and item.review_status == ReviewStatus.NONE:
        item.review_status = ReviewStatus.PENDING
    item.save(update_fields=ITEM_FIELDS)
    if newly:
        LabelingJob.objects.filter(pk=job.pk).update(labeled_count=F("labeled_count") + 1)
    job_completion_check(job=job)


def job_completion_check(*, job: LabelingJob) -> bool:
    """Mark an active job completed when every item is labeled and none waits for review. Cheap while work remains
    (reads two counters); the exact checks run only when the counters say it may be done."""
    row = LabelingJob.objects.filter(pk=job.pk).values("status", "labeled_count", "item_count").first()
    if row is None or row["status"] != JobStatus.ACTIVE or row["item_count"] == 0:
        return False
    if row["labeled_count"] < row["item_count"]:
        return False
    items = LabelingItem.objects.filter(job_id=job.pk)
    if (
        items.filter(label_source=LabelSource.NONE).exists()
        or items.filter(review_status=ReviewStatus.PENDING).exists()
    ):
        return False
    done = LabelingJob.objects.filter(pk=job.pk, status=JobStatus.ACTIVE).update(status=JobStatus.COMPLETED) == 1
    if done:
        job.status = JobStatus.COMPLETED
    return done


# --- the whole job (a Job) -------------------------------------------------------------------------------------------


def consolidation_start(*, job: LabelingJob, user: Any) -> Any:
    """Start the Job that re-consolidates every answered item of `job` and writes its statistics (or return the one
    already queued or running)."""
    if job.status in (JobStatus.PREPARING, JobStatus.FAILED):
        raise ValidationError({"status": f"A job that is {job.get_status_display().lower()} cannot be consolidated."})
    with transaction.atomic():
        locked = (
            LabelingJob.objects.select_for_update(of=("self",))
            .select_related("consolidate_job", "project")
            .get(pk=job.pk)
        )
        running = locked.consolidate_job
        if running is not None and running.status in ACTIVE_STATUSES:
            job.consolidate_job = running
            return running  # already queued or running: it will read every answer given so far
        run = job_start(
            kind=CONSOLIDATE_KIND,
            project=locked.project,
            created_by=user if getattr(user, "is_authenticated", False) else None,
            params={"labeling_job": locked.pk},
            title=f"Consolidate labels: {locked.name}"[:200],
        )
        LabelingJob.objects.filter(pk=locked.pk).update(consolidate_job=run)
    job.consolidate_job = run
    return run


def consolidation_run_execute(ctx: JobContext) -> dict[str, Any]:
    job = LabelingJob.objects.get(pk=ctx.params["labeling_job"], project_id=ctx.project_id)
    ctx.progress(0.02, "Reading answers", force=True)
    tasks: list[tuple[int, str, Any, int | None]] = list(
        LabelingTask.objects.filter(job=job, status=TaskStatus.ANSWERED)
        .order_by("item_id", "answered_at", "pk")
        .values_list("item_id", "worker__username", "answer", "time_spent_ms")
    )
    by_item: dict[int, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for item_id, username, answer, _ in tasks:
        by_item[item_id].append((username, answer))
    ctx.progress(0.1, f"Consolidating {len(by_item):,} items from {len(tasks):,} answers", force=True)
    results, reliability = _consolidate_all(job, by_item)
    ctx.progress(0.4, "Writing consolidated labels", force=True)
    _write_items(job, results, ctx)
    ctx.progress(0.85, "Computing agreement and worker statistics", force=True)
    stats = job_stats_compute(job=job, tasks=tasks, reliability=reliability)
    now = timezone.now()
    labeled = LabelingItem.objects.filter(job=job).exclude(label_source=LabelSource.NONE).count()
    LabelingJob.objects.filter(pk=job.pk).update(stats=stats, consolidated_at=now, labeled_count=labeled)
    job_completion_check(job=job)
    job.refresh_from_db()
    autolabel.autolabel_start_if_due(job=job, user=job.created_by)  # a job with automated labeling on: its next round
    kappa = stats["agreement"]["fleiss_kappa"]
    alpha = stats["agreement"]["krippendorff_alpha"]
    ctx.final_message = (
        f"Consolidated {len(results):,} items from {len(tasks):,} answers"
        + (f"; Fleiss' kappa {kappa:.3f}" if kappa is not None else "")
        + (f"; Krippendorff's alpha {alpha:.3f}" if alpha is not None else "")
    )
    return {"items": len(results), "answers": len(tasks), "fleiss_kappa": kappa, "krippendorff_alpha": alpha}


def _consolidate_all(
    job: LabelingJob, by_item: Mapping[int, list[tuple[str, dict[str, Any]]]]
) -> tuple[dict[int, tuple[dict[str, Any], float | None, dict[str, Any]]], dict[str, float]]:
    """{item id: (consolidated, confidence, info)} and {username: reliability} (Dawid–Skene's, for classification)."""
    results: dict[int, tuple[dict[str, Any], float | None, dict[str, Any]]] = {}
    reliability: dict[str, float] = {}
    if not by_item:
        return results, reliability
    labels = list(job.labels or [])
    if job.task_type in SINGLE_LABEL:
        ds = dawid_skene(
            ((item, worker, answer["label"]) for item, answers in by_item.items() for worker, answer in answers), labels
        )
        reliability = {str(w): r for w, r in ds.reliability().items()}
        for item_id in ds.items:
            posterior = ds.posterior_of(item_id)
            label = ds.label_of(item_id)
            single = len(by_item[int(item_id)]) == 1  # type: ignore[call-overload]
            results[int(item_id)] = (  # type: ignore[call-overload]
                {"label": label},
                0.0 if single else round(posterior[label], 6),
                {
                    "method": "dawid_skene",
                    "votes": ds.votes[item_id],
                    "posterior": {k: round(v, 6) for k, v in posterior.items()},
                },
            )
        return results, reliability
    if job.task_type in MULTI_LABEL:
        p_yes = multilabel_dawid_skene(
            (
                (item, worker, answer.get("labels", []))
                for item, answers in by_item.items()
                for worker, answer in answers
            ),
            labels,
        )
        for item_id, per_label in p_yes.items():
            chosen = [label for label in labels if per_label.get(label, 0.0) > 0.5]
            single = len(by_item[int(item_id)]) == 1  # type: ignore[call-overload]
            confidence = (
                0.0 if single or not per_label else sum(max(p, 1 - p) for p in per_label.values()) / len(per_label)
            )
            results[int(item_id)] = (  # type: ignore[call-overload]
                {"labels": chosen},
                round(confidence, 6),
                {"method": "dawid_skene", "per_label": {k: round(v, 6) for k, v in per_label.items()}},
            )
        return results, reliability
    criteria = _criteria(job)
    for item_id, answers in by_item.items():
        result = consolidate_answers(job.task_type, answers, labels=labels, criteria=criteria, scale=job.scale)
        results[item_id] = (result.consolidated, result.confidence, result.info)
    return results, reliability


def _write_items(
    job: LabelingJob, results: Mapping[int, tuple[dict[str, Any], float | None, dict[str, Any]]], ctx: JobContext
) -> None:
    ids = sorted(results)
    now = timezone.now()
    total = max(len(ids), 1)
    for start in range(0, len(ids), BULK_CHUNK):
        chunk = ids[start : start + BULK_CHUNK]
        items = list(LabelingItem.objects.filter(job=job, pk__in=chunk).exclude(label_source=LabelSource.REVIEWED))
        for item in items:
            consolidated, confidence, info = results[item.pk]
            if item.review_status == ReviewStatus.ACCEPTED and item.consolidated != consolidated:
                item.review_status = ReviewStatus.NONE  # what was accepted is no longer the label: review it again
            item.consolidated = consolidated
            item.confidence = confidence
            item.consolidation_info = info
            if item.label_source == LabelSource.NONE or item.labeled_at is None:
                item.labeled_at = now
            item.label_source = LabelSource.HUMAN
            if job.review_required and item.review_status == ReviewStatus.NONE:
                item.review_status = ReviewStatus.PENDING
        LabelingItem.objects.bulk_update(items, ITEM_FIELDS)
        ctx.progress(0.4 + 0.45 * (start + len(chunk)) / total, f"Wrote {start + len(chunk):,} of {len(ids):,} items")


# --- statistics -------------------------------------------------------------------------------------------------------


def _answers_match(task_type: str, a: Any, b: Any) -> bool:
    from apps.labeling.answers import answers_match

    return bool(answers_match(task_type, a, b))


def job_stats_compute(
    *, job: LabelingJob, tasks: list[tuple[int, str, Any, int | None]], reliability: Mapping[str, float]
) -> dict[str, Any]:
    """`LabelingJob.stats` from the answered tasks `(item id, username, answer, time_spent_ms)` and the items'
    (freshly written) consolidated labels."""
    task_type = job.task_type
    items = {
        row["pk"]: row
        for row in LabelingItem.objects.filter(job=job).values(
            "pk", "data", "consolidated", "is_gold", "gold_answer", "label_source", "review_status"
        )
    }
    by_item: dict[int, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for item_id, username, answer, _ in tasks:
        by_item[item_id].append((username, answer))
    return {
        "agreement": _agreement(job, by_item),
        "workers": _worker_rows(task_type, tasks, items, reliability),
        "labels": _label_counts(job, items.values()),
        "models": _models(task_type, by_item, items),
        "progress": {
            "items": len(items),
            "answers": len(tasks),
            "labeled": sum(1 for i in items.values() if i["label_source"] != LabelSource.NONE),
            "auto": sum(1 for i in items.values() if i["label_source"] == LabelSource.AUTO),
            "reviewed": sum(1 for i in items.values() if i["label_source"] == LabelSource.REVIEWED),
            "pending_review": sum(1 for i in items.values() if i["review_status"] == ReviewStatus.PENDING),
        },
        "auto_labeling": list((job.stats or {}).get("auto_labeling", []) or []),
        "updated_at": timezone.now().isoformat(),
    }


def _agreement(job: LabelingJob, by_item: Mapping[int, list[tuple[str, dict[str, Any]]]]) -> dict[str, Any]:
    """Fleiss' kappa and Krippendorff's alpha over what the workers answered. Classification: one unit per item (per
    item and label, yes or no, for multi-label); ratings: per item and criterion, interval; rankings: each response's
    rank, ordinal; preferences: the preferred side. Boxes, spans and rewrites: none."""
    task_type = job.task_type
    units: dict[Hashable, list[Any]] = {}
    level = "nominal"
    if task_type in SINGLE_LABEL:
        units = {i: [a["label"] for _, a in answers] for i, answers in by_item.items()}
    elif task_type in MULTI_LABEL:
        for i, answers in by_item.items():
            for label in job.labels or []:
                units[(i, label)] = [label in a.get("labels", []) for _, a in answers]
    elif task_type == TaskType.PAIRWISE_PREFERENCE:
        units = {i: [a["preferred"] for _, a in answers] for i, answers in by_item.items()}
    elif task_type == TaskType.RATING:
        level = "interval"
        for i, answers in by_item.items():
            for criterion in _criteria(job):
                units[(i, criterion)] = [
                    a["ratings"][criterion] for _, a in answers if criterion in a.get("ratings", {})
                ]
    elif task_type == TaskType.RANKING:
        level = "ordinal"
        for i, answers in by_item.items():
            for _, a in answers:
                for rank, response in enumerate(a["ranking"]):
                    units.setdefault((i, response), []).append(rank)
    else:
        return {"fleiss_kappa": None, "krippendorff_alpha": None, "level": level}
    kappa = agreement_lib.fleiss_kappa_from_ratings(units) if level == "nominal" else None
    alpha = agreement_lib.krippendorff_alpha(list(units.values()), level)
    return {
        "fleiss_kappa": None if kappa is None else round(kappa, 6),
        "krippendorff_alpha": None if alpha is None else round(alpha, 6),
        "level": level,
    }


def _worker_rows(
    task_type: str,
    tasks: list[tuple[int, str, Any, int | None]],
    items: Mapping[int, Mapping[str, Any]],
    reliability: Mapping[str, float],
) -> list[dict[str, Any]]:
    per: dict[str, dict[str, Any]] = defaultdict(lambda: {"items": 0, "times": [], "agree": [], "gold": []})
    for item_id, username, answer, time_ms in tasks:
        row = per[username]
        row["items"] += 1
        if time_ms is not None:
            row["times"].append(time_ms / 1000)
        item = items.get(item_id)
        if item is None:
            continue
        target = comparable(task_type, item["consolidated"])
        if target is not None:
            row["agree"].append(_answers_match(task_type, answer, target))
        if item["is_gold"] and item["gold_answer"] is not None:
            row["gold"].append(_answers_match(task_type, answer, item["gold_answer"]))
    out = []
    for username in sorted(per):
        row = per[username]
        agree = sum(row["agree"]) / len(row["agree"]) if row["agree"] else None
        out.append(
            {
                "worker": username,
                "items": row["items"],
                "median_time_s": round(statistics.median(row["times"]), 3) if row["times"] else None,
                "agreement": None if agree is None else round(agree, 6),
                "gold_items": len(row["gold"]),
                "gold_accuracy": round(sum(row["gold"]) / len(row["gold"]), 6) if row["gold"] else None,
                "reliability": round(reliability[username], 6)
                if username in reliability
                else (None if agree is None else round(agree, 6)),
            }
        )
    return out


def _label_counts(job: LabelingJob, items: Any) -> dict[str, int]:
    counts: dict[str, int] = dict.fromkeys(job.labels or [], 0) if job.task_type in SINGLE_LABEL | MULTI_LABEL else {}
    for item in items:
        consolidated = item["consolidated"] or {}
        found: list[str] = []
        if "label" in consolidated:
            found = [consolidated["label"]]
        elif "labels" in consolidated:
            found = list(consolidated["labels"])
        else:
            found = [part["label"] for key in ("boxes", "spans") for part in consolidated.get(key, [])]
        for label in found:
            counts[label] = counts.get(label, 0) + 1
    return counts


def _models(
    task_type: str, by_item: Mapping[int, list[tuple[str, dict[str, Any]]]], items: Mapping[int, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """An arena-style leaderboard of the responses' `model` names: Bradley–Terry over every preference and every
    pair a ranking implies, between responses of two different named models."""
    if task_type not in (TaskType.PAIRWISE_PREFERENCE, TaskType.RANKING):
        return []
    pairs: list[tuple[str, str]] = []
    for item_id, answers in by_item.items():
        responses = ((items.get(item_id) or {}).get("data") or {}).get("responses") or []
        models = [str(r.get("model") or "") if isinstance(r, dict) else "" for r in responses]
        for _, answer in answers:
            if task_type == TaskType.PAIRWISE_PREFERENCE:
                implied = [(answer["preferred"], 1 - answer["preferred"])]
            else:
                implied = ranking_pairs(answer["ranking"])
            for winner, loser in implied:
                if max(winner, loser) < len(models):
                    a, b = models[winner], models[loser]
                    if a and b and a != b:
                        pairs.append((a, b))
    if not pairs:
        return []
    bt = bradley_terry(pairs)
    elo = bt.elo()
    rows = [
        {"model": str(name), "score": round(elo[i], 1), "wins": int(bt.wins[i]), "comparisons": int(bt.comparisons[i])}
        for i, name in enumerate(bt.names)
    ]
    rows.sort(key=lambda r: (-float(r["score"]), str(r["model"])))  # type: ignore[arg-type]
    return rows
