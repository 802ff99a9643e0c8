from django.contrib import admin

from apps.automl.models import AutomlBuild, AutomlCandidateModel, TuningJob


@admin.register(AutomlBuild)
class AutomlBuildAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "target", "problem_type", "mode", "best_candidate", "created_at")
    list_filter = ("mode", "problem_type")
    search_fields = ("target", "name")
    raw_id_fields = ("dataset_version", "job", "artifact", "created_by", "tuning_job")
    list_select_related = ("project",)


@admin.register(AutomlCandidateModel)
class AutomlCandidateModelAdmin(admin.ModelAdmin):
    list_display = ("id", "build", "name", "project", "created_at")
    search_fields = ("name",)
    raw_id_fields = ("build", "job", "artifact", "created_by")
    list_select_related = ("project", "build")


@admin.register(TuningJob)
class TuningJobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "project",
        "algorithm",
        "target",
        "strategy",
        "trials_done",
        "best_value",
        "stop_reason",
        "created_at",
    )
    list_filter = ("algorithm", "strategy")
    search_fields = ("target", "name", "study_name")
    raw_id_fields = ("dataset_version", "job", "created_by")
    filter_horizontal = ("warm_start_from",)
    list_select_related = ("project",)
