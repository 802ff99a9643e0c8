from __future__ import annotations

from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.dateparse import parse_datetime
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache

from apps.accounts import personas, selectors, services, throttling
from apps.accounts.forms import (
    APITokenForm,
    InvitationAcceptForm,
    InvitationForm,
    MemberAddForm,
    ProjectForm,
    TeamInvitationForm,
    WorkTeamForm,
)
from apps.accounts.mixins import AdminMixin, PublicMixin, SignedInMixin, StudioMixin
from apps.accounts.models import Invitation, WorkTeam
from apps.accounts.requests import form_add_errors, project_choose, request_project, request_user, required_project
from apps.core.once import show_once, take_once


class LoginView(PublicMixin, auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


class LogoutView(PublicMixin, auth_views.LogoutView):  # type: ignore[misc]
    pass


class PasswordChangeView(SignedInMixin, auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:profile")

    # The current password is a password like the sign-in's: wrong ones count towards the same lockout.
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not AxesProxyHandler.is_allowed(request, {"username": request.user.get_username()}):
            return throttling.lockout_response(request)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: Any) -> HttpResponse:
        if form.has_error("old_password", "password_incorrect"):
            credentials = {"username": self.request.user.get_username()}
            user_login_failed.send(sender=type(self), credentials=credentials, request=self.request)
        return super().form_invalid(form)  # AxesMiddleware answers 429 instead if this failure locked the account

    def form_valid(self, form: Any) -> HttpResponse:
        messages.success(self.request, "Your password was changed.")
        return super().form_valid(form)


class ProfileView(SignedInMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        tokens = selectors.api_token_list_for_user(user=request.user)  # type: ignore[arg-type]
        new = take_once(request, "api-token", None)  # {"key", "name"} right after APITokenCreateView
        context = {"tokens": tokens, "form": APITokenForm(), **_zones()}
        if new:
            context.update(new_key=new["key"], new_token={"name": new["name"]})
        return render(request, "accounts/profile.html", context)

    def post(self, request: HttpRequest) -> HttpResponse:
        """The time zone pages show times in (blank: the browser's)."""
        try:
            services.user_set_time_zone(user=request.user, time_zone=request.POST.get("time_zone", ""))  # type: ignore[arg-type]
        except ValidationError as exc:
            tokens = selectors.api_token_list_for_user(user=request.user)  # type: ignore[arg-type]
            context = {"tokens": tokens, "form": APITokenForm(), "zone_error": exc.messages[0], **_zones()}
            return render(request, "accounts/profile.html", context, status=400)
        messages.success(request, "Time zone saved.")
        return redirect("accounts:profile")


def _zones() -> dict[str, object]:
    from apps.core.timezones import zone_names

    return {"zones": sorted(zone_names())}


class APITokenCreateView(SignedInMixin, View):
    def post(self, request: HttpRequest) -> HttpResponse:
        form = APITokenForm(request.POST)
        if not form.is_valid():
            tokens = selectors.api_token_list_for_user(user=request.user)  # type: ignore[arg-type]
            return render(request, "accounts/profile.html", {"tokens": tokens, "form": form}, status=400)
        token, key = services.api_token_create(user=request.user, name=form.cleaned_data["name"])  # type: ignore[arg-type]
        show_once(request, "api-token", {"key": key, "name": token.name})
        return redirect(reverse("accounts:profile") + "#new-token")


class APITokenRevokeView(SignedInMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        token = get_object_or_404(selectors.api_token_list_for_user(user=request.user), pk=pk)  # type: ignore[arg-type]
        services.api_token_revoke(token=token)
        messages.success(request, f"Token {token.name!r} revoked.")
        return redirect("accounts:profile")


class ProjectListView(StudioMixin, View):
    capabilities = {"post": personas.CREATE_PROJECT}

    def get(self, request: HttpRequest) -> HttpResponse:
        projects = selectors.project_list_for_user(user=request.user).prefetch_related("memberships")  # type: ignore[arg-type]
        can_create = personas.user_can(request.user, personas.CREATE_PROJECT)
        return render(
            request,
            "accounts/project_list.html",
            {"projects": projects, "form": ProjectForm(), "can_create": can_create},
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ProjectForm(request.POST)
        if form.is_valid():
            try:
                project = services.project_create(created_by=request.user, **form.cleaned_data)  # type: ignore[arg-type]
            except ValidationError as exc:
                form_add_errors(form, exc)
            else:
                project_choose(request, project)
                messages.success(request, f"Project {project.name!r} created.")
                return redirect("accounts:project_detail", pk=project.pk)
        projects = selectors.project_list_for_user(user=request.user)  # type: ignore[arg-type]
        return render(
            request, "accounts/project_list.html", {"projects": projects, "form": form, "can_create": True}, status=400
        )


class ProjectDetailView(StudioMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        project = selectors.project_get_for_user(user=request.user, pk=pk)  # type: ignore[arg-type]
        context = {
            "project": project,
            "members": selectors.user_list_for_project(project=project),
            "teams": selectors.work_team_list_for_user(user=request.user).filter(project=project),  # type: ignore[arg-type]
            "member_form": MemberAddForm(),
            "can_manage": personas.user_can(request.user, personas.MANAGE_MEMBERS),
        }
        return render(request, "accounts/project_detail.html", context)


class ProjectMemberAddView(StudioMixin, View):
    capabilities = {"post": personas.MANAGE_MEMBERS}

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        project = selectors.project_get_for_user(user=request.user, pk=pk)  # type: ignore[arg-type]
        form = MemberAddForm(request.POST)
        if form.is_valid():
            services.membership_add(project=project, user=form.cleaned_data["username"], added_by=request.user)  # type: ignore[arg-type]
            messages.success(request, f"{form.cleaned_data['username'].username} added to {project.name}.")
        else:
            messages.error(request, "; ".join(str(e) for errs in form.errors.values() for e in errs))
        return redirect("accounts:project_detail", pk=project.pk)


class ProjectMemberRemoveView(StudioMixin, View):
    capabilities = {"post": personas.MANAGE_MEMBERS}

    def post(self, request: HttpRequest, pk: int, user_id: int) -> HttpResponse:
        project = selectors.project_get_for_user(user=request.user, pk=pk)  # type: ignore[arg-type]
        user = get_object_or_404(selectors.user_list_for_project(project=project), pk=user_id)
        services.membership_remove(project=project, user=user)
        messages.success(request, f"{user.username} removed from {project.name}.")
        return redirect("accounts:project_detail", pk=project.pk)


class ProjectSwitchView(SignedInMixin, View):
    def post(self, request: HttpRequest) -> HttpResponse:
        project = selectors.project_get_for_user(user=request.user, pk=request.POST.get("project", ""))  # type: ignore[arg-type]
        project_choose(request, project)
        target = request.POST.get("next") or reverse("workspace:home")
        if not target.startswith("/") or target.startswith("//"):
            target = reverse("workspace:home")
        return redirect(target)


class WorkTeamListView(StudioMixin, View):
    capabilities = {"post": personas.MANAGE_WORKTEAMS}

    def get(self, request: HttpRequest) -> HttpResponse:
        teams = selectors.work_team_list_for_user(user=request.user)  # type: ignore[arg-type]
        project = request_project(request)
        form = WorkTeamForm(project=project) if project else None
        can_manage = personas.user_can(request.user, personas.MANAGE_WORKTEAMS)
        return render(request, "accounts/workteam_list.html", {"teams": teams, "form": form, "can_manage": can_manage})

    def post(self, request: HttpRequest) -> HttpResponse:
        project = required_project(request)
        form = WorkTeamForm(request.POST, project=project)
        if form.is_valid():
            try:
                services.work_team_save(project=project, **form.cleaned_data)
            except ValidationError as exc:
                form_add_errors(form, exc)
            else:
                messages.success(request, f"Work team {form.cleaned_data['name']!r} saved.")
                return redirect("accounts:workteam_list")
        teams = selectors.work_team_list_for_user(user=request.user)  # type: ignore[arg-type]
        return render(
            request, "accounts/workteam_list.html", {"teams": teams, "form": form, "can_manage": True}, status=400
        )


def _team_page(
    request: HttpRequest,
    team: WorkTeam,
    *,
    form: WorkTeamForm | None = None,
    invite_form: TeamInvitationForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """A work team's page: its settings and members (a form for managers) and, for a vendor team, its invitation
    links (a new one's link shown once, right after WorkTeamInviteView)."""
    if form is None:
        initial = {
            "name": team.name,
            "description": team.description,
            "kind": team.kind,
            "worker_limit": team.worker_limit,
            "members": team.members.all(),
        }
        form = WorkTeamForm(project=team.project, team=team, initial=initial)
    context: dict[str, Any] = {
        "team": team,
        "form": form,
        "can_manage": personas.user_can(request.user, personas.MANAGE_WORKTEAMS),
        "invitations": selectors.team_invitation_list_for_user(user=request_user(request)).filter(team=team),
        "invite_form": invite_form or TeamInvitationForm(),
    }
    new = take_once(request, f"team-invitation-{team.pk}", None)
    if new:
        context.update(new_link=new["link"], new_email=new["email"], new_expires=parse_datetime(new["expires"]))
    return render(request, "accounts/workteam_detail.html", context, status=status)


class WorkTeamDetailView(StudioMixin, View):
    capabilities = {"post": personas.MANAGE_WORKTEAMS}

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return _team_page(request, selectors.work_team_get_for_user(user=request_user(request), pk=pk))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        team = selectors.work_team_get_for_user(user=request_user(request), pk=pk)
        form = WorkTeamForm(request.POST, project=team.project, team=team)
        if form.is_valid():
            try:
                services.work_team_save(project=team.project, team=team, **form.cleaned_data)
            except ValidationError as exc:
                form_add_errors(form, exc)
            else:
                messages.success(request, "Work team saved.")
                return redirect("accounts:workteam_detail", pk=team.pk)
        return _team_page(request, team, form=form, status=400)


class WorkTeamInviteView(StudioMixin, View):
    """A vendor team's invitation link, for one email address: shown once on the team's page."""

    capabilities = {"post": personas.MANAGE_WORKTEAMS}

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        team = selectors.work_team_get_for_user(user=request_user(request), pk=pk)
        form = TeamInvitationForm(request.POST)
        if form.is_valid():
            try:
                invitation, token = services.work_team_invitation_create(
                    team=team, email=form.cleaned_data["email"], created_by=request_user(request)
                )
            except ValidationError as exc:
                form_add_errors(form, exc)  # the team's refusal (employees team, full) above the form
            else:
                link = request.build_absolute_uri(reverse("accounts:invitation_accept", args=[token]))
                show_once(
                    request,
                    f"team-invitation-{team.pk}",
                    {"link": link, "email": invitation.email, "expires": invitation.expires_at.isoformat()},
                )
                return redirect(reverse("accounts:workteam_detail", args=[team.pk]) + "#invite-link")
        return _team_page(request, team, invite_form=form, status=400)


class WorkTeamInvitationRevokeView(StudioMixin, View):
    capabilities = {"post": personas.MANAGE_WORKTEAMS}

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        invitation = selectors.team_invitation_get_for_user(user=request_user(request), pk=pk)
        services.invitation_revoke(invitation=invitation)
        messages.success(request, f"Invitation for {invitation.email} revoked.")
        return redirect("accounts:workteam_detail", pk=invitation.team_id)


class MyWorkView(SignedInMixin, View):
    """The old address of a labeler's landing page: My work is Ground Truth's now (labeling:my_work)."""

    capability = personas.USE_LABELING

    def get(self, request: HttpRequest) -> HttpResponse:
        return redirect("labeling:my_work")


class InvitationListView(AdminMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        invitations = selectors.invitation_list_for_user(user=request.user)  # type: ignore[arg-type]
        context: dict[str, Any] = {"invitations": invitations, "form": InvitationForm()}
        new = take_once(request, "invitation", None)  # {"link", "email", "expires_at"} right after the POST below
        if new:
            context.update(
                new_link=new["link"],
                new_invitation={"email": new["email"], "expires_at": parse_datetime(new["expires"])},
            )
        return render(request, "accounts/invitation_list.html", context)

    def post(self, request: HttpRequest) -> HttpResponse:
        form = InvitationForm(request.POST)
        invitations = selectors.invitation_list_for_user(user=request.user)  # type: ignore[arg-type]
        if not form.is_valid():
            return render(
                request, "accounts/invitation_list.html", {"invitations": invitations, "form": form}, status=400
            )
        invitation, token = services.invitation_create(created_by=request.user, **form.cleaned_data)  # type: ignore[arg-type]
        link = request.build_absolute_uri(reverse("accounts:invitation_accept", args=[token]))
        show_once(
            request,
            "invitation",
            {"link": link, "email": invitation.email, "expires": invitation.expires_at.isoformat()},
        )
        return redirect(reverse("accounts:invitation_list") + "#invite-link")


class InvitationRevokeView(AdminMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        invitation = get_object_or_404(Invitation, pk=pk)
        services.invitation_revoke(invitation=invitation)
        messages.success(request, f"Invitation for {invitation.email} revoked.")
        return redirect("accounts:invitation_list")


@method_decorator(never_cache, name="dispatch")
class InvitationAcceptView(PublicMixin, View):
    """Public: the only way to get an account without an admin creating it (no open sign-up)."""

    def _open(self, request: HttpRequest, token: str) -> Invitation | HttpResponse:
        """The open invitation, or the answer: unknown links count against the address like bad passwords."""
        if throttling.address_is_locked(request):
            return throttling.lockout_response(request)
        invitation = services.invitation_get_open(token=token)
        if invitation is None:
            if throttling.record_anonymous_failure(request, sender=type(self)):
                return throttling.lockout_response(request)
            return render(request, "accounts/invitation_invalid.html", status=404)
        return invitation

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        invitation = self._open(request, token)
        if isinstance(invitation, HttpResponse):
            return invitation
        return render(
            request, "accounts/invitation_accept.html", {"invitation": invitation, "form": InvitationAcceptForm()}
        )

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        invitation = self._open(request, token)
        if isinstance(invitation, HttpResponse):
            return invitation
        form = InvitationAcceptForm(request.POST)
        if form.is_valid():
            try:
                user = services.invitation_accept(
                    token=token, username=form.cleaned_data["username"], password=form.cleaned_data["password1"]
                )
            except ValidationError as exc:
                form_add_errors(form, exc)
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                messages.success(request, f"Welcome to Atelier, {user.username}.")
                return redirect("workspace:home")
        return render(request, "accounts/invitation_accept.html", {"invitation": invitation, "form": form}, status=400)
