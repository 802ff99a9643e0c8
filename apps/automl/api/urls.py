from apps.automl.api import tuning, views
from apps.core.api.routers import Router

router = Router()
router.register("automl", views.AutomlBuildViewSet, basename="automl")
router.register("tuning", tuning.TuningViewSet, basename="tuning")

urlpatterns = [*router.urls]
