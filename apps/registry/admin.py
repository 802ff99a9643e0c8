from django.contrib import admin

from apps.registry.models import ApprovalEvent, ModelAlias, ModelGroup, ModelVersion


class ApprovalEventInline(admin.TabularInline):
    """The approval history is a record: read-only here (changes go through the approval service)."""

    model = ApprovalEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "from_status", "to_status", "description", "created_by")
    readonly_fields = fields
    ordering = ("-created_at", "-id")

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(ModelGroup)
class ModelGroupAdmin(admin.ModelAdmin):
    list_display = ("name", "project", "created_by", "created_at")
    search_fields = ("name", "description")
    raw_id_fields = ("created_by",)
    list_select_related = ("project", "created_by")


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = (
        "group",
        "version",
        "project",
        "format",
        "source_kind",
        "approval_status",
        "approval_by",
        "created_at",
    )
    list_display_links = ("group", "version")
    list_filter = ("approval_status", "format", "source_kind")
    search_fields = ("group__name", "description", "candidate")
    raw_id_fields = ("group", "artifact", "dataset_version", "automl_build", "tuning_job", "created_by", "approval_by")
    # Approval changes only through the studio (the service checks the persona and writes the history).
    readonly_fields = ("approval_status", "approval_description", "approval_by", "approval_at")
    list_select_related = ("project", "group", "approval_by")
    inlines = [ApprovalEventInline]


@admin.register(ModelAlias)
class ModelAliasAdmin(admin.ModelAdmin):
    list_display = ("name", "group", "version", "updated_at")
    search_fields = ("name", "group__name")
    raw_id_fields = ("group", "version")
    list_select_related = ("group", "version__group")


@admin.register(ApprovalEvent)
class ApprovalEventAdmin(admin.ModelAdmin):
    list_display = ("version", "from_status", "to_status", "created_by", "created_at")
    list_filter = ("to_status",)
    search_fields = ("version__group__name", "description")
    list_select_related = ("version__group", "created_by")

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
