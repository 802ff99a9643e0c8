from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.core.api.fields import IdField
from apps.registry.choices import ApprovalStatus
from apps.registry.models import ApprovalEvent, ModelGroup, ModelVersion


def _username(user: Any) -> str | None:
    return user.username if user is not None else None


class ModelGroupSerializer(serializers.ModelSerializer):
    project = serializers.IntegerField(source="project_id", read_only=True)
    version_count = serializers.IntegerField(read_only=True)
    latest_version = serializers.IntegerField(read_only=True, allow_null=True)
    latest_approval_status = serializers.CharField(source="latest_status", read_only=True, allow_null=True)

    class Meta:
        model = ModelGroup
        fields = [
            "id",
            "project",
            "name",
            "description",
            "tags",
            "version_count",
            "latest_version",
            "latest_approval_status",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ModelVersionSerializer(serializers.ModelSerializer):
    project = serializers.IntegerField(source="project_id", read_only=True)
    group = serializers.IntegerField(source="group_id", read_only=True)
    group_name = serializers.CharField(source="group.name", read_only=True)
    aliases = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "project",
            "group",
            "group_name",
            "version",
            "format",
            "problem_type",
            "source_kind",
            "approval_status",
            "aliases",
            "metrics",
            "tags",
            "created_at",
        ]
        read_only_fields = fields

    def get_aliases(self, obj: ModelVersion) -> list[str]:
        return [a.name for a in obj.aliases.all()]


class ApprovalEventSerializer(serializers.ModelSerializer):
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = ApprovalEvent
        fields = ["from_status", "to_status", "description", "created_by", "created_at"]
        read_only_fields = fields

    def get_created_by(self, obj: ApprovalEvent) -> str | None:
        return _username(obj.created_by)


class ModelVersionDetailSerializer(ModelVersionSerializer):
    artifact = serializers.SerializerMethodField()
    lineage = serializers.SerializerMethodField()
    approval = serializers.SerializerMethodField()
    approval_history = ApprovalEventSerializer(source="approval_events", many=True, read_only=True)
    created_by = serializers.SerializerMethodField()

    class Meta(ModelVersionSerializer.Meta):
        fields = [
            *ModelVersionSerializer.Meta.fields,
            "description",
            "target",
            "signature",
            "classes",
            "hyperparameters",
            "library_versions",
            "candidate",
            "lineage",
            "metadata",
            "artifact",
            "approval",
            "approval_history",
            "created_by",
            "updated_at",
        ]
        read_only_fields = fields

    def get_artifact(self, obj: ModelVersion) -> dict[str, Any]:
        return {"sha256": obj.artifact.sha256, "size": obj.artifact.size, "signed": True}

    def get_lineage(self, obj: ModelVersion) -> dict[str, Any]:
        return {
            "dataset_version": obj.dataset_version_id,
            "automl_build": obj.automl_build_id,
            "tuning_job": obj.tuning_job_id,
            "candidate": obj.candidate,
            "source": obj.source_kind,
        }

    def get_approval(self, obj: ModelVersion) -> dict[str, Any]:
        return {
            "status": obj.approval_status,
            "description": obj.approval_description,
            "by": _username(obj.approval_by),
            "at": obj.approval_at,
        }

    def get_created_by(self, obj: ModelVersion) -> str | None:
        return _username(obj.created_by)


class VersionUpdateSerializer(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    tags = serializers.JSONField(required=False)
    metadata = serializers.JSONField(required=False)


class ApprovalSerializer(serializers.Serializer):
    status = serializers.CharField(help_text=" | ".join(ApprovalStatus.values))
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class AliasSerializer(serializers.Serializer):
    alias = serializers.CharField(max_length=63)


class ImportSerializer(serializers.Serializer):
    """Multipart. `signature` (JSON: {"inputs": [{name, type}]}) only when the file does not name its columns."""

    project = IdField()
    group = serializers.CharField(max_length=63)
    file = serializers.FileField()
    format = serializers.CharField(required=False, allow_blank=True, help_text="skops or onnx; detected when empty.")
    signature = serializers.CharField(required=False, allow_blank=True)
    classes = serializers.CharField(required=False, allow_blank=True)
    problem_type = serializers.CharField(required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    tags = serializers.JSONField(required=False)
