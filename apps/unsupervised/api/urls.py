from rest_framework.routers import SimpleRouter

from apps.unsupervised.api import views

router = SimpleRouter()
router.register("unsupervised", views.UnsupervisedRunViewSet, basename="unsupervised")

urlpatterns = [*router.urls]
