"""The jobs part of the labeling API (see api/__init__.py): list and create jobs (JSON, or multipart with `file`),
read, update and delete one, pause / resume / cancel it, and an item's image."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, Http404
from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import personas
from apps.accounts.models import WorkTeam
from apps.accounts.requests import request_user
from apps.accounts.selectors import project_get_for_user
from apps.core.api.errors import error_response
from apps.core.api.negotiation import AttachmentNegotiation
from apps.core.ids import int_param
from apps.core.uploads import CappedUploadApiMixin, refusal_message, upload_refusal
from apps.datasets import selectors as data_selectors
from apps.labeling import selectors
from apps.labeling.api import serializers as s
from apps.labeling.choices import JobStatus, TaskType
from apps.labeling.images import image_response
from apps.labeling.models import LabelingItem
from apps.labeling.services import jobs as services
from apps.registry import selectors as registry_selectors


class LabelingJobViewSet(
    CappedUploadApiMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """`GET /api/labeling-jobs/` (`?project=`, `?status=`, `?task_type=`), `POST` creates one (201 with its
    `prepare_job`); `GET|PATCH|DELETE /api/labeling-jobs/{id}/`."""

    capability = personas.USE_STUDIO
    capabilities = {
        "create": personas.MANAGE_LABELING,
        "partial_update": personas.MANAGE_LABELING,
        "destroy": personas.MANAGE_LABELING,
    }
    serializer_class = s.LabelingJobSerializer
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        jobs = selectors.job_list_for_user(user=self.request.user).select_related("created_by")
        params = self.request.query_params
        project = int_param(params, "project", min_value=1)
        if project is not None:
            jobs = jobs.filter(project_id=project)
        wanted = params.get("status")
        if wanted:
            if wanted not in JobStatus.values:
                raise ValidationError({"status": f"One of: {', '.join(JobStatus.values)}."})
            jobs = jobs.filter(status=wanted)
        kind = params.get("task_type")
        if kind:
            if kind not in TaskType.values:
                raise ValidationError({"task_type": f"One of: {', '.join(TaskType.values)}."})
            jobs = jobs.filter(task_type=kind)
        return jobs.order_by("-created_at", "-pk")

    def get_object(self):  # type: ignore[no-untyped-def]
        return selectors.job_get_for_user(user=self.request.user, pk=self.kwargs["pk"])

    def _detail(self, pk: int, code: int = status.HTTP_200_OK) -> Response:
        job = selectors.job_get_for_user(user=request_user(self.request), pk=pk)
        return Response(s.LabelingJobSerializer(job).data, status=code)

    @extend_schema(
        request={
            "application/json": s.LabelingJobCreateSerializer,
            "multipart/form-data": s.LabelingJobCreateSerializer,
        },
        responses={201: s.LabelingJobSerializer},
    )
    def create(self, request: Request) -> Response:
        request.data  # noqa: B018 - parse the body now (through the capped upload handler)
        limit = upload_refusal(request)
        if limit is not None:
            return error_response(
                status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, refusal_message(limit), code="too_large", field="file"
            )
        body = s.LabelingJobCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v: dict[str, Any] = dict(body.validated_data)
        user = request_user(request)
        project = project_get_for_user(user=user, pk=v.pop("project"))
        team = WorkTeam.objects.filter(pk=v.pop("team"), project=project).first()
        if team is None:
            raise ValidationError({"team": "No such work team in this project."})
        for key, get in (
            ("dataset_version", data_selectors.version_get_for_user),
            ("source_job", selectors.job_get_for_user),
            ("pre_annotation_model", registry_selectors.version_get_for_user),
        ):
            pk = v.pop(key, None)
            v[key] = get(user=user, pk=pk) if pk else None
        v.pop("file", None)
        files = request.FILES.getlist("file") if hasattr(request, "FILES") else []
        job = services.labeling_job_create(project=project, created_by=user, team=team, upload=files or None, **v)
        return self._detail(job.pk, status.HTTP_201_CREATED)

    @extend_schema(request=s.LabelingJobUpdateSerializer, responses=s.LabelingJobSerializer)
    def partial_update(self, request: Request, pk: int) -> Response:
        job = self.get_object()
        raw = request.data if hasattr(request.data, "keys") else {}
        unknown = sorted(set(raw) - set(s.LabelingJobUpdateSerializer().fields))
        if unknown:
            raise ValidationError({unknown[0]: "This field cannot be changed after the job is created."})
        body = s.LabelingJobUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        services.labeling_job_update(job=job, **body.validated_data)
        return self._detail(job.pk)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: int) -> Response:
        services.labeling_job_delete(job=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class LabelingJobStatusApi(APIView):
    """`POST /api/labeling-jobs/{id}/status/` `{"status": "paused" | "active" | "cancelled"}`: pause, resume or
    cancel (200 with the job)."""

    capability = personas.USE_STUDIO
    capabilities = {"post": personas.MANAGE_LABELING}

    @extend_schema(request=s.LabelingJobStatusSerializer, responses=s.LabelingJobSerializer)
    def post(self, request: Request, pk: int) -> Response:
        user = request_user(request)
        job = selectors.job_get_for_user(user=user, pk=pk)
        body = s.LabelingJobStatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.labeling_job_status_set(job=job, status=body.validated_data["status"])
        return Response(s.LabelingJobSerializer(selectors.job_get_for_user(user=user, pk=pk)).data)


def item_for_image(user: Any, pk: int) -> LabelingItem:
    """The item, for a studio member of its project or a worker of its job's team; 404 for anyone else."""
    if personas.user_can(user, personas.USE_STUDIO):
        try:
            return selectors.item_get_for_user(user=user, pk=pk)
        except Http404:
            pass
    if personas.user_can(user, personas.USE_LABELING):
        item = (
            LabelingItem.objects.select_related("job")
            .filter(pk=pk, job__in=selectors.job_list_for_worker(user=user))
            .first()
        )
        if item is not None:
            return item
    raise Http404("No such labeling item.")


class LabelingItemImageApi(APIView):
    """`GET /api/labeling-items/{id}/image`: the item's stored (checked, re-encoded) image, as an attachment with
    nosniff and a fixed image content type; for studio members of the project and workers of the job's team."""

    capability = personas.SIGNED_IN  # studio or worker: checked here through the selectors
    content_negotiation_class = AttachmentNegotiation

    @extend_schema(
        responses={
            (200, "image/png"): OpenApiResponse(description="The image (PNG or JPEG)."),
            (200, "image/jpeg"): OpenApiResponse(description="The image (JPEG)."),
        }
    )
    def get(self, request: Request, pk: int) -> FileResponse:
        return image_response(item_for_image(request_user(request), pk))


job_list = LabelingJobViewSet.as_view({"get": "list", "post": "create"})
job_detail = LabelingJobViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"})

urlpatterns: list = [
    path("labeling-jobs/", job_list, name="labeling-job-list"),
    path("labeling-jobs/<id:pk>/", job_detail, name="labeling-job-detail"),
    path("labeling-jobs/<id:pk>/status/", LabelingJobStatusApi.as_view(), name="labeling-job-status"),
    path("labeling-items/<id:pk>/image", LabelingItemImageApi.as_view(), name="labeling-item-image"),
]
