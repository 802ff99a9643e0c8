from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.jobs.choices import FINAL_STATUSES, JobStatus


class Job(models.Model):
    """One run of one long-running thing. See DESIGN.md, "The Job protocol"."""

    kind = models.CharField(max_length=100, db_index=True)
    title = models.CharField(max_length=200, blank=True)
    project = models.ForeignKey("accounts.Project", on_delete=models.CASCADE, related_name="jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True)
    progress = models.FloatField(default=0.0)
    message = models.CharField(max_length=500, blank=True)
    log = models.TextField(blank=True, help_text="The last lines the job logged.")
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    queue = models.CharField(max_length=100, blank=True)
    worker = models.CharField(max_length=200, blank=True, help_text="host|boot|pid of the process running it")
    celery_task_id = models.CharField(max_length=64, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    interrupted_at = models.DateTimeField(
        null=True, blank=True, help_text="when an orderly worker shutdown asked this attempt to stop (not counted)"
    )
    dispatched_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["project", "-created_at"]),
            models.Index(fields=["status", "heartbeat_at"]),
        ]
        permissions = [("cancel_job", "Cancel jobs")]

    def __str__(self) -> str:
        return f"{self.title or self.kind} #{self.pk}"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class WorkerHeartbeat(models.Model):
    """Each Celery worker process writes here every few seconds; /readyz reads it."""

    hostname = models.CharField(max_length=200, unique=True)
    pid = models.PositiveIntegerField(default=0)
    queues = models.CharField(max_length=500, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-last_seen"]

    def __str__(self) -> str:
        return self.hostname
