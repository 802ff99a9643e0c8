"""Reads scoped by user. Every place that lists or fetches a project asset goes through here.

The rule: a user sees a project's assets only as a member; admins see all. A foreign object is
"not found" (404), never "forbidden", so ids of other projects leak nothing.
"""

from __future__ import annotations

from importlib import import_module
from typing import TypeVar

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
from django.db.models import Model, Q, QuerySet
from django.http import Http404
from django.utils.crypto import constant_time_compare

from apps.accounts.models import APIToken, Invitation, Project, User, WorkTeam

M = TypeVar("M", bound=Model)


def user_is_admin(user: object) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_admin", False))


def user_for_session(*, session_key: str | None) -> User | None:
    """The user signed in with this session right now, or None: signed out, session expired or flushed, user
    deactivated or deleted, password changed since. Read from the session store each call, for long-lived
    connections (WebSockets) that must notice a lost sign-in. Read-only, unlike `django.contrib.auth.get_user`:
    it never flushes or cycles the browser's session."""
    if not session_key:
        return None
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    try:
        user_id = User._meta.pk.to_python(session[SESSION_KEY])  # type: ignore[union-attr]
        backend_path = session[BACKEND_SESSION_KEY]
    except (KeyError, ValueError, TypeError):
        return None
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return None
    user = load_backend(backend_path).get_user(user_id)  # None for an inactive user (ModelBackend)
    session_hash = session.get(HASH_SESSION_KEY)
    if user is None or not session_hash:
        return None
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    if not any(constant_time_compare(session_hash, known) for known in hashes):
        return None
    return user  # type: ignore[return-value]


def project_list_for_user(*, user: User) -> QuerySet[Project]:
    if user_is_admin(user):
        return Project.objects.all()
    if not user.is_authenticated:
        return Project.objects.none()
    return Project.objects.filter(memberships__user=user)


def project_get_for_user(*, user: User, pk: int | str) -> Project:
    try:
        return project_list_for_user(user=user).get(pk=int(pk))
    except (Project.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such project.") from exc


def project_ids_for_user(*, user: User) -> QuerySet | None:
    """Project ids the user may see, or None for 'all' (admins)."""
    if user_is_admin(user):
        return None
    return Project.objects.filter(memberships__user=user).values("pk")


def scope_to_user(queryset: QuerySet[M], *, user: User, project_field: str = "project") -> QuerySet[M]:
    """Restrict any project-owned queryset to what `user` may see."""
    if not getattr(user, "is_authenticated", False):
        return queryset.none()
    ids = project_ids_for_user(user=user)
    if ids is None:
        return queryset
    return queryset.filter(**{f"{project_field}__in": ids})


def object_get_for_user(queryset: QuerySet[M], *, user: User, pk: object, project_field: str = "project") -> M:
    try:
        return scope_to_user(queryset, user=user, project_field=project_field).get(pk=int(pk))  # type: ignore[call-overload]
    except (queryset.model.DoesNotExist, ValueError, TypeError) as exc:  # type: ignore[attr-defined]
        raise Http404(f"No such {queryset.model._meta.verbose_name}.") from exc


def user_is_member(*, user: User, project: Project) -> bool:
    return user_is_admin(user) or project.memberships.filter(user=user).exists()


def api_token_list_for_user(*, user: User) -> QuerySet[APIToken]:
    if not getattr(user, "is_authenticated", False):
        return APIToken.objects.none()
    return APIToken.objects.filter(user=user)


def invitation_list_for_user(*, user: User) -> QuerySet[Invitation]:
    if user_is_admin(user):
        return Invitation.objects.select_related("project", "team", "team__project", "created_by").prefetch_related(
            "personas"
        )
    return Invitation.objects.none()


def work_team_list_for_user(*, user: User) -> QuerySet[WorkTeam]:
    """The work teams of the user's projects (studio side: a vendor worker, in no project, sees none)."""
    return scope_to_user(WorkTeam.objects.select_related("project").prefetch_related("members"), user=user)


def work_team_get_for_user(*, user: User, pk: object) -> WorkTeam:
    return object_get_for_user(work_team_list_for_user(user=user), user=user, pk=pk)


def team_invitation_list_for_user(*, user: User) -> QuerySet[Invitation]:
    """Vendor teams' invitations, of the teams the user sees (the team's project)."""
    return scope_to_user(
        Invitation.objects.filter(team__isnull=False).select_related("team", "created_by", "accepted_by"),
        user=user,
        project_field="team__project",
    )


def team_invitation_get_for_user(*, user: User, pk: object) -> Invitation:
    return object_get_for_user(
        team_invitation_list_for_user(user=user), user=user, pk=pk, project_field="team__project"
    )


def user_list_active_by_usernames(*, usernames: list[str]) -> tuple[list[User], list[str]]:
    """Active users with these usernames (case-insensitive), in the order given, and the names that match nobody."""
    found: list[User] = []
    missing: list[str] = []
    for name in usernames:
        user = User.objects.filter(username__iexact=name.strip(), is_active=True).first()
        if user is None:
            missing.append(name)
        elif user not in found:
            found.append(user)
    return found, missing


def user_list_for_project(*, project: Project) -> QuerySet[User]:
    return User.objects.filter(memberships__project=project).prefetch_related("groups").order_by("username")


def user_list_for_project_with_capability(*, project: Project, capability: str) -> QuerySet[User]:
    """Active members of the project who hold a capability (`app_label.codename` from apps/accounts/personas.py)
    through a persona, a direct grant or as an admin: e.g. who may approve this project's model versions."""
    app_label, codename = capability.split(".", 1)
    holds = (
        Q(is_superuser=True)
        | Q(groups__permissions__content_type__app_label=app_label, groups__permissions__codename=codename)
        | Q(user_permissions__content_type__app_label=app_label, user_permissions__codename=codename)
    )
    return User.objects.filter(holds, memberships__project=project, is_active=True).distinct().order_by("username")
