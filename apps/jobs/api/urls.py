from django.urls import path

from apps.core.api.routers import Router
from apps.jobs.api import views

router = Router()
router.register("jobs", views.JobViewSet, basename="job")

urlpatterns = [
    path("projects/<id:pk>/storage-report/", views.StorageReportStartApi.as_view(), name="storage-report-start"),
    *router.urls,
]
