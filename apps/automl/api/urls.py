from rest_framework.routers import SimpleRouter

from apps.automl.api import views

router = SimpleRouter()
router.register("automl", views.AutomlBuildViewSet, basename="automl")

urlpatterns = [*router.urls]
