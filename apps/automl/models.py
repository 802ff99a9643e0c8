"""Canvas records: a build (one AutoML run on a dataset version, its report and fitted model), candidates of a
build fitted on request, and tuning jobs (AMT). Registered candidates live in the Model Registry (apps/registry)."""

from __future__ import annotations

from typing import Any

from django.db import models

from apps.automl.choices import BuildMode, TuningStrategy
from apps.core.models import ProjectOwnedModel


class AutomlBuild(ProjectOwnedModel):
    """One Canvas build. The report is the engine's JSON (leaderboard, analysis, schema, typical values);
    `history` is the live [[seconds, best score], ...] series written while the job runs."""

    name = models.CharField(max_length=200, blank=True)
    dataset_version = models.ForeignKey(
        "datasets.DatasetVersion", on_delete=models.PROTECT, related_name="automl_builds"
    )
    target = models.CharField(max_length=300)
    problem_type = models.CharField(max_length=20, blank=True, help_text="Empty: detected from the target.")
    objective = models.CharField(max_length=40, blank=True, help_text="Empty: the problem type's default.")
    mode = models.CharField(max_length=10, choices=BuildMode.choices, default=BuildMode.QUICK)
    time_budget_s = models.FloatField(null=True, blank=True)
    seed = models.IntegerField(default=0)
    checks = models.JSONField(default=list, blank=True)
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    trials_done = models.PositiveIntegerField(default=0)
    best_score = models.FloatField(null=True, blank=True)
    history = models.JSONField(default=list, blank=True)
    report = models.JSONField(null=True, blank=True)
    best_candidate = models.CharField(max_length=100, blank=True)
    selected_candidate = models.CharField(max_length=100, blank=True)
    artifact = models.ForeignKey(
        "core.Artifact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The fitted model of the best candidate (signed).",
    )
    tuning_job = models.ForeignKey(
        "automl.TuningJob",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="exported_builds",
        help_text="Set when this build is a tuning job's best trial exported as a candidate.",
    )
    fairness = models.JSONField(
        null=True,
        blank=True,
        help_text="A fairness-constrained build: {mitigator, constraint, sensitive, base} (Fairlearn); empty for an "
        "ordinary build.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "AutoML build"

    def __str__(self) -> str:
        return self.name or f"Build #{self.pk} ({self.target})"

    @property
    def status(self) -> str:
        return self.job.status if self.job_id and self.job else "queued"

    @property
    def leaderboard(self) -> list[dict[str, Any]]:
        return list((self.report or {}).get("leaderboard") or [])

    @property
    def chosen_candidate(self) -> str:
        return self.selected_candidate or self.best_candidate


class AutomlCandidateModel(ProjectOwnedModel):
    """A leaderboard candidate other than the best, refitted on all rows on request (a job), with its own
    analysis. The build's best candidate lives on AutomlBuild.artifact."""

    build = models.ForeignKey(AutomlBuild, on_delete=models.CASCADE, related_name="fitted_candidates")
    name = models.CharField(max_length=100)
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    artifact = models.ForeignKey("core.Artifact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    report = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["build", "name"]
        verbose_name = "AutoML candidate model"
        constraints = [models.UniqueConstraint(fields=["build", "name"], name="automl_candidate_unique_name")]

    def __str__(self) -> str:
        return f"{self.name} of {self.build}"


class TuningJob(ProjectOwnedModel):
    """A hyperparameter tuning job (AMT) for one algorithm: its validated spec, the shared Optuna study its
    trials are recorded in (any number of Celery workers join it by name), and the outcome."""

    name = models.CharField(max_length=200, blank=True)
    dataset_version = models.ForeignKey("datasets.DatasetVersion", on_delete=models.PROTECT, related_name="tuning_jobs")
    target = models.CharField(max_length=300)
    algorithm = models.CharField(max_length=40)
    problem_type = models.CharField(max_length=20)
    objective = models.CharField(max_length=40)
    strategy = models.CharField(max_length=20, choices=TuningStrategy.choices, default=TuningStrategy.BAYESIAN)
    spec = models.JSONField(default=dict, help_text="The validated tuning spec (ranges, limits, completion).")
    warm_start_from = models.ManyToManyField("self", symmetrical=False, blank=True, related_name="+")
    study_name = models.CharField(max_length=100, unique=True)
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    stop_reason = models.CharField(max_length=40, blank=True)
    trials_done = models.PositiveIntegerField(default=0)
    best_value = models.FloatField(null=True, blank=True)
    best_params = models.JSONField(null=True, blank=True)
    summary = models.JSONField(null=True, blank=True, help_text="The study's trials as plain JSON (last read).")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name or f"Tuning job #{self.pk} ({self.algorithm} → {self.target})"

    @property
    def status(self) -> str:
        return self.job.status if self.job_id and self.job else "queued"

    @property
    def candidate(self) -> AutomlBuild | None:
        return self.exported_builds.order_by("-pk").first()
