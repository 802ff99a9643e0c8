"""Canvas API: start and read builds, check data, predict, batch-predict, select a candidate, register."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts import personas
from apps.accounts.requests import request_user
from apps.accounts.selectors import project_get_for_user
from apps.automl import selectors, services
from apps.automl.api import serializers as s
from apps.core.api.errors import error_response
from apps.core.api.schema import CONFLICT, AcceptedSerializer, QueuedSerializer
from apps.core.artifacts import ArtifactTampered
from apps.datasets import selectors as data_selectors


def _tampered(exc: ArtifactTampered) -> Response:
    return error_response(status.HTTP_409_CONFLICT, str(exc), code="artifact_refused", field="artifact")


class AutomlBuildViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """`POST /api/automl/` starts a build (202 `{id, job}`); `GET /api/automl/{id}/` reads it."""

    capability = personas.USE_STUDIO
    capabilities = {"create": personas.RUN_JOBS, "batch_predict": personas.RUN_JOBS, "select": personas.RUN_JOBS}

    serializer_class = s.BuildSerializer
    filterset_fields = ["project"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.build_list_for_user(user=self.request.user).order_by("-created_at", "-pk")

    def get_object(self):  # type: ignore[no-untyped-def]
        return selectors.build_get_for_user(user=self.request.user, pk=self.kwargs["pk"])

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        return s.BuildDetailSerializer if self.action == "retrieve" else s.BuildSerializer

    @extend_schema(request=s.BuildStartSerializer, responses={202: AcceptedSerializer})
    def create(self, request: Request) -> Response:
        data = s.BuildStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        project = project_get_for_user(user=request_user(request), pk=v["project"])
        version = data_selectors.version_get_for_user(user=request_user(request), pk=v["dataset_version"])
        build = services.automl_build_start(
            project=project,
            created_by=request_user(request),
            version=version,
            target=v["target"],
            problem_type=v.get("problem_type"),
            objective=v.get("objective"),
            mode=v.get("mode"),
            time_budget_s=v.get("time_budget_s"),
            seed=v.get("seed"),
            name=v.get("name") or "",
        )
        return Response({"id": build.pk, "job": build.job_id}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=s.CheckSerializer, responses=OpenApiTypes.OBJECT)
    @action(detail=False, methods=["post"])
    def check(self, request: Request) -> Response:
        """The validation checklist for a dataset version and target, before starting a build."""
        data = s.CheckSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        version = data_selectors.version_get_for_user(user=request_user(request), pk=v["dataset_version"])
        options, checks = services.automl_check(
            version=version, target=v["target"], problem_type=v.get("problem_type"), objective=v.get("objective")
        )
        blocked = any(c["severity"] == "error" for c in checks)
        return Response({"ok": not blocked, "checks": checks, "target": options["target"]})

    @extend_schema(responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["get"])
    def progress(self, request: Request, pk: str | None = None) -> Response:
        """Live state while the build runs: status, trials done, best score and its history."""
        return Response(selectors.build_progress(build=self.get_object()))

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def predict(self, request: Request, pk: str | None = None) -> Response:
        build = self.get_object()
        rows = request.data.get("rows") if isinstance(request.data, dict) else None
        try:
            return Response(services.automl_predict(build=build, rows=rows))
        except ArtifactTampered as exc:
            return _tampered(exc)

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def explain(self, request: Request, pk: str | None = None) -> Response:
        """Why this prediction: `{"rows": [one row]}` as for predict; answers the row's SHAP contributions
        (`expected_value` + contributions + `rest` == `prediction`), what is explained (`output`), the method and
        a waterfall `figure`."""
        build = self.get_object()
        rows = request.data.get("rows") if isinstance(request.data, dict) else None
        try:
            return Response(services.automl_explain_row(build=build, rows=rows))
        except ArtifactTampered as exc:
            return _tampered(exc)

    @extend_schema(request=OpenApiTypes.OBJECT, responses={202: QueuedSerializer})
    @action(detail=True, methods=["post"], url_path="batch-predict")
    def batch_predict(self, request: Request, pk: str | None = None) -> Response:
        build = self.get_object()
        raw = request.data.get("dataset_version") if isinstance(request.data, dict) else None
        if raw in (None, ""):
            raise ValidationError({"dataset_version": "This field is required."})
        version = data_selectors.version_get_for_user(user=request_user(request), pk=raw)
        job = services.automl_batch_predict_start(build=build, created_by=request_user(request), version=version)
        return Response({"job": job.pk}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: s.BuildDetailSerializer, 202: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def select(self, request: Request, pk: str | None = None) -> Response:
        """Select a candidate: 200 with the build when it has a fitted model, 202 `{job, candidate}` when a job
        started to refit it on all rows (it is selected when that job succeeds)."""
        build = self.get_object()
        body: dict[str, Any] = request.data if isinstance(request.data, dict) else {}
        selection = services.automl_candidate_select(
            build=build, candidate=body.get("candidate"), created_by=request_user(request)
        )
        if selection.job is not None:
            return Response(
                {"job": selection.job.pk, "candidate": selection.candidate}, status=status.HTTP_202_ACCEPTED
            )
        return Response(s.BuildDetailSerializer(selection.build).data)

    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: s.RegisteredVersionSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"], url_path="register", url_name="package")
    def register(self, request: Request, pk: str | None = None) -> Response:
        build = self.get_object()
        body: dict[str, Any] = request.data if isinstance(request.data, dict) else {}
        try:
            version = services.automl_register(
                build=build, created_by=request_user(request), candidate=body.get("candidate"), name=body.get("name")
            )
        except ArtifactTampered as exc:
            return _tampered(exc)
        return Response(s.RegisteredVersionSerializer(version).data, status=status.HTTP_201_CREATED)
