"""Ground Truth: labeling jobs, their items, workers' claims and answers, exports and automated-labeling rounds.

A `LabelingItem` is one thing to label; a `LabelingTask` is one worker's claim on one item and, once answered, the
answer (raw answers are kept: consolidation writes the item's `consolidated`, never over a task). An item is open to
new claims while `seats_taken` (active claims + answers) < the job's `workers_per_item`: apps/labeling/services/queue.py
keeps `seats_taken` and `is_open` together, so the claim query reads one indexed flag.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.core.models import ProjectOwnedModel
from apps.labeling.choices import (
    ExportFormat,
    JobStatus,
    LabelSource,
    ReviewStatus,
    SourceKind,
    TaskStatus,
    TaskType,
)


class LabelingJob(ProjectOwnedModel):
    name = models.CharField(max_length=200)
    task_type = models.CharField(max_length=40, choices=TaskType.choices)
    status = models.CharField(max_length=20, choices=JobStatus.choices, default=JobStatus.PREPARING)
    # Where the items come from.
    source_kind = models.CharField(max_length=20, choices=SourceKind.choices, default=SourceKind.DATASET)
    dataset_version = models.ForeignKey(
        "datasets.DatasetVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="labeling_jobs"
    )
    text_column = models.CharField(max_length=300, blank=True, help_text="The column workers read (text tasks).")
    columns = models.JSONField(default=list, blank=True, help_text="Columns shown to workers (tabular rows).")
    source_job = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="verification_jobs"
    )
    source_file = models.CharField(max_length=500, blank=True, help_text="Storage key of the uploaded source.")
    # What workers give.
    labels = models.JSONField(default=list, blank=True, help_text="The label set, in the order workers see it.")
    criteria = models.JSONField(
        default=list, blank=True, help_text='Rating criteria: [{"name": ..., "description": ...}].'
    )
    scale = models.PositiveSmallIntegerField(default=5, help_text="Points of the rating scale (1..scale).")
    instructions = models.TextField(blank=True, help_text="Markdown (rendered sanitised).")
    examples = models.JSONField(default=list, blank=True, help_text='[{"text": ..., "label": ..., "note": ...}]')
    # Who and how.
    team = models.ForeignKey("accounts.WorkTeam", on_delete=models.PROTECT, related_name="labeling_jobs")
    workers_per_item = models.PositiveSmallIntegerField(default=3)
    time_limit_s = models.PositiveIntegerField(default=600, help_text="A claim expires after this many seconds.")
    review_required = models.BooleanField(default=False)
    hide_project = models.BooleanField(default=False, help_text="Workers do not see the project's name.")
    pre_annotation_model = models.ForeignKey(
        "registry.ModelVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="labeling_jobs"
    )
    attribute_name = models.CharField(max_length=100, help_text="The label attribute of the augmented manifest.")
    auto_labeling = models.JSONField(
        default=dict,
        blank=True,
        help_text='{"enabled": bool, "target_accuracy": 0.95, "min_human_labels": ...}',
    )
    # Progress and results.
    prepare_job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    consolidate_job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    item_count = models.PositiveIntegerField(default=0)
    labeled_count = models.PositiveIntegerField(default=0, help_text="Items with a consolidated label.")
    stats = models.JSONField(default=dict, blank=True, help_text="Quality: agreement, per-worker stats, gold.")
    consolidated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="labeling_job_unique_name")]
        permissions = [("manage_labelingjob", "Create, review and export labeling jobs")]

    def __str__(self) -> str:
        return self.name


class LabelingItem(models.Model):
    job = models.ForeignKey(LabelingJob, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField(help_text="0-based order within the job (a dataset row's position).")
    data = models.JSONField(help_text="What the worker sees; shape per source kind (apps/labeling/answers.py).")
    source_ref = models.CharField(max_length=500, blank=True, help_text="Row number, file name or line number.")
    suggestion = models.JSONField(null=True, blank=True, help_text="Pre-annotation: an answer and its confidence.")
    is_gold = models.BooleanField(default=False)
    gold_answer = models.JSONField(null=True, blank=True)
    seats_taken = models.PositiveSmallIntegerField(default=0, help_text="Active claims + answers.")
    is_open = models.BooleanField(default=True, help_text="seats_taken < workers_per_item and not auto-labeled.")
    answer_count = models.PositiveSmallIntegerField(default=0)
    consolidated = models.JSONField(null=True, blank=True, help_text="The consolidated label, answer-shaped.")
    confidence = models.FloatField(null=True, blank=True)
    consolidation_info = models.JSONField(default=dict, blank=True)
    label_source = models.CharField(max_length=10, choices=LabelSource.choices, default=LabelSource.NONE)
    review_status = models.CharField(max_length=10, choices=ReviewStatus.choices, default=ReviewStatus.NONE)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    labeled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "position"]
        constraints = [models.UniqueConstraint(fields=["job", "position"], name="labeling_item_unique_position")]
        indexes = [models.Index(fields=["job", "is_open", "position"], name="labeling_item_open")]

    def __str__(self) -> str:
        return f"Item {self.position} of {self.job_id}"


class LabelingTask(models.Model):
    """One worker's claim on one item, and their answer once given (kept as given)."""

    job = models.ForeignKey(LabelingJob, on_delete=models.CASCADE, related_name="tasks")
    item = models.ForeignKey(LabelingItem, on_delete=models.CASCADE, related_name="tasks")
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="labeling_tasks")
    status = models.CharField(max_length=10, choices=TaskStatus.choices, default=TaskStatus.ACTIVE)
    claimed_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    answer = models.JSONField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    time_spent_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["job", "item", "claimed_at"]
        constraints = [models.UniqueConstraint(fields=["item", "worker"], name="labeling_task_one_per_worker")]
        indexes = [
            models.Index(fields=["job", "status", "expires_at"], name="labeling_task_expiry"),
            models.Index(fields=["worker", "job", "status"], name="labeling_task_worker"),
        ]

    def __str__(self) -> str:
        return f"Task {self.pk} ({self.status})"


class LabelingExport(ProjectOwnedModel):
    labeling_job = models.ForeignKey(LabelingJob, on_delete=models.CASCADE, related_name="exports")
    format = models.CharField(max_length=20, choices=ExportFormat.choices)
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    file = models.CharField(max_length=500, blank=True, help_text="Storage key of the written file.")
    size_bytes = models.PositiveBigIntegerField(default=0)
    item_count = models.PositiveIntegerField(default=0)
    dataset_version = models.ForeignKey(
        "datasets.DatasetVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_format_display()} export of {self.labeling_job_id}"


class AutoLabelRound(models.Model):
    """One round of automated labeling: a model trained on the human labels so far, a confidence threshold calibrated
    on held-out human labels for the target accuracy, and the items labeled above it."""

    labeling_job = models.ForeignKey(LabelingJob, on_delete=models.CASCADE, related_name="auto_rounds")
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    number = models.PositiveIntegerField()
    human_labels = models.PositiveIntegerField(default=0)
    held_out = models.PositiveIntegerField(default=0)
    threshold = models.FloatField(null=True, blank=True)
    target_accuracy = models.FloatField(default=0.95)
    held_out_accuracy = models.FloatField(null=True, blank=True, help_text="Above the threshold, on held-out labels.")
    auto_labeled = models.PositiveIntegerField(default=0)
    info = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["labeling_job", "number"]
        constraints = [
            models.UniqueConstraint(fields=["labeling_job", "number"], name="labeling_autoround_unique_number")
        ]

    def __str__(self) -> str:
        return f"Round {self.number} of {self.labeling_job_id}"
