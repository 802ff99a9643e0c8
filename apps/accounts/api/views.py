from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import personas, selectors, services
from apps.accounts.api.serializers import (
    APITokenCreateSerializer,
    APITokenSerializer,
    MeSerializer,
    ProjectCreateSerializer,
    ProjectSerializer,
    TeamInvitationCreatedSerializer,
    TeamInvitationCreateSerializer,
    TeamInvitationSerializer,
    WorkTeamCreateSerializer,
    WorkTeamSerializer,
    WorkTeamUpdateSerializer,
)
from apps.accounts.models import User
from apps.accounts.requests import request_user


class ProjectViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    capability = personas.USE_STUDIO
    capabilities = {"create": personas.CREATE_PROJECT}
    serializer_class = ProjectSerializer
    filterset_fields = ["slug"]
    ordering_fields = ["name", "created_at"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.project_list_for_user(user=self.request.user).order_by("name")  # type: ignore[arg-type]

    @extend_schema(request=ProjectCreateSerializer, responses={201: ProjectSerializer})
    def create(self, request: Request) -> Response:
        data = ProjectCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.project_create(created_by=request.user, **data.validated_data)  # type: ignore[arg-type]
        return Response(ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


def _members(usernames: list[str]) -> list[User]:
    users, missing = selectors.user_list_active_by_usernames(usernames=usernames)
    if missing:
        raise ValidationError({"members": f"No active user named {', '.join(repr(n[:150]) for n in missing)}."})
    return users


class WorkTeamViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Work teams: `POST /api/work-teams/` (`{project, name, members: [username], kind?, worker_limit?}`) → 201;
    `PATCH /api/work-teams/{id}/` changes the fields given (`members`: the whole new list). An employees team holds
    project members; a vendor team outside people, who join through `POST /api/work-teams/{id}/invitations/`
    (`{email}` → 201 with the sign-up `link`, returned once)."""

    capability = personas.USE_STUDIO
    capabilities = {
        "create": personas.MANAGE_WORKTEAMS,
        "partial_update": personas.MANAGE_WORKTEAMS,
        "invitations:post": personas.MANAGE_WORKTEAMS,
    }
    serializer_class = WorkTeamSerializer
    filterset_fields = ["project", "kind"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.work_team_list_for_user(user=self.request.user)  # type: ignore[arg-type]

    def get_object(self):  # type: ignore[no-untyped-def]
        return selectors.work_team_get_for_user(user=request_user(self.request), pk=self.kwargs["pk"])

    @extend_schema(request=WorkTeamCreateSerializer, responses={201: WorkTeamSerializer})
    def create(self, request: Request) -> Response:
        data = WorkTeamCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        project = selectors.project_get_for_user(user=request_user(request), pk=v["project"])
        team = services.work_team_save(
            project=project,
            name=v["name"],
            description=v["description"],
            members=_members(v["members"]),
            kind=v["kind"],
            worker_limit=v["worker_limit"],
        )
        return Response(WorkTeamSerializer(self.get_queryset().get(pk=team.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=WorkTeamUpdateSerializer, responses=WorkTeamSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        team = self.get_object()
        data = WorkTeamUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        changes: dict[str, Any] = {k: v[k] for k in ("kind", "worker_limit") if k in v}
        team = services.work_team_save(
            project=team.project,
            team=team,
            name=v.get("name", team.name),
            description=v.get("description", team.description),
            members=_members(v["members"]) if "members" in v else list(team.members.all()),
            **changes,
        )
        return Response(WorkTeamSerializer(self.get_queryset().get(pk=team.pk)).data)

    @extend_schema(methods=["GET"], responses=TeamInvitationSerializer(many=True))
    @extend_schema(
        methods=["POST"], request=TeamInvitationCreateSerializer, responses={201: TeamInvitationCreatedSerializer}
    )
    @action(detail=True, methods=["get", "post"], url_path="invitations", url_name="invitations", pagination_class=None)
    def invitations(self, request: Request, pk: str | None = None) -> Response:
        """A vendor team's invitation links (GET: every one with its state; POST: a new one, its link shown once).
        Whoever accepts gets the Labeler persona and joins this team only, not the project."""
        team = self.get_object()
        if request.method == "GET":
            rows = selectors.team_invitation_list_for_user(user=request_user(request)).filter(team=team)
            return Response(TeamInvitationSerializer(rows, many=True).data)
        data = TeamInvitationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation, token = services.work_team_invitation_create(
            team=team, email=data.validated_data["email"], created_by=request_user(request)
        )
        link = request.build_absolute_uri(reverse("accounts:invitation_accept", args=[token]))
        return Response({**TeamInvitationSerializer(invitation).data, "link": link}, status=status.HTTP_201_CREATED)


class TeamInvitationViewSet(viewsets.GenericViewSet):
    """`POST /api/work-team-invitations/{id}/revoke/`: the link stops working (an accepted one stays accepted)."""

    capability = personas.USE_STUDIO
    capabilities = {"revoke": personas.MANAGE_WORKTEAMS}
    serializer_class = TeamInvitationSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.team_invitation_list_for_user(user=request_user(self.request))

    @extend_schema(request=None, responses=TeamInvitationSerializer)
    @action(detail=True, methods=["post"], url_path="revoke", url_name="revoke")
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        invitation = selectors.team_invitation_get_for_user(user=request_user(request), pk=pk)
        services.invitation_revoke(invitation=invitation)
        invitation.refresh_from_db()
        return Response(TeamInvitationSerializer(invitation).data)


class APITokenViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The caller's own API tokens. The key is returned once, on creation."""

    serializer_class = APITokenSerializer
    capability = personas.SIGNED_IN

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.api_token_list_for_user(user=self.request.user)  # type: ignore[arg-type]

    @extend_schema(request=APITokenCreateSerializer, responses={201: APITokenSerializer})
    def create(self, request: Request) -> Response:
        data = APITokenCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token, key = services.api_token_create(user=request.user, name=data.validated_data["name"])  # type: ignore[arg-type]
        return Response({**APITokenSerializer(token).data, "key": key}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: APITokenSerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        token = self.get_object()
        services.api_token_revoke(token=token)
        token.refresh_from_db()
        return Response(APITokenSerializer(token).data)


class MeApi(APIView):
    capability = personas.SIGNED_IN

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(request.user).data)
