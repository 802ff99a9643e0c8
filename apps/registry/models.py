"""The Model Registry: model groups (SageMaker model package groups), numbered versions with their signed
artifact, signature, metrics, lineage, tags, aliases and metadata, and the approval history."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.core.models import ProjectOwnedModel
from apps.registry.choices import ApprovalStatus, ModelFormat, SourceKind

NAME_HELP = "1–63 letters, digits and hyphens, starting and ending with a letter or digit (SageMaker's rule)."


class ModelGroup(ProjectOwnedModel):
    name = models.CharField(max_length=63, help_text=NAME_HELP)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="registry_group_unique_name")]

    def __str__(self) -> str:
        return self.name


class ModelVersion(ProjectOwnedModel):
    """One version of a group. `signature` = {"inputs": [{name, type}], "outputs": [{name, type}]}; `classes` for
    classifiers. Lineage: the dataset version it was trained on and the build or tuning job that made it."""

    group = models.ForeignKey(ModelGroup, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    description = models.TextField(blank=True)
    artifact = models.ForeignKey("core.Artifact", on_delete=models.PROTECT, related_name="+")
    format = models.CharField(max_length=20, choices=ModelFormat.choices)
    problem_type = models.CharField(max_length=20, blank=True)
    target = models.CharField(max_length=300, blank=True)
    signature = models.JSONField(default=dict, blank=True)
    classes = models.JSONField(default=list, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    hyperparameters = models.JSONField(default=dict, blank=True)
    library_versions = models.JSONField(default=dict, blank=True)
    source_kind = models.CharField(max_length=20, choices=SourceKind.choices)
    candidate = models.CharField(max_length=100, blank=True, help_text="The Canvas candidate it came from.")
    dataset_version = models.ForeignKey(
        "datasets.DatasetVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    automl_build = models.ForeignKey(
        "automl.AutomlBuild", null=True, blank=True, on_delete=models.SET_NULL, related_name="model_versions"
    )
    tuning_job = models.ForeignKey(
        "automl.TuningJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="model_versions"
    )
    tags = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    approval_status = models.CharField(
        max_length=30, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING, db_index=True
    )
    approval_description = models.TextField(blank=True)
    approval_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approval_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["group__name", "-version"]
        constraints = [models.UniqueConstraint(fields=["group", "version"], name="registry_version_unique_number")]
        permissions = [
            ("approve_modelversion", "Approve or reject model versions"),
            ("deploy_modelversion", "Deploy approved model versions to endpoints"),
        ]

    def __str__(self) -> str:
        return f"{self.group.name} v{self.version}"

    @property
    def is_approved(self) -> bool:
        return self.approval_status == ApprovalStatus.APPROVED


class ModelAlias(models.Model):
    """A movable name for one version of a group (e.g. `champion`), like MLflow's aliases."""

    group = models.ForeignKey(ModelGroup, on_delete=models.CASCADE, related_name="aliases")
    name = models.CharField(max_length=63)
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="aliases")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["group", "name"]
        verbose_name_plural = "model aliases"
        constraints = [models.UniqueConstraint(fields=["group", "name"], name="registry_alias_unique_name")]

    def __str__(self) -> str:
        return f"{self.group.name}@{self.name}"


class ApprovalEvent(models.Model):
    """Every change of a version's approval status: who, when, from what to what, and why."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="approval_events")
    from_status = models.CharField(max_length=30, choices=ApprovalStatus.choices)
    to_status = models.CharField(max_length=30, choices=ApprovalStatus.choices)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.version}: {self.from_status} → {self.to_status}"
