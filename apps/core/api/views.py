"""The OpenAPI document and Swagger UI, declared like every API view (apps/core/permissions.py): any signed-in user."""

from __future__ import annotations

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.accounts import personas


class SchemaApi(SpectacularAPIView):
    capability = personas.SIGNED_IN


class SchemaDocsView(SpectacularSwaggerSplitView):
    capability = personas.SIGNED_IN
