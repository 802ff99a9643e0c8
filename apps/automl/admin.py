from django.contrib import admin

from apps.automl.models import AutomlBuild, AutomlModelPackage


@admin.register(AutomlBuild)
class AutomlBuildAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "target", "problem_type", "mode", "best_candidate", "created_at")
    list_filter = ("mode", "problem_type")
    search_fields = ("target", "name")
    raw_id_fields = ("dataset_version", "job", "artifact", "created_by")
    list_select_related = ("project",)


@admin.register(AutomlModelPackage)
class AutomlModelPackageAdmin(admin.ModelAdmin):
    list_display = ("name", "version", "project", "candidate", "problem_type", "created_at")
    search_fields = ("name",)
    raw_id_fields = ("build", "artifact", "training_dataset_version", "created_by")
    list_select_related = ("project",)
