from django.urls import path

from apps.endpoints import views

app_name = "endpoints"

urlpatterns = [
    path("", views.EndpointListView.as_view(), name="list"),
    path("new/", views.EndpointCreateView.as_view(), name="create"),
    path("<id:pk>/", views.EndpointDetailView.as_view(), name="detail"),
    path("<id:pk>/update/", views.EndpointUpdateView.as_view(), name="update"),
    path("<id:pk>/webhook-secret/", views.EndpointWebhookSecretRotateView.as_view(), name="webhook_secret_rotate"),
    path("<id:pk>/delete/", views.EndpointDeleteView.as_view(), name="delete"),
    path("<id:pk>/keys/", views.EndpointKeyCreateView.as_view(), name="key_create"),
    path("<id:pk>/try-key/", views.EndpointTryKeyView.as_view(), name="try_key"),
    path("keys/<id:pk>/revoke/", views.EndpointKeyRevokeView.as_view(), name="key_revoke"),
    path("batch/", views.BatchTransformListView.as_view(), name="batch_list"),
    path("batch/<id:pk>/", views.BatchTransformDetailView.as_view(), name="batch_detail"),
]
