from django.urls import path

from apps.accounts.api import views
from apps.core.api.routers import Router

router = Router()
router.register("projects", views.ProjectViewSet, basename="project")
router.register("work-teams", views.WorkTeamViewSet, basename="workteam")
router.register("work-team-invitations", views.TeamInvitationViewSet, basename="team-invitation")
router.register("tokens", views.APITokenViewSet, basename="token")

urlpatterns = [path("me/", views.MeApi.as_view(), name="me"), *router.urls]
