from django.urls import path

from apps.automl import tuning_views, views

app_name = "automl"

urlpatterns = [
    path("", views.BuildListView.as_view(), name="list"),
    path("builds/<int:pk>/", views.BuildDetailView.as_view(), name="detail"),
    path("builds/<int:pk>/select/", views.CandidateSelectView.as_view(), name="select"),
    path("builds/<int:pk>/batch-predict/", views.BatchPredictView.as_view(), name="batch_predict"),
    path("builds/<int:pk>/register/", views.RegisterView.as_view(), name="package"),
    path("tuning/", tuning_views.TuningListView.as_view(), name="tuning_list"),
    path("tuning/<int:pk>/", tuning_views.TuningDetailView.as_view(), name="tuning_detail"),
]
