from django.urls import path

from apps.core.api.routers import Router
from apps.datasets.api import views

router = Router()
router.register("datasets", views.DatasetViewSet, basename="dataset")
router.register("dataset-versions", views.DatasetVersionViewSet, basename="dataset-version")
router.register("flows", views.FlowViewSet, basename="flow")
router.register("data-connections", views.DataConnectionViewSet, basename="data-connection")

urlpatterns = [
    path("datasets/import-sql/", views.DatasetSqlImportApi.as_view(), name="dataset-import-sql"),
    path("operators/", views.OperatorListApi.as_view(), name="operator-list"),
    path("sql/query/", views.SqlQueryApi.as_view(), name="sql-query"),
    path("sql/save/", views.SqlSaveApi.as_view(), name="sql-save"),
    *router.urls,
]
