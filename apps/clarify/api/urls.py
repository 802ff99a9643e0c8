from django.urls import path

from apps.clarify.api import views
from apps.core.api.routers import Router

router = Router()
router.register("clarify/reports", views.ClarifyReportViewSet, basename="clarify-report")

urlpatterns = [
    *router.urls,
    # Downloads keep their file names in the path (no trailing slash).
    path(
        "clarify/reports/<id:pk>/analysis.json",
        views.ReportAnalysisJsonApi.as_view(),
        name="clarify-report-analysis-json",
    ),
    path("clarify/reports/<id:pk>/report.html", views.ReportHtmlApi.as_view(), name="clarify-report-html"),
]
