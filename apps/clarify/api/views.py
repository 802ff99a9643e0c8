"""Clarify API: start a report (202 `{id, job}`), list (`?project=`, `?dataset_version=`, `?model_version=`,
`?automl_build=`, `?parent=`), read one in SageMaker's analysis.json shape, download analysis.json and the
self-contained HTML report, set flag thresholds, start a mitigation (202 `{id, job}`: the "after" report)."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpResponse
from django.utils.text import slugify
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import personas
from apps.accounts.requests import request_user
from apps.accounts.selectors import project_get_for_user
from apps.automl import selectors as automl_selectors
from apps.clarify import selectors, services
from apps.clarify.api import serializers as s
from apps.clarify.filtersets import ReportFilterSet
from apps.clarify.models import ClarifyReport
from apps.core.api.negotiation import AttachmentNegotiation
from apps.core.api.schema import AcceptedSerializer
from apps.core.attachments import attachment
from apps.datasets import selectors as data_selectors
from apps.registry import selectors as registry_selectors


class ClarifyReportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """`POST /api/clarify/reports/` starts a bias report (202 `{id, job}`); `GET /api/clarify/reports/{id}/` reads
    it in SageMaker Clarify's analysis.json shape with its status, config, thresholds, flags and links."""

    capability = personas.USE_STUDIO
    capabilities = {"create": personas.RUN_JOBS, "thresholds": personas.RUN_JOBS, "mitigate": personas.RUN_JOBS}

    filterset_class = ReportFilterSet

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        return s.ReportListSerializer if self.action == "list" else s.ReportSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.report_list_for_user(user=self.request.user).order_by("-created_at", "-pk")

    def get_object(self):  # type: ignore[no-untyped-def]
        return selectors.report_get_for_user(user=self.request.user, pk=self.kwargs["pk"])

    def _detail(self, report: ClarifyReport, code: int = status.HTTP_200_OK) -> Response:
        fresh = selectors.report_get_for_user(user=request_user(self.request), pk=report.pk)
        return Response(s.ReportSerializer(fresh).data, status=code)

    @extend_schema(request=s.ReportStartSerializer, responses={202: AcceptedSerializer})
    def create(self, request: Request) -> Response:
        data = s.ReportStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        user = request_user(request)
        version = data_selectors.version_get_for_user(user=user, pk=v["dataset_version"])
        project = project_get_for_user(user=user, pk=v["project"] if v.get("project") else version.project_id)
        model_version = (
            registry_selectors.version_get_for_user(user=user, pk=v["model_version"])
            if v.get("model_version")
            else None
        )
        build = automl_selectors.build_get_for_user(user=user, pk=v["automl_build"]) if v.get("automl_build") else None
        report = services.report_start(
            project=project,
            created_by=user,
            dataset_version=version,
            config=data.config_of(v),
            model_version=model_version,
            automl_build=build,
            candidate=v.get("candidate") or "",
            name=v.get("name") or "",
        )
        return Response({"id": report.pk, "job": report.job_id}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=s.ThresholdsSerializer, responses=s.ReportSerializer)
    @action(detail=True, methods=["post", "patch"])
    def thresholds(self, request: Request, pk: str | None = None) -> Response:
        """Flag thresholds per metric (`{"thresholds": {"DPL": 0.1}}`; null puts one back to its default)."""
        report = self.get_object()
        body: Any = request.data if hasattr(request.data, "get") else {}
        services.report_thresholds_set(report=report, thresholds=body.get("thresholds"))
        return self._detail(report)

    @extend_schema(request=s.MitigateSerializer, responses={202: AcceptedSerializer})
    @action(detail=True, methods=["post"])
    def mitigate(self, request: Request, pk: str | None = None) -> Response:
        """Start a mitigation: reweigh or resample (a new dataset version), exponentiated_gradient (a new Canvas
        build) or threshold_optimizer (a new candidate); 202 with the "after" report and its job."""
        report = self.get_object()
        data = s.MitigateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        after = services.mitigation_start(
            report=report,
            kind=data.validated_data["kind"],
            params=data.params_of(data.validated_data),
            created_by=request_user(request),
        )
        return Response({"id": after.pk, "job": after.job_id}, status=status.HTTP_202_ACCEPTED)


def _finished(user: Any, pk: Any) -> ClarifyReport:
    report = selectors.report_get_for_user(user=user, pk=pk)
    if report.analysis is None:
        raise Http404("The report has no analysis yet (its job has not succeeded).")
    return report


def _stem(report: ClarifyReport) -> str:
    version = report.dataset_version
    return f"{slugify(version.dataset.name) or 'dataset'}-v{version.number}-clarify-{report.pk}"


class ReportAnalysisJsonApi(APIView):
    """The report's analysis.json as SageMaker Clarify writes it (an attachment; 404 until the job succeeded)."""

    capability = personas.USE_STUDIO
    content_negotiation_class = AttachmentNegotiation

    @extend_schema(responses={(200, "application/json"): OpenApiResponse(description="analysis.json")})
    def get(self, request: Request, pk: int) -> HttpResponse:
        report = _finished(request_user(request), pk)
        body = services.analysis_json(report)
        return attachment(HttpResponse(body, content_type="application/json"), f"{_stem(report)}-analysis.json")


class ReportHtmlApi(APIView):
    """The report as one self-contained HTML file (inline styles and charts, no network; an attachment)."""

    capability = personas.USE_STUDIO
    content_negotiation_class = AttachmentNegotiation

    @extend_schema(responses={(200, "text/html"): OpenApiResponse(description="The HTML report.")})
    def get(self, request: Request, pk: int) -> HttpResponse:
        from apps.clarify.report_html import REPORT_CSP

        report = _finished(request_user(request), pk)
        response = HttpResponse(services.report_html(report), content_type="text/html; charset=utf-8")
        response["Content-Security-Policy"] = REPORT_CSP  # the file's own policy: inline charts, no network
        return attachment(response, f"{_stem(report)}.html")
