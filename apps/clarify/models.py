"""A Clarify report: bias metrics of a dataset version (pre-training) and, when a model is given, of its
predictions (post-training) with explanations. `analysis` is SageMaker Clarify's analysis.json shape; `details`
holds what the report page draws (rates and confusion matrices per facet, SHAP samples, PDPs, sample sizes)."""

from __future__ import annotations

from django.db import models

from apps.clarify.choices import MitigationKind, ReportKind
from apps.core.models import ProjectOwnedModel


class ClarifyReport(ProjectOwnedModel):
    name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=10, choices=ReportKind.choices, default=ReportKind.DATA)
    dataset_version = models.ForeignKey(
        "datasets.DatasetVersion", on_delete=models.PROTECT, related_name="clarify_reports"
    )
    # The model, when there is one: a registry version, or a Canvas build's candidate (empty name: the build's model).
    model_version = models.ForeignKey(
        "registry.ModelVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="clarify_reports"
    )
    automl_build = models.ForeignKey(
        "automl.AutomlBuild", null=True, blank=True, on_delete=models.PROTECT, related_name="clarify_reports"
    )
    candidate = models.CharField(max_length=100, blank=True)
    config = models.JSONField(
        default=dict,
        help_text="The validated analysis config: label, positive values or threshold, facets, group, methods.",
    )
    thresholds = models.JSONField(
        default=dict, blank=True, help_text="Flag thresholds the user set per metric name (others: the defaults)."
    )
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    analysis = models.JSONField(null=True, blank=True, help_text="SageMaker Clarify's analysis.json shape.")
    details = models.JSONField(default=dict, blank=True)
    # After a mitigation: the report it started from (before/after), what was done and what it made.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="mitigated_reports"
    )
    mitigation = models.CharField(max_length=30, choices=MitigationKind.choices, blank=True)
    mitigation_info = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name or f"Clarify report #{self.pk}"

    @property
    def status(self) -> str:
        return self.job.status if self.job_id and self.job else "queued"
