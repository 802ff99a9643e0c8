from __future__ import annotations

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
    WorkTeamSerializer,
)


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


class WorkTeamViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    capability = personas.USE_STUDIO
    serializer_class = WorkTeamSerializer
    filterset_fields = ["project"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.work_team_list_for_user(user=self.request.user)  # type: ignore[arg-type]


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
