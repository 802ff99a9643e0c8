from django.urls import path

from apps.endpoints import views

app_name = "endpoints"

urlpatterns = [
    path("", views.EndpointListView.as_view(), name="list"),
    path("new/", views.EndpointCreateView.as_view(), name="create"),
    path("<int:pk>/", views.EndpointDetailView.as_view(), name="detail"),
    path("<int:pk>/update/", views.EndpointUpdateView.as_view(), name="update"),
    path("<int:pk>/webhook-secret/", views.EndpointWebhookSecretRotateView.as_view(), name="webhook_secret_rotate"),
    path("<int:pk>/delete/", views.EndpointDeleteView.as_view(), name="delete"),
    path("<int:pk>/keys/", views.EndpointKeyCreateView.as_view(), name="key_create"),
    path("<int:pk>/try-key/", views.EndpointTryKeyView.as_view(), name="try_key"),
    path("keys/<int:pk>/revoke/", views.EndpointKeyRevokeView.as_view(), name="key_revoke"),
    path("batch/", views.BatchTransformListView.as_view(), name="batch_list"),
    path("batch/<int:pk>/", views.BatchTransformDetailView.as_view(), name="batch_detail"),
]
