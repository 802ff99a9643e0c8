"""Endpoints API: create (201 with a one-time key), list, read, update variants and weights, keys (create shows
the key once; revoke), per-minute metrics; batch transforms (202 `{id, job}`). Creating and changing endpoints and
keys needs the DEPLOY_MODELS capability (MLOps engineers, admins); only Approved versions deploy."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts import personas
from apps.accounts.models import User
from apps.accounts.requests import request_user
from apps.accounts.selectors import project_get_for_user
from apps.core.api.schema import AcceptedSerializer
from apps.core.ids import int_param
from apps.core.selectors import webhook_deliveries_for
from apps.datasets import selectors as data_selectors
from apps.endpoints import selectors, services
from apps.endpoints.api import serializers as s


def resolve_variants(user: User, data: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Version ids → versions the user may see (another project's id is a 404)."""
    if data.get("model_version"):
        return [{"model_version": selectors.model_version_get_for_user(user=user, pk=data["model_version"])}]
    if data.get("variants"):
        return [
            {
                "model_version": selectors.model_version_get_for_user(user=user, pk=v["model_version"]),
                "weight": v.get("weight", 1.0),
                "name": v.get("name") or "",
            }
            for v in data["variants"]
        ]
    return None


SETTINGS = ("timeout_s", "idle_timeout_s", "max_concurrency", "capture_percent", "webhook_url")


class EndpointViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """`POST /api/endpoints/` → 201 with the endpoint and `key` (shown once). `POST /api/endpoints/{id}/update/`
    replaces the variants (`model_version` or `variants: [{model_version, weight, name?}]`) and/or settings."""

    capability = personas.USE_STUDIO
    capabilities = {
        "create": personas.DEPLOY_MODELS,
        "update_endpoint": personas.DEPLOY_MODELS,
        "keys:post": personas.DEPLOY_MODELS,
        "webhook_secret": personas.DEPLOY_MODELS,
    }

    serializer_class = s.EndpointSerializer
    filterset_fields = ["project", "type", "status"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.endpoint_list_for_user(user=self.request.user).order_by("name", "pk")

    def get_object(self):  # type: ignore[no-untyped-def]
        return selectors.endpoint_get_for_user(user=self.request.user, pk=self.kwargs["pk"])

    @extend_schema(request=s.EndpointCreateSerializer, responses={201: s.EndpointSerializer})
    def create(self, request: Request) -> Response:
        data = s.EndpointCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        user = request_user(request)
        project = project_get_for_user(user=user, pk=v["project"])
        endpoint, key = services.endpoint_create(
            project=project,
            user=user,
            name=v["name"],
            endpoint_type=v.get("type") or "realtime",
            variants=resolve_variants(user, v) or [],
            description=v.get("description", ""),
            **{k: v.get(k) for k in SETTINGS},
        )
        body = s.EndpointSerializer(selectors.endpoint_get_for_user(user=user, pk=endpoint.pk)).data
        return Response({**body, "key": key, "webhook_secret": endpoint.webhook_secret}, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.EndpointUpdateSerializer, responses=s.EndpointSerializer)
    @action(detail=True, methods=["post"], url_path="update", url_name="update")
    def update_endpoint(self, request: Request, pk: str) -> Response:
        endpoint = self.get_object()
        data = s.EndpointUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        user = request_user(request)
        services.endpoint_update(
            endpoint=endpoint, user=user, variants=resolve_variants(user, v), **{k: v[k] for k in SETTINGS if k in v}
        )
        return Response(s.EndpointSerializer(selectors.endpoint_get_for_user(user=user, pk=endpoint.pk)).data)

    @extend_schema(methods=["GET"], responses=s.EndpointKeySerializer(many=True))
    @extend_schema(methods=["POST"], request=s.EndpointKeyCreateSerializer, responses={201: s.EndpointKeySerializer})
    @action(detail=True, methods=["get", "post"], url_path="keys", url_name="keys", pagination_class=None)
    def keys(self, request: Request, pk: str) -> Response:
        endpoint = self.get_object()
        if request.method == "GET":
            return Response(s.EndpointKeySerializer(selectors.endpoint_keys(endpoint=endpoint), many=True).data)
        data = s.EndpointKeyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row, key = services.endpoint_key_create(
            endpoint=endpoint, user=request_user(request), name=data.validated_data.get("name", "")
        )
        return Response({**s.EndpointKeySerializer(row).data, "key": key}, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses=s.WebhookDeliverySerializer(many=True),
        parameters=[
            OpenApiParameter(
                "limit", {"type": "integer", "minimum": 1, "maximum": 200}, description="At most 200 (default 50)."
            )
        ],
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="webhook-deliveries",
        url_name="webhook-deliveries",
        pagination_class=None,
    )
    def webhook_deliveries(self, request: Request, pk: str) -> Response:
        """The latest webhook delivery attempts (`?limit=`, at most 200): status code, latency, attempt, outcome."""
        endpoint = self.get_object()
        limit = int_param(request.query_params, "limit", default=50, min_value=1, max_value=200)
        rows = webhook_deliveries_for(subscriber=endpoint, limit=limit)
        return Response(s.WebhookDeliverySerializer(rows, many=True).data)

    @extend_schema(request=None, responses=s.WebhookSecretSerializer)
    @action(detail=True, methods=["get", "post"], url_path="webhook-secret", url_name="webhook-secret")
    def webhook_secret(self, request: Request, pk: str) -> Response:
        """GET: the secret deliveries are signed with; POST: rotate it (the previous one still signs beside the new
        one until `previous_valid_until`). Both need the DEPLOY_MODELS capability."""
        endpoint = self.get_object()
        if request.method == "POST":
            services.endpoint_webhook_secret_rotate(endpoint=endpoint, user=request_user(request))
        return Response(selectors.endpoint_webhook_secret(endpoint=endpoint))

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "minutes",
                {"type": "integer", "minimum": 1, "maximum": 24 * 60},
                description="The last N minutes (default 60).",
            )
        ],
        responses=OpenApiTypes.OBJECT,
    )
    @action(detail=True, methods=["get"], url_path="metrics", url_name="metrics")
    def metrics(self, request: Request, pk: str) -> Response:
        endpoint = self.get_object()
        minutes = int_param(request.query_params, "minutes", default=60, min_value=1, max_value=24 * 60)
        return Response(selectors.endpoint_metrics(endpoint=endpoint, minutes=minutes))


