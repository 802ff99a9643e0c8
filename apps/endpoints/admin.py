from django.contrib import admin

from apps.endpoints.models import (
    AsyncInvocation,
    BatchTransform,
    Endpoint,
    EndpointKey,
    EndpointMetric,
    EndpointVariant,
)


class VariantInline(admin.TabularInline):
    model = EndpointVariant
    extra = 0
    raw_id_fields = ("model_version",)


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    list_display = ("name", "project", "type", "status", "capture_percent", "created_at")
    list_filter = ("type", "status")
    search_fields = ("name",)
    raw_id_fields = ("created_by",)
    inlines = [VariantInline]
    list_select_related = ("project",)


@admin.register(EndpointVariant)
class EndpointVariantAdmin(admin.ModelAdmin):
    list_display = ("endpoint", "name", "model_version", "weight")
    raw_id_fields = ("endpoint", "model_version")
    list_select_related = ("endpoint", "model_version__group")


@admin.register(EndpointKey)
class EndpointKeyAdmin(admin.ModelAdmin):
    """Keys are created and revoked in the studio (the raw key is shown once there); here they are read-only."""

    list_display = ("endpoint", "name", "prefix", "created_at", "revoked_at")
    readonly_fields = ("endpoint", "name", "prefix", "key_hash", "created_by", "created_at", "expires_at")
    list_select_related = ("endpoint",)

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(EndpointMetric)
class EndpointMetricAdmin(admin.ModelAdmin):
    list_display = ("endpoint", "variant", "minute", "invocations", "client_errors", "server_errors")
    list_filter = ("variant",)
    raw_id_fields = ("endpoint",)
    list_select_related = ("endpoint",)


@admin.register(AsyncInvocation)
class AsyncInvocationAdmin(admin.ModelAdmin):
    list_display = ("inference_id", "endpoint", "status", "input_bytes", "created_at", "finished_at")
    list_filter = ("status",)
    raw_id_fields = ("endpoint", "job")
    list_select_related = ("endpoint",)


@admin.register(BatchTransform)
class BatchTransformAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "model_version", "dataset_version", "output_version", "created_at")
    raw_id_fields = ("model_version", "dataset_version", "output_version", "job", "created_by")
    list_select_related = ("project", "model_version__group", "dataset_version__dataset", "output_version__dataset")
