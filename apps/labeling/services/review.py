"""Review: a person with MANAGE_LABELING accepts an item's consolidated label or replaces it with their own answer.
The workers' answers stay on the tasks; an adjusted label is marked `reviewed` (the manifest's human-annotated flag
still holds) with confidence 1, and the label it replaced is kept in the item's consolidation info."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.labeling.answers import validate_answer
from apps.labeling.choices import JobStatus, LabelSource, ReviewStatus
from apps.labeling.models import LabelingItem, LabelingJob
from apps.labeling.services.consolidation import job_completion_check

REVIEW_FIELDS = [
    "consolidated",
    "confidence",
    "consolidation_info",
    "label_source",
    "review_status",
    "reviewed_by",
    "reviewed_at",
    "labeled_at",
]


def item_review(*, item: LabelingItem, user: Any, answer: Any = None) -> LabelingItem:
    """Accept (`answer` None) or adjust `item`'s consolidated label. Accepting needs a label to accept; adjusting
    validates `answer` as a worker's answer of the job's task type (a 400 naming `answer`)."""
    with transaction.atomic():
        locked = LabelingItem.objects.select_for_update().get(pk=item.pk)
        job = LabelingJob.objects.get(pk=locked.job_id)
        if job.status in (JobStatus.PREPARING, JobStatus.CANCELLED):
            raise ValidationError({"item": f"Items of a {job.get_status_display().lower()} job cannot be reviewed."})
        now = timezone.now()
        newly = locked.label_source == LabelSource.NONE
        if answer is None:
            if locked.consolidated is None:
                raise ValidationError({"answer": "This item has no label yet: send an answer to set one."})
            locked.review_status = ReviewStatus.ACCEPTED
        else:
            clean = validate_answer(job, locked, answer)
            info: dict[str, Any] = {"method": "review"}
            if locked.consolidated is not None:
                info |= {
                    "previous": locked.consolidated,
                    "previous_confidence": locked.confidence,
                    "previous_source": locked.label_source,
                }
            locked.consolidated = clean
            locked.confidence = 1.0
            locked.consolidation_info = info
            locked.label_source = LabelSource.REVIEWED
            locked.review_status = ReviewStatus.ADJUSTED
            locked.labeled_at = now
        locked.reviewed_by = user
        locked.reviewed_at = now
        locked.save(update_fields=REVIEW_FIELDS)
        if newly and locked.consolidated is not None:
            LabelingJob.objects.filter(pk=job.pk).update(labeled_count=F("labeled_count") + 1)
        job_completion_check(job=job)
    return locked
