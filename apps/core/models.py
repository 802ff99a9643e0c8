from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from apps.core.webhook_signing import generate_secret


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class ProjectOwnedModel(TimeStampedModel):
    """Base for every asset: it belongs to a project and remembers who made it."""

    project = models.ForeignKey("accounts.Project", on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        abstract = True


class Notification(models.Model):
    class Level(models.TextChoices):
        INFO = "info", "Info"
        SUCCESS = "success", "Success"
        WARNING = "warning", "Warning"
        ERROR = "error", "Error"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.INFO)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self) -> str:
        return self.title


class Artifact(models.Model):
    """A file our workers wrote, with its SHA-256 and an HMAC checked before every load (apps/core/artifacts.py)."""

    project = models.ForeignKey("accounts.Project", on_delete=models.CASCADE, related_name="artifacts")
    kind = models.CharField(max_length=100, help_text="e.g. automl.model, datasets.report")
    path = models.CharField(max_length=500, unique=True)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    signature = models.CharField(max_length=64)
    meta = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.path}"


class WebhookSubscriber(models.Model):
    """What a model needs to receive signed webhooks (an asynchronous endpoint today; Model Monitor's alerts next):
    the URL (checked through the SSRF guard when saved, apps/core/webhooks.webhook_url_clean) and the secret the
    deliveries are signed with (generated with the row, readable by members who may change it, rotatable; the
    previous secret still signs for WEBHOOK_SECRET_GRACE_S after a rotation)."""

    webhook_url = models.URLField(max_length=500, blank=True)
    webhook_secret = models.CharField(max_length=100, default=generate_secret, editable=False)
    webhook_secret_previous = models.CharField(max_length=100, blank=True, editable=False)
    webhook_secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        abstract = True


class WebhookDelivery(models.Model):
    """One attempt to deliver one webhook message. The attempts of a message share `delivery_id` (sent as
    X-Atelier-Delivery so receivers can drop duplicates); a failed attempt that will be retried says when
    (`next_attempt_at`) and the next attempt's row waits as pending until then."""

    class Outcome(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        RETRYING = "retrying", "Failed, will retry"
        FAILED = "failed", "Failed"

    project = models.ForeignKey("accounts.Project", on_delete=models.CASCADE, related_name="+")
    # The subscriber (its secret signs the body), e.g. an endpoint.
    target_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    target_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("target_type", "target_id")
    delivery_id = models.UUIDField(db_index=True)
    event = models.CharField(max_length=100, help_text="e.g. async_invocation.completed")
    reference = models.CharField(
        max_length=100, blank=True, db_index=True, help_text="What the event is about, e.g. an inference id."
    )
    url = models.URLField(max_length=500)
    body = models.TextField(help_text="The JSON sent (the same bytes on every attempt).")
    payload_sha256 = models.CharField(max_length=64)
    attempt = models.PositiveSmallIntegerField(default=1)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.PENDING, db_index=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    scheduled_at = models.DateTimeField(default=timezone.now, help_text="When this attempt is due.")
    attempted_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["target_type", "target_id", "-created_at"], name="core_webhook_target_idx")]
        constraints = [
            models.UniqueConstraint(fields=["delivery_id", "attempt"], name="core_webhook_one_row_per_attempt")
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.url} (attempt {self.attempt}: {self.outcome})"
