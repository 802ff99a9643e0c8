from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.accounts.api import views

router = SimpleRouter()
router.register("projects", views.ProjectViewSet, basename="project")
router.register("work-teams", views.WorkTeamViewSet, basename="workteam")
router.register("tokens", views.APITokenViewSet, basename="token")

urlpatterns = [path("me/", views.MeApi.as_view(), name="me"), *router.urls]
