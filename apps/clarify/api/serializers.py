from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.clarify import services
from apps.clarify.models import ClarifyReport
from apps.core.api.fields import IdField


class ReportListSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True)
    project = serializers.IntegerField(source="project_id", read_only=True)
    dataset_version = serializers.IntegerField(source="dataset_version_id", read_only=True)
    model_version = serializers.IntegerField(source="model_version_id", read_only=True, allow_null=True)
    automl_build = serializers.IntegerField(source="automl_build_id", read_only=True, allow_null=True)
    parent = serializers.IntegerField(source="parent_id", read_only=True, allow_null=True)
    job = serializers.IntegerField(source="job_id", read_only=True, allow_null=True)

    class Meta:
        model = ClarifyReport
        fields = [
            "id",
            "project",
            "name",
            "kind",
            "status",
            "dataset_version",
            "model_version",
            "automl_build",
            "candidate",
            "parent",
            "mitigation",
            "job",
            "created_at",
        ]
        read_only_fields = fields


def _part(obj: ClarifyReport, key: str) -> Any:
    return (obj.analysis or {}).get(key)


class ReportSerializer(ReportListSerializer):
    """A report in SageMaker Clarify's analysis.json shape (`version`, `pre_training_bias_metrics`,
    `post_training_bias_metrics`, `explanations`; null until the job succeeded), with its config, thresholds,
    flags, details (rates per facet, SHAP samples, PDPs, sample sizes), links and, when it failed, the error."""

    version = serializers.SerializerMethodField()
    pre_training_bias_metrics = serializers.SerializerMethodField()
    post_training_bias_metrics = serializers.SerializerMethodField()
    explanations = serializers.SerializerMethodField()
    flags = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()
    mitigated_reports = serializers.SerializerMethodField()
    compare = serializers.SerializerMethodField()

    class Meta(ReportListSerializer.Meta):
        fields = [
            *ReportListSerializer.Meta.fields,
            "version",
            "pre_training_bias_metrics",
            "post_training_bias_metrics",
            "explanations",
            "config",
            "thresholds",
            "flags",
            "details",
            "mitigation_info",
            "mitigated_reports",
            "compare",
            "links",
            "error",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_version(self, obj: ClarifyReport) -> Any:
        return _part(obj, "version")

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_pre_training_bias_metrics(self, obj: ClarifyReport) -> Any:
        return _part(obj, "pre_training_bias_metrics")

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_post_training_bias_metrics(self, obj: ClarifyReport) -> Any:
        return _part(obj, "post_training_bias_metrics")

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_explanations(self, obj: ClarifyReport) -> Any:
        return _part(obj, "explanations")

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_flags(self, obj: ClarifyReport) -> list[dict[str, Any]]:
        rows = services.report_flags(obj) if obj.analysis else []
        return [services.json_safe(r) for r in rows]

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_mitigated_reports(self, obj: ClarifyReport) -> list[int]:
        return list(obj.mitigated_reports.order_by("pk").values_list("pk", flat=True))

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_compare(self, obj: ClarifyReport) -> Any:
        parent = obj.parent
        if parent is None or not parent.analysis or not obj.analysis:
            return None
        return services.json_safe(services.report_compare(before=parent, after=obj))

    @extend_schema_field(serializers.DictField(child=serializers.CharField(allow_null=True)))
    def get_links(self, obj: ClarifyReport) -> dict[str, str | None]:
        def url(name: str, pk: int | None) -> str | None:
            return reverse(name, kwargs={"pk": pk}) if pk else None

        return {
            "self": url("api:clarify-report-detail", obj.pk),
            "analysis_json": url("api:clarify-report-analysis-json", obj.pk) if obj.analysis else None,
            "report_html": url("api:clarify-report-html", obj.pk) if obj.analysis else None,
            "dataset_version": url("api:dataset-version-detail", obj.dataset_version_id),
            "model_version": url("api:model-version-detail", obj.model_version_id),
            "automl_build": url("api:automl-detail", obj.automl_build_id),
            "parent": url("api:clarify-report-detail", obj.parent_id),
            "job": url("api:job-detail", obj.job_id),
        }

    def get_error(self, obj: ClarifyReport) -> str:
        job: Any = obj.job
        if job is not None and job.status == "failed":
            return str(job.error or job.message)
        return str((obj.mitigation_info or {}).get("error") or "")


class ReportStartSerializer(serializers.Serializer):
    """The analysis config goes in `config` (see apps/clarify/services.py) or at the top level (`label`,
    `positive_label_values`, `facet` + `facet_values` or `facets`, ...); the service checks every part and names the
    field at fault."""

    project = IdField(required=False)
    dataset_version = IdField()
    model_version = IdField(required=False, allow_null=True)
    automl_build = IdField(required=False, allow_null=True)
    candidate = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    name = serializers.CharField(required=False, allow_blank=True, default="")
    config = serializers.JSONField(required=False, default=dict)
    label = serializers.CharField(required=False)
    positive_label_values = serializers.JSONField(required=False)
    label_threshold = serializers.JSONField(required=False)
    facet = serializers.CharField(required=False)
    facet_values = serializers.JSONField(required=False)
    facet_threshold = serializers.JSONField(required=False)
    facets = serializers.JSONField(required=False)
    group = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    reference = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    probability_threshold = serializers.JSONField(required=False)
    explain = serializers.JSONField(required=False)

    FLAT = (
        "label",
        "positive_label_values",
        "label_threshold",
        "facets",
        "group",
        "reference",
        "probability_threshold",
        "explain",
    )

    def config_of(self, data: dict[str, Any]) -> Any:
        config = data.get("config")
        if not isinstance(config, dict):
            return config
        config = dict(config)
        for key in self.FLAT:
            if key in data:
                config[key] = data[key]
        if data.get("facet") and "facets" not in data:
            config["facets"] = [
                {"name": data["facet"], "values": data.get("facet_values"), "threshold": data.get("facet_threshold")}
            ]
        return config


class ThresholdsSerializer(serializers.Serializer):
    thresholds = serializers.DictField(
        child=serializers.FloatField(allow_null=True), help_text="{metric name: threshold}; null: back to the default."
    )


class MitigateSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="reweigh, resample, exponentiated_gradient or threshold_optimizer")
    params = serializers.JSONField(required=False, default=dict, help_text="{facet?, constraint?, seed?}")
    facet = serializers.CharField(required=False)
    constraint = serializers.CharField(required=False)

    def params_of(self, data: dict[str, Any]) -> Any:
        params = data.get("params")
        if not isinstance(params, dict):
            return params
        params = dict(params)
        for key in ("facet", "constraint"):
            if key in data:
                params[key] = data[key]
        return params
