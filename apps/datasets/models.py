"""Data Wrangler records: datasets and their immutable versions (Parquet files in project storage), profile
reports, flows with their saved analyses, and admin-configured database connections."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.core.models import ProjectOwnedModel, TimeStampedModel
from apps.datasets.choices import AnalysisKind, VersionKind


class Dataset(ProjectOwnedModel):
    """A named table in a project. Its data lives in versions; `latest_version` is null until the first
    import succeeded (a failed first import deletes the dataset again, see services.dataset_import_run)."""

    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    latest_version = models.ForeignKey(
        "DatasetVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    import_job = models.ForeignKey(
        "jobs.Job",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The job importing the first version (while there is none yet).",
    )

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="dataset_unique_name_per_project")]

    def __str__(self) -> str:
        return self.name


class DatasetVersion(models.Model):
    """One immutable version of a dataset: a Parquet file plus what we know about it."""

    project = models.ForeignKey("accounts.Project", on_delete=models.CASCADE, related_name="+")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=VersionKind.choices)
    file = models.CharField(max_length=500, help_text="Parquet file in the default storage.")
    row_count = models.BigIntegerField()
    column_count = models.PositiveIntegerField()
    bytes = models.BigIntegerField(default=0)
    schema = models.JSONField(default=list, help_text="[{name, type, pandas_dtype, nullable, reason}]")
    histograms = models.JSONField(default=dict, help_text="Per-column mini histograms for the table view.")
    source = models.JSONField(default=dict, help_text="Lineage: how and from what this version was made.")
    parents = models.ManyToManyField("self", symmetrical=False, blank=True, related_name="children")
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["dataset_id", "-number"]
        constraints = [models.UniqueConstraint(fields=["dataset", "number"], name="dataset_version_unique_number")]

    def __str__(self) -> str:
        return f"{self.dataset.name} v{self.number}"

    @property
    def column_names(self) -> list[str]:
        return [c["name"] for c in self.schema]

    def column(self, name: str) -> dict[str, Any] | None:
        return next((c for c in self.schema if c["name"] == name), None)


class ProfileReport(models.Model):
    """The Data Quality and Insights report of a version; the full report is a JSON file in storage."""

    project = models.ForeignKey("accounts.Project", on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="reports")
    target = models.CharField(max_length=300, blank=True)
    file = models.CharField(max_length=500)
    bytes = models.BigIntegerField(default=0)
    summary = models.JSONField(default=dict)
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Report #{self.pk} of {self.version}" + (f" (target {self.target})" if self.target else "")


class Flow(ProjectOwnedModel):
    """A Data Wrangler flow: sources (dataset versions) and steps, in the transforms package's flow format."""

    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    definition = models.JSONField(default=dict)
    output_name = models.CharField(max_length=100, blank=True, help_text="Dataset that runs write to.")
    source_versions = models.ManyToManyField(DatasetVersion, blank=True, related_name="flows")

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="flow_unique_name_per_project")]

    def __str__(self) -> str:
        return self.name

    @property
    def steps(self) -> list[dict[str, Any]]:
        return list((self.definition or {}).get("steps") or [])

    @property
    def sources(self) -> list[dict[str, Any]]:
        return list((self.definition or {}).get("sources") or [])


class FlowAnalysis(models.Model):
    """A chart computed on a sample of one step's output, saved with the flow."""

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="analyses")
    kind = models.CharField(max_length=20, choices=AnalysisKind.choices)
    title = models.CharField(max_length=300)
    step_id = models.CharField(max_length=100, help_text="Step (or source) whose output was analysed.")
    params = models.JSONField(default=dict)
    figure = models.JSONField(default=dict)
    sample_rows = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["flow_id", "created_at", "id"]
        verbose_name_plural = "flow analyses"

    def __str__(self) -> str:
        return self.title

    @property
    def figure_id(self) -> str:
        return f"analysis-fig-{self.pk}"


class DataConnection(TimeStampedModel):
    """A database that admins let some projects import from (read-only SQL)."""

    name = models.CharField(max_length=100, unique=True)
    url = models.CharField(
        max_length=1000,
        help_text="SQLAlchemy URL, e.g. postgresql+psycopg://reader:pw@db/sales or sqlite:////srv/data/shop.db. "
        "Queries run read-only: SQLite files are opened with mode=ro, PostgreSQL sessions with "
        "default_transaction_read_only.",
    )
    description = models.TextField(blank=True)
    projects = models.ManyToManyField("accounts.Project", blank=True, related_name="data_connections")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def safe_url(self) -> str:
        """The URL with its password masked, for display."""
        from apps.datasets.sql import mask_url

        return mask_url(self.url)
