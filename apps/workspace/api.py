"""The OpenAPI document, Swagger UI and the API root, declared like every API view (apps/accounts/permissions.py): any
signed-in user. The API root: `GET /api/` lists the API's resources with their URLs (as DRF's browsable root does),
so a client finds its way from one address; anonymous callers get the same 401 as every other route."""

from __future__ import annotations

from typing import Any

from django.urls import get_resolver, resolve, reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import personas
from apps.accounts.permissions import missing_capability


class SchemaApi(SpectacularAPIView):
    capability = personas.SIGNED_IN


class SchemaDocsView(SpectacularSwaggerSplitView):
    capability = personas.SIGNED_IN


# Named routes beside the resource lists: who you are, the OpenAPI schema and Swagger UI.
EXTRA = {"me": "api:me", "schema": "api:schema", "docs": "api:docs"}

ROOT_SCHEMA = {"type": "object", "additionalProperties": {"type": "string", "format": "uri"}}


def api_index(user: Any = None) -> dict[str, str]:
    """{resource: path} for every list route of the `api` namespace (`/api/<resource>/`) that `user` may read (its
    view's declaration, apps/accounts/permissions.py: a Labeler is shown the work queue, not the studio's lists; None:
    every route), then EXTRA."""
    _, resolver = get_resolver().namespace_dict["api"]
    paths = {}
    for name in resolver.reverse_dict:
        if isinstance(name, str) and name.endswith("-list"):
            path = reverse(f"api:{name}")
            view = resolve(path).func
            view_class = getattr(view, "cls", None) or getattr(view, "view_class", None)
            if user is not None and missing_capability(user, view_class, ["list:get", "list", "get"]) is not None:
                continue
            paths[path.removeprefix(reverse("api:root")).strip("/")] = path
    return dict(sorted(paths.items())) | {key: reverse(name) for key, name in EXTRA.items()}


class ApiRootView(APIView):
    """The API's resources and where they are."""

    capability = personas.SIGNED_IN

    @extend_schema(
        operation_id="api_root",
        responses={200: OpenApiResponse(response=ROOT_SCHEMA, description="{resource: absolute URL}")},
    )
    def get(self, request: Request) -> Response:
        return Response({key: request.build_absolute_uri(path) for key, path in api_index(request.user).items()})
