from django.urls import path

from apps.unsupervised import views

app_name = "unsupervised"

urlpatterns = [
    path("", views.RunListView.as_view(), name="list"),
    path("<id:pk>/", views.RunDetailView.as_view(), name="detail"),
]
