"""Writes for users, personas, projects, invitations, work teams and API tokens."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from apps.accounts.choices import Persona
from apps.accounts.models import APIToken, Invitation, Membership, Project, User, WorkTeam
from apps.accounts.personas import PERSONA_PERMISSIONS, group_name
from apps.core.keys import key_hash

TOKEN_PREFIX = "atl_"


# --- personas ------------------------------------------------------------------------------------


def personas_sync() -> None:
    """Create the persona groups and give each exactly the permissions personas.py lists."""
    for persona, perms in PERSONA_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=group_name(persona))
        if "*" in perms:
            wanted = list(Permission.objects.all())
        else:
            wanted = []
            for dotted in sorted(perms):
                app_label, codename = dotted.split(".", 1)
                wanted.extend(Permission.objects.filter(content_type__app_label=app_label, codename=codename))
        group.permissions.set(wanted)


def personas_sync_after_migrate(sender: Any, **kwargs: Any) -> None:
    """post_migrate fires once per app; sync after the last one, when every permission exists."""
    from django.apps import apps

    if sender is [a for a in apps.get_app_configs() if a.models_module is not None][-1]:
        personas_sync()


def user_set_personas(*, user: User, personas: Iterable[str]) -> None:
    names = [Persona(p).value for p in personas]
    personas_sync()
    groups = list(Group.objects.filter(name__in=[group_name(p) for p in names]))
    user.groups.remove(*Group.objects.filter(name__in=[p.label for p in Persona]))
    user.groups.add(*groups)
    is_admin = Persona.ADMIN.value in names
    user.is_superuser = is_admin
    user.is_staff = is_admin
    user.save(update_fields=["is_superuser", "is_staff"])


@transaction.atomic
def user_create(
    *,
    username: str,
    email: str = "",
    password: str | None = None,
    personas: Iterable[str] = (),
    projects: Iterable[Project] = (),
    validate: bool = True,
) -> User:
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": f"A user named {username!r} already exists."})
    user = User(username=username, email=email)
    if password:
        if validate:
            validate_password(password, user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    user_set_personas(user=user, personas=personas)
    for project in projects:
        membership_add(project=project, user=user)
    return user


# --- projects -----------------------------------------------------------------------------------


@transaction.atomic
def project_create(*, name: str, description: str = "", created_by: User | None) -> Project:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A project needs a name."})
    if Project.objects.filter(name__iexact=name).exists():
        raise ValidationError({"name": f"A project named {name!r} already exists."})
    base = slugify(name)[:90] or "project"
    slug, n = base, 2
    while Project.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    project = Project.objects.create(name=name, slug=slug, description=description, created_by=created_by)
    if created_by is not None:
        membership_add(project=project, user=created_by, added_by=created_by)
    return project


def membership_add(*, project: Project, user: User, added_by: User | None = None) -> Membership:
    membership, _ = Membership.objects.get_or_create(project=project, user=user, defaults={"added_by": added_by})
    return membership


def membership_remove(*, project: Project, user: User) -> None:
    Membership.objects.filter(project=project, user=user).delete()
    for team in WorkTeam.objects.filter(project=project):
        team.members.remove(user)


# --- invitations ---------------------------------------------------------------------------------


def invitation_create(
    *, email: str, personas: Iterable[str], project: Project | None, created_by: User, team: WorkTeam | None = None
) -> tuple[Invitation, str]:
    """Return the invitation and its raw token (shown once, only its hash is stored). With `team` (a vendor team's
    invitation, see work_team_invitation_create) whoever accepts joins that team, not a project."""
    names = [Persona(p).value for p in personas]
    if not names:
        raise ValidationError({"personas": "Choose at least one persona."})
    personas_sync()
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        email=email,
        project=project,
        token_hash=key_hash(token),
        created_by=created_by,
        expires_at=timezone.now() + settings.INVITATION_TTL,
        team=team,
    )
    invitation.personas.set(Group.objects.filter(name__in=[group_name(p) for p in names]))
    return invitation, token


def invitation_get_open(*, token: str) -> Invitation | None:
    invitation = Invitation.objects.filter(token_hash=key_hash(token)).first()
    if invitation is None or invitation.state != "open":
        return None
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, username: str, password: str) -> User:
    invitation = Invitation.objects.select_for_update().filter(token_hash=key_hash(token)).first()
    if invitation is None or invitation.state != "open":
        raise ValidationError("This invitation link is invalid, expired or already used.")
    labels = {p.label: p.value for p in Persona}
    personas = [labels[g.name] for g in invitation.personas.all() if g.name in labels]
    team = None
    if invitation.team_id is not None:
        # A vendor team's invitation: the Labeler persona only, the team only (never the project); the team's row is
        # locked so that two acceptances at once cannot both take its last seat.
        team = WorkTeam.objects.select_for_update().get(pk=invitation.team_id)
        if team.worker_limit is not None and team.members.count() >= team.worker_limit:
            raise ValidationError(_team_full_message(team))
        personas = [Persona.LABELER.value]
    user = user_create(
        username=username,
        email=invitation.email,
        password=password,
        personas=personas,
        projects=[invitation.project] if invitation.project and team is None else [],
    )
    if team is not None:
        team.members.add(user)
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return user


def invitation_revoke(*, invitation: Invitation) -> None:
    if invitation.state == "open":
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])


# --- work teams ----------------------------------------------------------------------------------


def _worker_limit(value: object) -> int | None:
    """A team's worker limit: a positive whole number, or None (blank) for no limit."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValidationError({"worker_limit": "The worker limit is a whole number of at least 1, or empty."})
    try:
        limit = int(str(value).strip())
    except ValueError:
        raise ValidationError({"worker_limit": "The worker limit is a whole number of at least 1, or empty."}) from None
    if limit < 1:
        raise ValidationError({"worker_limit": "The worker limit is a whole number of at least 1, or empty."})
    return limit


