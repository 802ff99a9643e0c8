"""Job `labeling.prepare`: a new labeling job's items from its source (apps/labeling/services/sources.py), written
in chunks with progress; gold items marked; suggestions from the pre-annotation model; then the job is `active`
with its `item_count`. Re-run after an interruption, it starts over (the items of a job still preparing are
deleted first); a job no longer preparing (cancelled, or prepared by an earlier attempt) is left alone."""

from __future__ import annotations

from typing import Any

import numpy as np
from django.core.exceptions import ValidationError

from apps.jobs.runtime import JobContext, JobError
from apps.labeling.choices import JobStatus, SourceKind, TaskType
from apps.labeling.models import LabelingItem, LabelingJob
from apps.labeling.services import sources
from apps.labeling.services.jobs import labeling_job_mark

CHUNK = 2_000
PREDICT_CHUNK = 10_000


def prepare_run_execute(ctx: JobContext) -> dict[str, Any]:
    job = LabelingJob.objects.select_related(
        "project", "dataset_version", "source_job", "pre_annotation_model__artifact"
    ).get(pk=ctx.params["labeling_job"], project_id=ctx.project_id)
    if job.status != JobStatus.PREPARING:
        ctx.final_message = f"Nothing to do: the job is {job.get_status_display().lower()}."
        return {"labeling_job": job.pk, "items": job.item_count}
    try:
        count, gold_count = _write_items(ctx, job)
        suggested = _pre_annotate(ctx, job) if job.pre_annotation_model_id else 0
    except (ValueError, ValidationError, LookupError) as exc:
        message = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        LabelingItem.objects.filter(job=job).delete()
        labeling_job_mark(job_id=job.pk, status=JobStatus.FAILED)
        raise JobError(message) from exc
    if not labeling_job_mark(job_id=job.pk, status=JobStatus.ACTIVE, item_count=count):
        LabelingItem.objects.filter(job=job).delete()  # cancelled meanwhile
        ctx.final_message = "The job was cancelled while its items were prepared."
        return {"labeling_job": job.pk, "items": 0}
    parts = [f"{count:,} items"]
    if gold_count:
        parts.append(f"{gold_count:,} gold")
    if job.pre_annotation_model_id:
        parts.append(f"{suggested:,} with a suggestion")
    ctx.final_message = ", ".join(parts) + "; the job is open for work."
    return {"labeling_job": job.pk, "items": count, "gold": gold_count, "suggested": suggested}


def _gold_of(job: LabelingJob, params: dict[str, Any]) -> dict[int, Any]:
    if params.get("gold_column"):
        column = params["gold_column"]
        frame = sources.dataset_frame(version=job.dataset_version, columns=[column])
        out: dict[int, Any] = {}
        for position, value in enumerate(frame[column].tolist()):
            value = sources.json_value(value)
            if value not in (None, ""):
                out[position] = {"label": str(value)}
        return out
    return {int(k): v for k, v in (params.get("gold") or {}).items()}


def _write_items(ctx: JobContext, job: LabelingJob) -> tuple[int, int]:
    LabelingItem.objects.filter(job=job).delete()  # a redelivery starts over
    expected = max(int(ctx.params.get("expected") or 0), 1)
    gold = _gold_of(job, ctx.params)
    limit = sources.max_items()
    batch: list[LabelingItem] = []
    count = gold_count = 0
    ctx.progress(0.0, "Reading the source", force=True)
    for position, data, ref in sources.source_items(job):
        if count >= limit:
            raise ValueError(f"The source holds more than {limit:,} items (LABELING_MAX_ITEMS).")
        answer = gold.get(position)
        batch.append(
            LabelingItem(
                job=job,
                position=position,
                data=data,
                source_ref=ref[:500],
                is_gold=answer is not None,
                gold_answer=answer,
            )
        )
        count += 1
        gold_count += answer is not None
        if len(batch) >= CHUNK:
            _flush(ctx, batch, count, expected)
    _flush(ctx, batch, count, expected)
    if count == 0:
        raise ValueError("The source holds no items.")
    return count, gold_count


def _flush(ctx: JobContext, batch: list[LabelingItem], count: int, expected: int) -> None:
    if not batch:
        return
    ctx.check_cancelled()
    LabelingItem.objects.bulk_create(batch, batch_size=CHUNK)
    batch.clear()
    ctx.progress(0.8 * min(count / expected, 1.0), f"{count:,} of {expected:,} items written")


# --- pre-annotation ----------------------------------------------------------------------------------------------


def _pre_annotate(ctx: JobContext, job: LabelingJob) -> int:
    """A suggestion per row from the registry model: {"label": ..., "confidence": p} (multi-label: {"labels":
    [...]}), when the model's prediction is one of the job's labels."""
    from apps.automl.engine.model import SchemaError
    from apps.registry.loading import load_version

    if job.source_kind != SourceKind.DATASET or job.dataset_version is None:
        return 0
    version = job.pre_annotation_model
    ctx.progress(0.8, f"Loading model {version}", force=True)
    try:
        predictor = load_version(version, native_code=False)
    except Exception as exc:
        raise ValueError(f"The model {version} could not be loaded: {exc}") from exc
    features = list(predictor.feature_names)
    frame = sources.dataset_frame(version=job.dataset_version, columns=features)
    labels = set(job.labels)
    multi = job.task_type == TaskType.TEXT_CLASSIFICATION_MULTI
    suggested = 0
    total = max(len(frame), 1)
    for start in range(0, len(frame), PREDICT_CHUNK):
        ctx.check_cancelled()
        chunk = frame.iloc[start : start + PREDICT_CHUNK]
        try:
            predicted, proba = predictor.predict(chunk)
        except SchemaError as exc:
            raise ValueError(f"The model cannot read the rows: {exc}") from exc
        confidence = np.max(np.asarray(proba, dtype=float), axis=1) if proba is not None else None
        by_position: dict[int, dict[str, Any]] = {}
        for offset, value in enumerate(np.asarray(predicted).tolist()):
            label = str(sources.json_value(value))
            if label not in labels:
                continue
            suggestion: dict[str, Any] = {"labels": [label]} if multi else {"label": label}
            suggestion["confidence"] = round(float(confidence[offset]), 6) if confidence is not None else None
            by_position[start + offset] = suggestion
        items = list(LabelingItem.objects.filter(job=job, position__in=list(by_position)).only("pk", "position"))
        for item in items:
            item.suggestion = by_position[item.position]
        LabelingItem.objects.bulk_update(items, ["suggestion"], batch_size=CHUNK)
        suggested += len(items)
        ctx.progress(0.8 + 0.2 * min((start + len(chunk)) / total, 1.0), f"{suggested:,} suggestions")
    return suggested
