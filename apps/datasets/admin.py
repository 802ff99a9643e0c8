from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin

from apps.datasets.models import DataConnection, Dataset, DatasetVersion, Flow, FlowAnalysis, ProfileReport


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "latest_version", "created_by", "created_at"]
    list_filter = ["project", "created_at"]
    list_select_related = ["project", "latest_version__dataset", "created_by"]
    search_fields = ["name", "description"]
    raw_id_fields = ["latest_version", "import_job"]


@admin.register(DatasetVersion)
class DatasetVersionAdmin(admin.ModelAdmin):
    list_display = ["id", "dataset", "number", "kind", "row_count", "column_count", "bytes", "project", "created_at"]
    list_filter = ["kind", "project", "created_at"]
    list_select_related = ["dataset", "project"]
    search_fields = ["dataset__name", "file"]
    readonly_fields = [f.name for f in DatasetVersion._meta.fields]
    raw_id_fields = ["parents"]

    def has_add_permission(self, request: Any) -> bool:
        return False  # versions are written by jobs only (immutable)


@admin.register(ProfileReport)
class ProfileReportAdmin(admin.ModelAdmin):
    list_display = ["id", "version", "target", "project", "bytes", "created_at"]
    list_filter = ["project", "created_at"]
    list_select_related = ["version__dataset", "project"]
    readonly_fields = [f.name for f in ProfileReport._meta.fields]

    def has_add_permission(self, request: Any) -> bool:
        return False


@admin.register(Flow)
class FlowAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "output_name", "created_by", "updated_at"]
    list_filter = ["project", "created_at"]
    list_select_related = ["project", "created_by"]
    search_fields = ["name", "description"]
    raw_id_fields = ["source_versions"]


@admin.register(FlowAnalysis)
class FlowAnalysisAdmin(admin.ModelAdmin):
    list_display = ["title", "flow", "kind", "step_id", "sample_rows", "created_at"]
    list_filter = ["kind", "created_at"]
    list_select_related = ["flow"]
    search_fields = ["title"]


class DataConnectionForm(forms.ModelForm):
    class Meta:
        model = DataConnection
        fields = ["name", "url", "description", "projects"]
        widgets = {"url": forms.PasswordInput(render_value=True, attrs={"size": 80})}

    def clean_url(self) -> str:
        from apps.datasets.sql import SqlError, check_connection_url

        url = self.cleaned_data["url"]
        try:
            check_connection_url(url)
        except SqlError as exc:
            raise forms.ValidationError(exc.message) from exc
        return url


@admin.register(DataConnection)
class DataConnectionAdmin(admin.ModelAdmin):
    """Only admins reach the console, so only admins create connections and decide which projects use them."""

    form = DataConnectionForm
    list_display = ["name", "masked_url", "project_count", "created_by", "created_at"]
    search_fields = ["name", "description"]
    filter_horizontal = ["projects"]

    def get_queryset(self, request: Any) -> Any:
        from django.db.models import Count

        return super().get_queryset(request).select_related("created_by").annotate(n_projects=Count("projects"))

    @admin.display(description="URL")
    def masked_url(self, obj: DataConnection) -> str:
        return obj.safe_url

    @admin.display(description="Projects", ordering="n_projects")
    def project_count(self, obj: Any) -> int:
        return obj.n_projects

    def save_model(self, request: Any, obj: DataConnection, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
