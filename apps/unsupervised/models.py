"""A run of a built-in unsupervised algorithm (PCA, k-means, isolation forest) on a dataset version. Its output
is a new dataset version: the input rows with the algorithm's columns appended."""

from __future__ import annotations

from django.db import models

from apps.core.models import ProjectOwnedModel
from apps.unsupervised.choices import Algorithm


class UnsupervisedRun(ProjectOwnedModel):
    """`options` are the validated options (services.unsupervised_run_start); `columns` the input columns asked
    for (empty: every usable column). `chart` and `info` are the engine's plain JSON, written when the job ends."""

    algorithm = models.CharField(max_length=20, choices=Algorithm.choices)
    dataset_version = models.ForeignKey(
        "datasets.DatasetVersion", on_delete=models.PROTECT, related_name="unsupervised_runs"
    )
    options = models.JSONField(default=dict, blank=True)
    columns = models.JSONField(default=list, blank=True, help_text="Input column names; empty = all usable.")
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    chart = models.JSONField(default=dict, blank=True)
    info = models.JSONField(default=dict, blank=True)
    output_version = models.ForeignKey(
        "datasets.DatasetVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The input rows with the new columns appended.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_algorithm_display()} #{self.pk}"

    @property
    def status(self) -> str:
        return self.job.status if self.job_id and self.job else "queued"
