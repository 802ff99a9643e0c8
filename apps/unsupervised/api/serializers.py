from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.core.api.fields import IdField
from apps.unsupervised.models import UnsupervisedRun


class RunListSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True)
    project = serializers.IntegerField(source="project_id", read_only=True)
    dataset_version = serializers.IntegerField(source="dataset_version_id", read_only=True)
    job = serializers.IntegerField(source="job_id", read_only=True, allow_null=True)
    output_version = serializers.IntegerField(source="output_version_id", read_only=True, allow_null=True)

    class Meta:
        model = UnsupervisedRun
        fields = [
            "id",
            "project",
            "algorithm",
            "dataset_version",
            "options",
            "columns",
            "status",
            "job",
            "output_version",
            "info",
            "created_at",
        ]
        read_only_fields = fields


class RunSerializer(RunListSerializer):
    """A run with its chart data and, when it failed, the job's error."""

    error = serializers.SerializerMethodField()

    class Meta(RunListSerializer.Meta):
        fields = [*RunListSerializer.Meta.fields, "chart", "error"]
        read_only_fields = fields

    def get_error(self, obj: UnsupervisedRun) -> str:
        job: Any = obj.job
        return (job.error or job.message) if job is not None and job.status == "failed" else ""


class RunStartSerializer(serializers.Serializer):
    """Types and ranges of the options are checked by the service (errors keyed by the option's name)."""

    project = IdField()
    dataset_version = IdField()
    algorithm = serializers.CharField()
    options = serializers.JSONField(required=False, default=dict)
    columns = serializers.JSONField(required=False, default=list)  # type: ignore[arg-type]
