from django.contrib import admin
from django.urls import include, path

from apps.workspace import views as core_views
from apps.workspace.api import ApiRootView, SchemaApi, SchemaDocsView

admin.site.site_header = "Atelier console"
admin.site.site_title = "Atelier console"
admin.site.index_title = "Administration"

api_patterns: list = [
    path("", ApiRootView.as_view(), name="root"),
    path("", include("apps.accounts.api.urls")),
    path("", include("apps.jobs.api.urls")),
    path("", include("apps.datasets.api.urls")),
    path("", include("apps.automl.api.urls")),
    path("", include("apps.unsupervised.api.urls")),
    path("", include("apps.registry.api.urls")),
    path("", include("apps.endpoints.api.urls")),
    path("", include("apps.clarify.api.urls")),
    path("", include("apps.labeling.api.urls")),
    path("schema/", SchemaApi.as_view(), name="schema"),
    # The split view serves Swagger UI's init as a script of its own (?script), not inline: allowed by our CSP
    path("docs/", SchemaDocsView.as_view(url_name="api:schema"), name="docs"),
]

handler404 = "apps.workspace.views.page_not_found"
handler500 = "apps.workspace.views.server_error"

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/", include((api_patterns, "api"))),
    path("accounts/", include("apps.accounts.urls")),
    path("jobs/", include("apps.jobs.urls")),
    path("data/", include("apps.datasets.urls")),
    path("canvas/unsupervised/", include("apps.unsupervised.urls")),
    path("clarify/", include("apps.clarify.urls")),
    path("labeling/", include("apps.labeling.urls")),
    path("canvas/", include("apps.automl.urls")),
    path("registry/", include("apps.registry.urls")),
    path("deployments/", include("apps.endpoints.urls")),  # /endpoints/ is the serving path (studio/asgi.py)
    path("", include("apps.workspace.urls")),
]
