from django.urls import path

from apps.clarify import views

app_name = "clarify"

urlpatterns = [
    path("", views.ReportListView.as_view(), name="list"),
    path("<id:pk>/", views.ReportDetailView.as_view(), name="detail"),
    path("<id:pk>/thresholds/", views.ReportThresholdsView.as_view(), name="thresholds"),
    path("<id:pk>/mitigate/", views.ReportMitigateView.as_view(), name="mitigate"),
]
