from django.contrib import admin

from apps.labeling.models import AutoLabelRound, LabelingExport, LabelingItem, LabelingJob, LabelingTask


@admin.register(LabelingJob)
class LabelingJobAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "project", "task_type", "status", "team", "item_count", "labeled_count", "created_at")
    list_filter = ("task_type", "status", "source_kind")
    search_fields = ("name",)
    raw_id_fields = (
        "dataset_version",
        "source_job",
        "team",
        "pre_annotation_model",
        "prepare_job",
        "consolidate_job",
        "created_by",
    )
    list_select_related = ("project", "team")


@admin.register(LabelingItem)
class LabelingItemAdmin(admin.ModelAdmin):
    list_display = ("id", "job", "position", "answer_count", "is_open", "label_source", "confidence", "review_status")
    list_filter = ("label_source", "review_status", "is_gold")
    raw_id_fields = ("job", "reviewed_by")
    list_select_related = ("job",)


@admin.register(LabelingTask)
class LabelingTaskAdmin(admin.ModelAdmin):
    list_display = ("id", "job", "item", "worker", "status", "claimed_at", "answered_at", "time_spent_ms")
    list_filter = ("status",)
    raw_id_fields = ("job", "item", "worker")
    list_select_related = ("job", "item", "worker")


@admin.register(LabelingExport)
class LabelingExportAdmin(admin.ModelAdmin):
    list_display = ("id", "labeling_job", "format", "item_count", "size_bytes", "created_at")
    list_filter = ("format",)
    raw_id_fields = ("labeling_job", "job", "dataset_version", "created_by")
    list_select_related = ("labeling_job", "project")


@admin.register(AutoLabelRound)
class AutoLabelRoundAdmin(admin.ModelAdmin):
    list_display = ("id", "labeling_job", "number", "human_labels", "threshold", "held_out_accuracy", "auto_labeled")
    raw_id_fields = ("labeling_job", "job")
    list_select_related = ("labeling_job",)
