from django.urls import path

from apps.accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("profile/", views.ProfileView.as_view(), name="profile"),
    path("tokens/", views.APITokenCreateView.as_view(), name="token_create"),
    path("tokens/<id:pk>/revoke/", views.APITokenRevokeView.as_view(), name="token_revoke"),
    path("projects/", views.ProjectListView.as_view(), name="project_list"),
    path("projects/switch/", views.ProjectSwitchView.as_view(), name="project_switch"),
    path("projects/<id:pk>/", views.ProjectDetailView.as_view(), name="project_detail"),
    path("projects/<id:pk>/members/", views.ProjectMemberAddView.as_view(), name="project_member_add"),
    path(
        "projects/<id:pk>/members/<id:user_id>/remove/",
        views.ProjectMemberRemoveView.as_view(),
        name="project_member_remove",
    ),
    path("work-teams/", views.WorkTeamListView.as_view(), name="workteam_list"),
    path("work-teams/<id:pk>/", views.WorkTeamDetailView.as_view(), name="workteam_detail"),
    path("work-teams/<id:pk>/invitations/", views.WorkTeamInviteView.as_view(), name="workteam_invite"),
    path(
        "work-teams/invitations/<id:pk>/revoke/",
        views.WorkTeamInvitationRevokeView.as_view(),
        name="workteam_invitation_revoke",
    ),
    path("my-work/", views.MyWorkView.as_view(), name="my_work"),
    path("invitations/", views.InvitationListView.as_view(), name="invitation_list"),
    path("invitations/<id:pk>/revoke/", views.InvitationRevokeView.as_view(), name="invitation_revoke"),
    path("invite/<str:token>/", views.InvitationAcceptView.as_view(), name="invitation_accept"),
]
