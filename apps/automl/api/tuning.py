"""Tuning jobs API: `POST /api/tuning/` starts one (202 `{id, job}`), `GET /api/tuning/{id}/` reads it with its
trials, `GET /api/tuning/{id}/trials/` follows the trials live, `GET /api/tuning/ranges/` gives an algorithm's
default hyperparameter ranges. Cancel through the job: `POST /api/jobs/{job}/cancel/` (helpers stop too)."""

from __future__ import annotations

from typing import Any, cast

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts import personas
from apps.accounts.models import User
from apps.accounts.selectors import project_get_for_user
from apps.automl import charts, selectors, tuning
from apps.automl.forms import ranges_to_rows
from apps.automl.models import TuningJob
from apps.core.api.fields import IdField
from apps.core.api.schema import AcceptedSerializer
from apps.datasets import selectors as data_selectors


class TuningJobSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True)
    job = serializers.IntegerField(source="job_id", read_only=True, allow_null=True)
    project = serializers.IntegerField(source="project_id", read_only=True)
    dataset_version = serializers.IntegerField(source="dataset_version_id", read_only=True)
    warm_start_from: serializers.Field = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    candidate = serializers.SerializerMethodField()

    class Meta:
        model = TuningJob
        fields = [
            "id",
            "project",
            "name",
            "dataset_version",
            "target",
            "algorithm",
            "problem_type",
            "objective",
            "strategy",
            "spec",
            "warm_start_from",
            "status",
            "job",
            "stop_reason",
            "trials_done",
            "best_value",
            "best_params",
            "candidate",
            "created_at",
        ]
        read_only_fields = fields

    def get_candidate(self, obj: TuningJob) -> int | None:
        build = obj.candidate
        return build.pk if build is not None else None


class TuningStartSerializer(serializers.Serializer):
    project = IdField()
    dataset_version = IdField()
    target = serializers.CharField()
    spec = serializers.JSONField(
        help_text="algorithm, ranges, strategy, max_trials, max_parallel, early_stopping, "
        "completion {target_value, patience, min_improvement}, max_runtime_s, seed"
    )
    warm_start_from = serializers.ListField(child=IdField(), required=False, default=list)
    name = serializers.CharField(required=False, allow_blank=True, default="")


class TuningViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    capability = personas.USE_STUDIO
    capabilities = {"create": personas.RUN_JOBS}
    serializer_class = TuningJobSerializer
    filterset_fields = ["project"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.tuning_list_for_user(user=self.request.user).order_by("-created_at", "-pk")

    def get_object(self):  # type: ignore[no-untyped-def]
        return selectors.tuning_get_for_user(user=self.request.user, pk=self.kwargs["pk"])

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        obj = self.get_object()
        return Response({**TuningJobSerializer(obj).data, "trials": tuning.tuning_trials(tuning=obj)})

    @extend_schema(request=TuningStartSerializer, responses={202: AcceptedSerializer})
    def create(self, request: Request) -> Response:
        data = TuningStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v: dict[str, Any] = data.validated_data
        user = cast(User, request.user)
        project = project_get_for_user(user=user, pk=v["project"])
        version = data_selectors.version_get_for_user(user=user, pk=v["dataset_version"])
        job = tuning.tuning_start(
            project=project,
            created_by=user,
            version=version,
            target=v["target"],
            spec=v["spec"],
            name=v["name"],
            warm_start_from=v["warm_start_from"],
        )
        return Response({"id": job.pk, "job": job.job_id}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["get"])
    def trials(self, request: Request, pk: str | None = None) -> Response:
        """Every trial so far (state, parameters, value, worker) and the best; live while the job runs."""
        obj = self.get_object()
        summary = tuning.tuning_trials(tuning=obj)
        return Response(
            {
                "status": obj.status,
                "stop_reason": obj.stop_reason,
                **summary,
                "figure": charts.trials_figure(summary, obj.objective),
            }
        )

    @extend_schema(
        parameters=[OpenApiParameter("algorithm", str), OpenApiParameter("problem_type", str)],
        responses=OpenApiTypes.OBJECT,
    )
    @action(detail=False, methods=["get"])
    def ranges(self, request: Request) -> Response:
        """Default ranges: `?algorithm=lightgbm&problem_type=binary` → `{ranges, rows}`; `rows` are the same ranges
        as the setup form's table rows, numbers written as the server writes them (1.0 stays 1.0, not 1)."""
        q = request.query_params
        ranges = tuning.default_ranges(algorithm=q.get("algorithm"), problem_type=q.get("problem_type"))
        return Response({"ranges": ranges, "rows": ranges_to_rows(ranges)})
