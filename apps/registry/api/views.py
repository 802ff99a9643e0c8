"""Registry API: groups and versions (read, edit description/tags/metadata), approval (MLOps engineers and admins),
aliases, import of skops/ONNX files and export as an MLflow model directory."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import FileResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts import personas
from apps.accounts.requests import request_user
from apps.accounts.selectors import project_get_for_user
from apps.core.api.errors import error_response
from apps.core.api.negotiation import AttachmentNegotiation
from apps.core.artifacts import ArtifactTampered
from apps.core.attachments import file_attachment
from apps.core.uploads import CappedUploadApiMixin, upload_refusal
from apps.registry import importing, selectors, services
from apps.registry.api import serializers as s
from apps.registry.export import export_name, version_export_mlflow
from apps.registry.filtersets import GroupFilterSet, VersionFilterSet
from apps.registry.loading import UnsafeModel


def _conflict(exc: Exception) -> Response:
    """The stored artifact cannot be used (tampered, or no longer allowed): 409, nothing is loaded."""
    return error_response(status.HTTP_409_CONFLICT, str(exc), code="artifact_refused", field="artifact")


def _too_large() -> Response:
    message = importing.too_large_message(importing.max_import_bytes())
    return error_response(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, message, code="too_large", field="file")


class ModelGroupViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Model groups (SageMaker model package groups) of the caller's projects, with version counts."""

    capability = personas.USE_STUDIO

    serializer_class = s.ModelGroupSerializer
    filterset_class = GroupFilterSet
    ordering_fields = ["name", "created_at"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.group_list_for_user(user=self.request.user).order_by("name", "pk")

    def get_object(self):  # type: ignore[no-untyped-def]
        return selectors.group_get_for_user(user=self.request.user, pk=self.kwargs["pk"])


class ModelVersionViewSet(
    CappedUploadApiMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Model versions. `PATCH` edits description, tags and metadata; approval, aliases, import and export are
    their own actions."""

    capability = personas.USE_STUDIO
    capabilities = {"approval": personas.APPROVE_MODELS}

    serializer_class = s.ModelVersionSerializer
    filterset_class = VersionFilterSet
    ordering_fields = ["version", "created_at"]
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    content_negotiation_class = AttachmentNegotiation  # `?format=` filters on the model format here

    def upload_max_bytes(self) -> int:  # imports stream to disk under REGISTRY_MAX_IMPORT_BYTES
        return importing.max_import_bytes()

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.version_list_for_user(user=self.request.user).order_by("group__name", "-version", "pk")

    def get_object(self):  # type: ignore[no-untyped-def]
        return selectors.version_get_for_user(user=self.request.user, pk=self.kwargs["pk"])

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        return s.ModelVersionDetailSerializer if self.action == "retrieve" else s.ModelVersionSerializer

    def _detail(self, version: Any, code: int = status.HTTP_200_OK) -> Response:
        fresh = selectors.version_get_for_user(user=request_user(self.request), pk=version.pk)
        return Response(s.ModelVersionDetailSerializer(fresh).data, status=code)

    @extend_schema(request=s.VersionUpdateSerializer, responses=s.ModelVersionDetailSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        version = self.get_object()
        data = s.VersionUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        services.version_update(
            version=version, description=v.get("description"), tags=v.get("tags"), metadata=v.get("metadata")
        )
        return self._detail(version)

    @extend_schema(request=s.ApprovalSerializer, responses=s.ModelVersionDetailSerializer)
    @action(detail=True, methods=["post"])
    def approval(self, request: Request, pk: str | None = None) -> Response:
        """Approve, reject or send back to pending (MLOps engineers and admins); recorded in the history."""
        version = self.get_object()
        data = s.ApprovalSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.version_approval_update(
            version=version,
            user=request_user(request),
            status=data.validated_data["status"],
            description=data.validated_data.get("description", ""),
        )
        return self._detail(version)

    @extend_schema(request=s.AliasSerializer, responses=s.ModelVersionDetailSerializer)
    @action(detail=True, methods=["post", "delete"])
    def aliases(self, request: Request, pk: str | None = None) -> Response:
        """POST points the group's alias at this version (moving it from another); DELETE removes it."""
        version = self.get_object()
        body: Any = request.data if hasattr(request.data, "get") else {}
        alias = body.get("alias") or request.query_params.get("alias")
        if alias in (None, ""):
            raise ValidationError({"alias": "This field is required."})
        if request.method == "DELETE":
            services.alias_delete(version=version, name=alias)
        else:
            services.alias_set(version=version, name=alias)
        return self._detail(version)

    @extend_schema(request={"multipart/form-data": s.ImportSerializer}, responses={201: s.ModelVersionDetailSerializer})
    @action(detail=False, methods=["post"], url_path="import", url_name="import")
    def import_file(self, request: Request) -> Response:
        """A skops or ONNX file as the next version of a group (never a pickle): 201 with the version."""
        request.data  # noqa: B018 - parse the body now (through the capped upload handler)
        if upload_refusal(request) is not None:
            return _too_large()
        raw_project = request.data.get("project") if hasattr(request.data, "get") else None
        if raw_project in (None, ""):
            raise ValidationError({"project": "This field is required."})
        project = project_get_for_user(user=request_user(request), pk=raw_project)
        data = s.ImportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            version = importing.version_import(
                project=project,
                created_by=request_user(request),
                group_name=v["group"],
                uploaded_file=v["file"],
                fmt=v.get("format"),
                signature=v.get("signature"),
                classes=v.get("classes"),
                problem_type=v.get("problem_type"),
                description=v.get("description", ""),
                tags=v.get("tags"),
            )
        except importing.ImportTooLarge:
            return _too_large()
        return self._detail(version, status.HTTP_201_CREATED)

    @extend_schema(
        responses={
            (200, "application/zip"): OpenApiResponse(description="The MLflow model directory."),
            409: OpenApiResponse(description="The artifact failed its integrity check."),
        }
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="export/mlflow",
        url_name="export-mlflow",
        content_negotiation_class=AttachmentNegotiation,
    )
    def export_mlflow(self, request: Request, pk: str | None = None) -> Response | FileResponse:
        """The version as an MLflow model directory (ZIP) that `mlflow models serve` serves."""
        version = self.get_object()
        try:
            archive = version_export_mlflow(version=version)
        except (ArtifactTampered, UnsafeModel) as exc:
            return _conflict(exc)
        return file_attachment(archive, f"{export_name(version)}-mlflow.zip", "application/zip")
