from apps.core.api.routers import Router
from apps.unsupervised.api import views

router = Router()
router.register("unsupervised", views.UnsupervisedRunViewSet, basename="unsupervised")

urlpatterns = [*router.urls]
