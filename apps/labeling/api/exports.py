"""The exports part of the labeling API: a streamed export (`GET labeling-jobs/{id}/export/?format=`), export jobs
(`GET|POST labeling-jobs/{id}/exports/`, `GET labeling-exports/{id}/download/`) and automated labeling
(`POST labeling-jobs/{id}/autolabel/`). Reads are for studio personas; starting an export or a round needs
MANAGE_LABELING. A Labeler reaches none of it."""

from __future__ import annotations

from typing import Any

from django.http import Http404, StreamingHttpResponse
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import personas
from apps.accounts.requests import request_user
from apps.accounts.selectors import object_get_for_user
from apps.core.api.negotiation import AttachmentNegotiation
from apps.core.api.pagination import Pagination
from apps.core.api.schema import AcceptedSerializer
from apps.core.attachments import attachment, file_attachment
from apps.labeling.choices import ExportFormat
from apps.labeling.models import LabelingExport
from apps.labeling.selectors import job_get_for_user
from apps.labeling.services import autolabel as autolabel_services
from apps.labeling.services import export as export_services


class ExportSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()
    message = serializers.SerializerMethodField()
    download = serializers.SerializerMethodField()

    class Meta:
        model = LabelingExport
        fields = [
            "id",
            "labeling_job",
            "format",
            "job",
            "status",
            "message",
            "size_bytes",
            "item_count",
            "dataset_version",
            "download",
            "created_at",
        ]
        ref_name = "LabelingExport"

    def get_status(self, obj: LabelingExport) -> str | None:
        return obj.job.status if obj.job else None

    def get_message(self, obj: LabelingExport) -> str:
        return obj.job.message if obj.job else ""

    def get_download(self, obj: LabelingExport) -> str | None:
        return f"/api/labeling-exports/{obj.pk}/download/" if obj.file else None


class ExportStartSerializer(serializers.Serializer):
    format = serializers.CharField(help_text=f"One of: {', '.join(ExportFormat.values)} (as the job's type allows).")


def _format_parameter() -> OpenApiParameter:
    return OpenApiParameter(
        "format",
        OpenApiTypes.STR,
        description="manifest (default), csv, coco, conll or preference, as the job's task type allows",
    )


class LabelingJobExportApi(APIView):
    """The job's labels as one streamed file (`?format=`, default manifest); a format that does not fit the task type
    is a 400 naming the ones that do."""

    capability = personas.USE_STUDIO
    content_negotiation_class = AttachmentNegotiation

    @extend_schema(
        parameters=[_format_parameter()],
        responses={(200, "application/octet-stream"): OpenApiResponse(description="The export file.")},
    )
    def get(self, request: Request, pk: int) -> Any:
        job = job_get_for_user(user=request_user(request), pk=pk)
        stream = export_services.export_stream(job=job, fmt=request.query_params.get("format") or "manifest")
        return attachment(StreamingHttpResponse(stream.chunks, content_type=stream.content_type), stream.filename)


class LabelingJobExportsApi(APIView):
    """`GET`: the job's export jobs (newest first); `POST {format}`: start one (202 `{id, job}`); format "dataset"
    writes a new dataset version with the labels."""

    capability = personas.USE_STUDIO
    capabilities = {"post": personas.MANAGE_LABELING}

    @extend_schema(responses=ExportSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        job = job_get_for_user(user=request_user(request), pk=pk)
        query = LabelingExport.objects.filter(labeling_job=job).select_related("job").order_by("-created_at", "-pk")
        paginator = Pagination()
        page = paginator.paginate_queryset(query, request, view=self)
        return paginator.get_paginated_response(ExportSerializer(page, many=True).data)

    @extend_schema(request=ExportStartSerializer, responses={202: AcceptedSerializer})
    def post(self, request: Request, pk: int) -> Response:
        user = request_user(request)
        job = job_get_for_user(user=user, pk=pk)
        body: Any = request.data if hasattr(request.data, "get") else {}
        export = export_services.export_start(job=job, fmt=body.get("format"), user=user)
        return Response({"id": export.pk, "job": export.job_id}, status=status.HTTP_202_ACCEPTED)


class LabelingExportDownloadApi(APIView):
    """The file an export job wrote (an attachment; 404 until the job succeeded, and for a dataset export, whose
    result is a dataset version)."""

    capability = personas.USE_STUDIO
    content_negotiation_class = AttachmentNegotiation

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiResponse(description="The export file.")})
    def get(self, request: Request, pk: int) -> Any:
        export = object_get_for_user(
            LabelingExport.objects.select_related("labeling_job"), user=request_user(request), pk=pk
        )
        if export.format == ExportFormat.DATASET:
            raise Http404("A dataset export has no file: open its dataset version.")
        handle = export_services.export_open(export=export)
        if handle is None:
            raise Http404("The export has no file yet (its job has not succeeded).")
        content_type = export_services.CONTENT[ExportFormat(export.format)][0]
        return file_attachment(handle, export_services.export_filename(export), content_type)


class LabelingJobAutolabelApi(APIView):
    """Start the next round of automated labeling (202 `{id, job}`: the round and its job); too early (fewer human
    labels than the job needs), a task type other than tabular or text classification, or a round still running is a
    400 saying so."""

    capability = personas.USE_STUDIO
    capabilities = {"post": personas.MANAGE_LABELING}

    @extend_schema(request=None, responses={202: AcceptedSerializer})
    def post(self, request: Request, pk: int) -> Response:
        user = request_user(request)
        job = job_get_for_user(user=user, pk=pk)
        round_ = autolabel_services.autolabel_start(job=job, user=user)
        return Response({"id": round_.pk, "job": round_.job_id}, status=status.HTTP_202_ACCEPTED)


urlpatterns: list = [
    path("labeling-jobs/<id:pk>/export/", LabelingJobExportApi.as_view(), name="labeling-job-export"),
    path("labeling-jobs/<id:pk>/exports/", LabelingJobExportsApi.as_view(), name="labeling-job-exports"),
    path("labeling-exports/<id:pk>/download/", LabelingExportDownloadApi.as_view(), name="labeling-export-download"),
    path("labeling-jobs/<id:pk>/autolabel/", LabelingJobAutolabelApi.as_view(), name="labeling-job-autolabel"),
]
