from django.urls import path

from apps.workspace import views

app_name = "workspace"

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("storage-report/", views.StorageReportStartView.as_view(), name="storage_report_start"),
    path("notifications/", views.NotificationListView.as_view(), name="notifications"),
    path("notifications/<id:pk>/", views.NotificationOpenView.as_view(), name="notification_open"),
]