def _team_full_message(team: WorkTeam) -> str:
    return (
        f"Work team {team.name!r} is full: it has {team.members.count()} of its {team.worker_limit} workers. "
        "Ask whoever invited you to raise the team's worker limit."
    )


@transaction.atomic
def work_team_save(
    *,
    project: Project,
    name: str,
    description: str = "",
    members: Iterable[User] = (),
    team: WorkTeam | None = None,
    kind: str | None = None,
    worker_limit: object = ...,
) -> WorkTeam:
    """Create (`team` None) or update a work team; `members` is the whole new set.

    An employees team holds members of the project only; a vendor team holds outside people (they join by invitation
    link, `invitation_create(team=...)`, and are never project members). `kind` None keeps the team's kind (a new
    team: employees); `worker_limit` left out keeps the team's (a new team: none), None removes it. A team never has
    more members than its limit."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A work team needs a name."})
    if kind is None:
        kind = team.kind if team is not None else WorkTeam.Kind.EMPLOYEES
    if kind not in WorkTeam.Kind.values:
        raise ValidationError({"kind": f"Choose {' or '.join(WorkTeam.Kind.values)}, not {str(kind)[:40]!r}."})
    if worker_limit is ...:
        limit = team.worker_limit if team is not None else None
    else:
        limit = _worker_limit(worker_limit)
    clash = WorkTeam.objects.filter(project=project, name__iexact=name)
    if team is not None:
        clash = clash.exclude(pk=team.pk)
    if clash.exists():
        raise ValidationError({"name": f"Project {project.name!r} already has a work team named {name!r}."})
    members = list(dict.fromkeys(members))
    inactive = [u.username for u in members if not u.is_active]
    if inactive:
        raise ValidationError({"members": f"Deactivated users cannot join a work team: {', '.join(inactive)}."})
    if kind == WorkTeam.Kind.EMPLOYEES:
        outsiders = [
            u.username
            for u in members
            if not u.is_admin and not Membership.objects.filter(project=project, user=u).exists()
        ]
        if outsiders:
            # Outside people join a vendor team (by invitation link), not an employees team.
            raise ValidationError({"members": f"Not members of project {project.name!r}: {', '.join(outsiders)}."})
    if limit is not None and len(members) > limit:
        raise ValidationError(
            {
                "members": f"{len(members)} members are more than the team's worker limit of {limit}: "
                "remove some or raise the limit."
            }
        )
    if team is None:
        team = WorkTeam.objects.create(
            project=project, name=name, description=description, kind=kind, worker_limit=limit
        )
    else:
        team = WorkTeam.objects.select_for_update().get(pk=team.pk)
        team.name, team.description, team.kind, team.worker_limit = name, description, kind, limit
        team.save(update_fields=["name", "description", "kind", "worker_limit"])
    team.members.set(members)
    return team


def work_team_invitation_create(*, team: WorkTeam, email: str, created_by: User) -> tuple[Invitation, str]:
    """An invitation link to a vendor team: who accepts it gets an account with the Labeler persona only and joins
    this team, not the project. Returns the invitation and its raw token (shown once)."""
    if team.kind != WorkTeam.Kind.VENDOR:
        raise ValidationError(
            {"team": f"Work team {team.name!r} is an employees team: add project members to it instead of inviting."}
        )
    if team.worker_limit is not None and team.members.count() >= team.worker_limit:
        raise ValidationError(
            {"team": f"Work team {team.name!r} is full ({team.worker_limit} workers): raise its worker limit first."}
        )
    return invitation_create(email=email, personas=[Persona.LABELER], project=None, created_by=created_by, team=team)


# --- API tokens -----------------------------------------------------------------------------------


def api_token_create(*, user: User, name: str, expires_at: Any = None) -> tuple[APIToken, str]:
    """Return the token row and the raw key (shown once)."""
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = APIToken.objects.create(
        user=user, name=name.strip() or "token", prefix=key[:10], key_hash=key_hash(key), expires_at=expires_at
    )
    return token, key


def api_token_revoke(*, token: APIToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])


def api_token_authenticate(*, key: str) -> User | None:
    token = APIToken.objects.select_related("user").filter(key_hash=key_hash(key)).first()
    if token is None or not token.is_active or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        APIToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def user_set_time_zone(*, user: User, time_zone: str) -> User:
    """An IANA zone name (e.g. Europe/Paris), or blank for the browser's (apps/core/timezones.py)."""
    from apps.core.timezones import zone_names

    name = str(time_zone or "").strip()
    if name and name not in zone_names():
        raise ValidationError({"time_zone": f"{name[:64]!r} is not a time zone name (e.g. Europe/Paris)."})
    user.time_zone = name
    user.save(update_fields=["time_zone"])
    return user
