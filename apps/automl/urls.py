from django.urls import path

from apps.automl import tuning_views, views

app_name = "automl"

urlpatterns = [
    path("", views.BuildListView.as_view(), name="list"),
    path("builds/<id:pk>/", views.BuildDetailView.as_view(), name="detail"),
    path("builds/<id:pk>/select/", views.CandidateSelectView.as_view(), name="select"),
    path("builds/<id:pk>/batch-predict/", views.BatchPredictView.as_view(), name="batch_predict"),
    path("builds/<id:pk>/register/", views.RegisterView.as_view(), name="package"),
    path("tuning/", tuning_views.TuningListView.as_view(), name="tuning_list"),
    path("tuning/<id:pk>/", tuning_views.TuningDetailView.as_view(), name="tuning_detail"),
]
