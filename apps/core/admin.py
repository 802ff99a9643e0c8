from django.contrib import admin

from apps.core.models import Artifact, Notification


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
