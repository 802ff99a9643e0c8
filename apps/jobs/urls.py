from django.urls import path

from apps.jobs import views

app_name = "jobs"

urlpatterns = [
    path("", views.JobListView.as_view(), name="list"),
    path("<id:pk>/", views.JobDetailView.as_view(), name="detail"),
    path("<id:pk>/cancel/", views.JobCancelView.as_view(), name="cancel"),
]
