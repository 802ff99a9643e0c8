from apps.core.api.routers import Router
from apps.endpoints.api import views

router = Router()
router.register("endpoints", views.EndpointViewSet, basename="endpoint")
router.register("endpoint-keys", views.EndpointKeyViewSet, basename="endpoint-key")
router.register("batch-transforms", views.BatchTransformViewSet, basename="batch-transform")

urlpatterns = [*router.urls]
