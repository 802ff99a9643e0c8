from django.contrib import admin

from apps.clarify.models import ClarifyReport


@admin.register(ClarifyReport)
class ClarifyReportAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "project", "kind", "dataset_version", "model_version", "automl_build", "created_at")
    list_filter = ("kind", "mitigation")
    raw_id_fields = ("dataset_version", "model_version", "automl_build", "job", "created_by", "parent")
    list_select_related = ("project", "dataset_version__dataset", "model_version", "automl_build")
