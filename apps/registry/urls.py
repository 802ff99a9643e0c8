from django.urls import path

from apps.registry import views

app_name = "registry"

urlpatterns = [
    path("", views.GroupListView.as_view(), name="list"),
    path("import/", views.VersionImportView.as_view(), name="import"),
    path("compare/", views.VersionCompareView.as_view(), name="compare"),
    path("groups/<int:pk>/", views.GroupDetailView.as_view(), name="group"),
    path("versions/<int:pk>/", views.VersionDetailView.as_view(), name="version"),
    path("versions/<int:pk>/approval/", views.VersionApprovalView.as_view(), name="version_approval"),
    path("versions/<int:pk>/aliases/", views.VersionAliasView.as_view(), name="version_alias"),
    path("versions/<int:pk>/edit/", views.VersionEditView.as_view(), name="version_edit"),
    path("versions/<int:pk>/export/mlflow/", views.VersionExportView.as_view(), name="version_export"),
]
