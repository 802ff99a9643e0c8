from rest_framework.routers import SimpleRouter

from apps.registry.api import views

router = SimpleRouter()
router.register("model-groups", views.ModelGroupViewSet, basename="model-group")
router.register("model-versions", views.ModelVersionViewSet, basename="model-version")

urlpatterns = [*router.urls]
