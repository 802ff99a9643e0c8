from __future__ import annotations

from rest_framework import serializers

from apps.jobs.models import Job


class JobSerializer(serializers.ModelSerializer):
    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "title",
            "project",
            "status",
            "progress",
            "message",
            "error",
            "result",
            "attempts",
            "max_attempts",
            "created_at",
            "started_at",
            "finished_at",
            "updated_at",
        ]
        read_only_fields = fields


class JobDetailSerializer(JobSerializer):
    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "params", "log"]
        read_only_fields = fields


class JobAcceptedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    job = serializers.IntegerField()
