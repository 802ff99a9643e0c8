from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.jobs.api import views

router = SimpleRouter()
router.register("jobs", views.JobViewSet, basename="job")

urlpatterns = [
    path("projects/<int:pk>/storage-report/", views.StorageReportStartApi.as_view(), name="storage-report-start"),
    *router.urls,
]
