from __future__ import annotations

from rest_framework import serializers

from apps.accounts.models import APIToken, Project, WorkTeam


class ProjectSerializer(serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = ["id", "name", "slug", "description", "created_at"]
        read_only_fields = ["id", "slug", "created_at"]


class ProjectCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class APITokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = APIToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at"]
        read_only_fields = fields


class APITokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)


class WorkTeamSerializer(serializers.ModelSerializer):
    members: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", many=True, read_only=True
    )

    class Meta:
        model = WorkTeam
        fields = ["id", "project", "name", "description", "members", "created_at"]
        read_only_fields = fields


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField()
    personas = serializers.ListField(child=serializers.CharField(), source="persona_names")
    is_admin = serializers.BooleanField()
