from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import personas, selectors
from apps.jobs.api.serializers import JobAcceptedSerializer, JobDetailSerializer, JobSerializer
from apps.jobs.filtersets import JobFilterSet
from apps.jobs.selectors import job_list_for_user
from apps.jobs.services import job_cancel, job_start


class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    capability = personas.USE_STUDIO
    capabilities = {"cancel": personas.CANCEL_JOBS}
    filterset_class = JobFilterSet
    ordering_fields = ["created_at", "status"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        qs = job_list_for_user(user=self.request.user).defer(None)  # type: ignore[arg-type]
        # The list shows `error` (one query per row if deferred) but never the log.
        return qs.defer("log") if self.action == "list" else qs

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        return JobDetailSerializer if self.action == "retrieve" else JobSerializer

    @extend_schema(request=None, responses=JobSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        job = job_cancel(job=self.get_object())
        return Response(JobSerializer(job).data, status=status.HTTP_200_OK)


class StorageReportStartApi(APIView):
    """Start the project storage report job: counts and bytes per asset type."""

    capability = personas.USE_STUDIO
    capabilities = {"post": personas.RUN_JOBS}

    @extend_schema(request=None, responses={202: JobAcceptedSerializer})
    def post(self, request: Request, pk: int) -> Response:
        project = selectors.project_get_for_user(user=request.user, pk=pk)  # type: ignore[arg-type]
        job = job_start(kind="core.storage_report", project=project, created_by=request.user)  # type: ignore[arg-type]
        return Response({"id": job.pk, "job": job.pk}, status=status.HTTP_202_ACCEPTED)
