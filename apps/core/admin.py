from django.contrib import admin

from apps.core.models import Artifact, Notification, WebhookDelivery


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["title", "user", "level", "created_at", "read_at"]
    list_filter = ["level", "created_at", "read_at"]
    search_fields = ["title", "body", "user__username"]


@admin.register(Artifact)
class ArtifactAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "project", "size", "sha256", "created_by", "created_at"]
    list_filter = ["kind", "project"]
    search_fields = ["path", "sha256", "kind"]
    list_select_related = ["project", "created_by"]
    readonly_fields = ["project", "kind", "path", "sha256", "size", "signature", "meta", "created_by", "created_at"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """The delivery log: one row per attempt (read-only; deliveries are made by workers)."""

    list_display = [
        "id",
        "created_at",
        "project",
        "event",
        "url",
        "attempt",
        "outcome",
        "status_code",
        "latency_ms",
        "next_attempt_at",
    ]
    list_filter = ["outcome", "event", "project"]
    search_fields = ["url", "reference", "delivery_id", "error"]
    list_select_related = ["project"]
    readonly_fields = [
        "project",
        "target_type",
        "target_id",
        "delivery_id",
        "event",
        "reference",
        "url",
        "body",
        "payload_sha256",
        "attempt",
        "outcome",
        "status_code",
        "latency_ms",
        "error",
        "created_at",
        "scheduled_at",
        "attempted_at",
        "next_attempt_at",
    ]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
