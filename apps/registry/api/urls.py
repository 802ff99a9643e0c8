from apps.core.api.routers import Router
from apps.registry.api import views

router = Router()
router.register("model-groups", views.ModelGroupViewSet, basename="model-group")
router.register("model-versions", views.ModelVersionViewSet, basename="model-version")

urlpatterns = [*router.urls]