class EndpointKeyViewSet(viewsets.GenericViewSet):
    capability = personas.USE_STUDIO
    capabilities = {"revoke": personas.DEPLOY_MODELS}
    serializer_class = s.EndpointKeySerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.endpoint_list_for_user(user=self.request.user).none()

    @extend_schema(request=None, responses=s.EndpointKeySerializer)
    @action(detail=True, methods=["post"], url_path="revoke", url_name="revoke")
    def revoke(self, request: Request, pk: str) -> Response:
        key = selectors.endpoint_key_get_for_user(user=request_user(request), pk=pk)
        key = services.endpoint_key_revoke(key=key, user=request_user(request))
        return Response(s.EndpointKeySerializer(key).data)


class BatchTransformViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """`POST /api/batch-transforms/` (`{model_version, dataset_version, join_input_columns?, probabilities?}`)
    → 202 `{id, job}`; the output is a new dataset version (`output_version` once the job succeeded)."""

    capability = personas.USE_STUDIO
    capabilities = {"create": personas.RUN_JOBS}

    serializer_class = s.BatchTransformSerializer
    filterset_fields = ["project", "model_version", "dataset_version"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.batch_transform_list_for_user(user=self.request.user).order_by("-created_at", "-pk")

    def get_object(self):  # type: ignore[no-untyped-def]
        return selectors.batch_transform_get_for_user(user=self.request.user, pk=self.kwargs["pk"])

    @extend_schema(request=s.BatchTransformStartSerializer, responses={202: AcceptedSerializer})
    def create(self, request: Request) -> Response:
        data = s.BatchTransformStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        user = request_user(request)
        version = selectors.model_version_get_for_user(user=user, pk=v["model_version"])
        dataset_version = data_selectors.version_get_for_user(user=user, pk=v["dataset_version"])
        transform = services.batch_transform_start(
            user=user,
            model_version=version,
            dataset_version=dataset_version,
            join_input_columns=v["join_input_columns"],
            probabilities=v["probabilities"],
        )
        return Response({"id": transform.pk, "job": transform.job_id}, status=status.HTTP_202_ACCEPTED)
