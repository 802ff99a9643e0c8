from django.urls import path

from apps.registry import views

app_name = "registry"

urlpatterns = [
    path("", views.GroupListView.as_view(), name="list"),
    path("import/", views.VersionImportView.as_view(), name="import"),
    path("compare/", views.VersionCompareView.as_view(), name="compare"),
    path("groups/<id:pk>/", views.GroupDetailView.as_view(), name="group"),
    path("versions/<id:pk>/", views.VersionDetailView.as_view(), name="version"),
    path("versions/<id:pk>/approval/", views.VersionApprovalView.as_view(), name="version_approval"),
    path("versions/<id:pk>/aliases/", views.VersionAliasView.as_view(), name="version_alias"),
    path("versions/<id:pk>/edit/", views.VersionEditView.as_view(), name="version_edit"),
    path("versions/<id:pk>/export/mlflow/", views.VersionExportView.as_view(), name="version_export"),
]
