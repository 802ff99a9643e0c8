from rest_framework.routers import SimpleRouter

from apps.automl.api import tuning, views

router = SimpleRouter()
router.register("automl", views.AutomlBuildViewSet, basename="automl")
router.register("tuning", tuning.TuningViewSet, basename="tuning")

urlpatterns = [*router.urls]
