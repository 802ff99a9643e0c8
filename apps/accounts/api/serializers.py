from __future__ import annotations

from rest_framework import serializers

from apps.accounts.models import APIToken, Invitation, Project, WorkTeam
from apps.core.api.fields import IdField


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
        fields = ["id", "project", "name", "description", "kind", "worker_limit", "members", "created_at"]
        read_only_fields = fields


USERNAMES_HELP = "Usernames, the team's whole new member list (employees teams: members of the project)."


class WorkTeamCreateSerializer(serializers.Serializer):
    project = IdField()
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    members = serializers.ListField(
        child=serializers.CharField(max_length=150), required=False, default=list, help_text=USERNAMES_HELP
    )
    kind = serializers.ChoiceField(choices=WorkTeam.Kind.choices, required=False, default=WorkTeam.Kind.EMPLOYEES)
    worker_limit = serializers.IntegerField(
        min_value=1, max_value=1_000_000, required=False, allow_null=True, default=None
    )


class WorkTeamUpdateSerializer(serializers.Serializer):
    """PATCH: only the fields given change."""

    name = serializers.CharField(max_length=100, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    members = serializers.ListField(
        child=serializers.CharField(max_length=150), required=False, help_text=USERNAMES_HELP
    )
    kind = serializers.ChoiceField(choices=WorkTeam.Kind.choices, required=False)
    worker_limit = serializers.IntegerField(min_value=1, max_value=1_000_000, required=False, allow_null=True)


class TeamInvitationSerializer(serializers.ModelSerializer):
    state = serializers.CharField(read_only=True)

    class Meta:
        model = Invitation
        fields = ["id", "email", "state", "created_at", "expires_at", "accepted_at", "revoked_at"]
        read_only_fields = fields


class TeamInvitationCreatedSerializer(TeamInvitationSerializer):
    link = serializers.CharField(read_only=True, help_text="The sign-up link: returned once, only its hash is kept.")

    class Meta(TeamInvitationSerializer.Meta):
        fields = [*TeamInvitationSerializer.Meta.fields, "link"]
        read_only_fields = fields


class TeamInvitationCreateSerializer(serializers.Serializer):
    email = serializers.EmailField()


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField()
    personas = serializers.ListField(child=serializers.CharField(), source="persona_names")
    is_admin = serializers.BooleanField()
