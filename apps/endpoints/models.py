"""Endpoints: a name under /endpoints/<name>/ serving one or more approved model versions (production variants with
traffic weights), keys that call it, per-minute metrics, asynchronous invocations, and batch transforms.

The serving processes read endpoints, variants and key hashes from here (apps/endpoints/serving/config.py), at
most every SERVING_CONFIG_REFRESH_S seconds; they never read the database per request."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.core.models import ProjectOwnedModel, TimeStampedModel, WebhookSubscriber
from apps.endpoints.choices import AsyncStatus, EndpointStatus, EndpointType

NAME_HELP = "1–63 letters, digits and hyphens, starting and ending with a letter or digit; unique (it is the URL)."


class Endpoint(ProjectOwnedModel, WebhookSubscriber):
    name = models.CharField(max_length=63, unique=True, help_text=NAME_HELP)
    type = models.CharField(max_length=20, choices=EndpointType.choices, default=EndpointType.REALTIME)
    status = models.CharField(max_length=20, choices=EndpointStatus.choices, default=EndpointStatus.IN_SERVICE)
    description = models.TextField(blank=True)
    timeout_s = models.FloatField(null=True, blank=True, help_text="Prediction timeout (504); empty: the default.")
    # Serverless: loaded on the first request, unloaded after `idle_timeout_s` without one; at most
    # `max_concurrency` requests at a time per serving process (429 beyond).
    idle_timeout_s = models.PositiveIntegerField(default=300)
    max_concurrency = models.PositiveIntegerField(default=5)
    # Data capture: this percentage of requests and responses is written to storage (0 = off).
    capture_percent = models.FloatField(default=0.0)
    # Asynchronous: `webhook_url` (WebhookSubscriber) is POSTed, signed with `webhook_secret`, when a request
    # finishes (apps/core/webhooks.py: retried, each attempt logged); empty = no notification.
    # Bumped on every change the serving processes must see.
    config_version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class EndpointVariant(models.Model):
    """A production variant: one model version and its share of the traffic (weights are relative)."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="variants")
    name = models.CharField(max_length=63)
    model_version = models.ForeignKey("registry.ModelVersion", on_delete=models.PROTECT, related_name="+")
    weight = models.FloatField(default=1.0)
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["endpoint", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["endpoint", "name"], name="endpoint_variant_unique_name")]

    def __str__(self) -> str:
        return f"{self.endpoint.name}/{self.name}"


class EndpointKey(models.Model):
    """A key that may call one endpoint. Only its SHA-256 is stored; the key itself is shown once."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="The first characters, to recognise a key.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.endpoint.name}: {self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class EndpointMetric(models.Model):
    """Requests of one variant in one minute, summed over every serving process. `latency_hist` counts requests
        per latency bucket (apps/endpoints/serving/metrics.BUCKETS_MS) so p50/p99 merge across processes. Invocations
    count the requests that reached the endpoint with a valid key; `client_errors` (4xx) and `server_errors` (5xx) are
    among them."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="metrics")
    variant = models.CharField(max_length=63)
    minute = models.DateTimeField(db_index=True)
    invocations = models.PositiveIntegerField(default=0)
    client_errors = models.PositiveIntegerField(default=0)
    server_errors = models.PositiveIntegerField(default=0)
    latency_sum_ms = models.FloatField(default=0.0)
    latency_max_ms = models.FloatField(default=0.0)
    latency_hist = models.JSONField(default=list)
    captured = models.PositiveIntegerField(default=0)
    capture_dropped = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(
        default=0, help_text="Requests refused for their key (401/403); not in invocations or errors."
    )

    class Meta:
        ordering = ["endpoint", "minute", "variant"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "variant", "minute"], name="endpoint_metric_unique_minute")
        ]

    def __str__(self) -> str:
        return f"{self.endpoint_id}/{self.variant} {self.minute:%Y-%m-%d %H:%M}"


class AsyncInvocation(TimeStampedModel):
    """One request to an asynchronous endpoint: its body streamed to storage, processed by a worker job, its result
    fetched by id. Not started by `expires_at` (the request TTL): expired, never processed."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="async_invocations")
    inference_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(max_length=20, choices=AsyncStatus.choices, default=AsyncStatus.QUEUED, db_index=True)
    content_type = models.CharField(max_length=100)
    probabilities = models.BooleanField(default=False)
    input_path = models.CharField(max_length=500)
    input_bytes = models.BigIntegerField(default=0)
    output_path = models.CharField(max_length=500, blank=True)
    rows = models.BigIntegerField(null=True, blank=True)
    variant = models.CharField(max_length=63, blank=True)
    error = models.TextField(blank=True)
    webhook_url = models.URLField(max_length=500, blank=True, help_text="The endpoint's webhook URL when submitted.")
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    expires_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.endpoint.name} async {self.inference_id}"


class BatchTransform(ProjectOwnedModel):
    """Predictions of one model version for every row of one dataset version, saved as a new dataset version."""

    model_version = models.ForeignKey("registry.ModelVersion", on_delete=models.PROTECT, related_name="+")
    # SET_NULL: deleting the input dataset keeps the record (and its output) of the transform.
    dataset_version = models.ForeignKey(
        "datasets.DatasetVersion", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    join_input_columns = models.BooleanField(default=False, help_text="Copy the input columns into the output.")
    probabilities = models.BooleanField(default=True, help_text="Add one probability column per class.")
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    output_version = models.ForeignKey(
        "datasets.DatasetVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rows = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Batch transform #{self.pk}"

    @property
    def status(self) -> str:
        return self.job.status if self.job_id and self.job else "queued"
