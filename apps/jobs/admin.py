from django.contrib import admin, messages

from apps.jobs.models import Job, WorkerHeartbeat
from apps.jobs.services import job_cancel


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "title",
        "project",
        "status",
        "progress",
        "attempts",
        "created_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "kind", "project", "created_at"]
    search_fields = ["id", "kind", "title", "message", "error"]
    readonly_fields = [f.name for f in Job._meta.fields]
    actions = ["cancel_jobs"]
    list_select_related = ["project", "created_by"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    @admin.action(description="Cancel selected jobs")
    def cancel_jobs(self, request, queryset):  # type: ignore[no-untyped-def]
        for job in queryset:
            job_cancel(job=job)
        messages.info(request, f"Cancel requested for {queryset.count()} job(s).")


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["hostname", "pid", "queues", "started_at", "last_seen"]
    search_fields = ["hostname"]
