"""Built-in algorithms API: start a run (202 `{id, job}`), list runs (`?project=`), read one with its charts."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts import personas
from apps.accounts.requests import request_user
from apps.accounts.selectors import project_get_for_user
from apps.core.api.schema import AcceptedSerializer
from apps.datasets import selectors as data_selectors
from apps.unsupervised import selectors, services
from apps.unsupervised.api import serializers as s


class UnsupervisedRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """`POST /api/unsupervised/` starts a run (202 `{id, job}`); `GET /api/unsupervised/{id}/` reads it with
    its status, chart data, info and output dataset version."""

    capability = personas.USE_STUDIO
    capabilities = {"create": personas.RUN_JOBS}

    filterset_fields = ["project", "algorithm"]

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        return s.RunListSerializer if self.action == "list" else s.RunSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.run_list_for_user(user=self.request.user).order_by("-created_at", "-pk")

    def get_object(self):  # type: ignore[no-untyped-def]
        return selectors.run_get_for_user(user=self.request.user, pk=self.kwargs["pk"])

    @extend_schema(request=s.RunStartSerializer, responses={202: AcceptedSerializer})
    def create(self, request: Request) -> Response:
        data = s.RunStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        project = project_get_for_user(user=request_user(request), pk=v["project"])
        version = data_selectors.version_get_for_user(user=request_user(request), pk=v["dataset_version"])
        run = services.unsupervised_run_start(
            project=project,
            created_by=request_user(request),
            version=version,
            algorithm=v["algorithm"],
            options=v.get("options"),
            columns=v.get("columns"),
        )
        return Response({"id": run.pk, "job": run.job_id}, status=status.HTTP_202_ACCEPTED)
