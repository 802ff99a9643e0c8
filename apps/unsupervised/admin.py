from django.contrib import admin

from apps.unsupervised.models import UnsupervisedRun


@admin.register(UnsupervisedRun)
class UnsupervisedRunAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "algorithm", "dataset_version", "output_version", "created_at")
    list_filter = ("algorithm",)
    raw_id_fields = ("dataset_version", "output_version", "job", "created_by")
    list_select_related = ("project", "dataset_version__dataset", "output_version__dataset")
