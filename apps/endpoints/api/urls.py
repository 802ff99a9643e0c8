from rest_framework.routers import SimpleRouter

from apps.endpoints.api import views

router = SimpleRouter()
router.register("endpoints", views.EndpointViewSet, basename="endpoint")
router.register("endpoint-keys", views.EndpointKeyViewSet, basename="endpoint-key")
router.register("batch-transforms", views.BatchTransformViewSet, basename="batch-transform")

urlpatterns = [*router.urls]
