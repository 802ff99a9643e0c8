from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser, Group
from django.db import models
from django.utils import timezone

from apps.accounts.choices import Persona


class User(AbstractUser):
    """A person. Personas are group memberships; project access is `Membership`."""

    # An IANA zone name (Europe/Paris); blank: the browser's, else settings.TIME_ZONE (apps/core/timezones.py).
    time_zone = models.CharField(max_length=64, blank=True)

    class Meta(AbstractUser.Meta):  # type: ignore[name-defined]
        swappable = "AUTH_USER_MODEL"

    @property
    def is_admin(self) -> bool:
        return bool(self.is_active and self.is_superuser)

    @property
    def persona_names(self) -> list[str]:
        labels = {p.label: p.value for p in Persona}
        names = [labels[g.name] for g in self.groups.all() if g.name in labels]
        if self.is_superuser and Persona.ADMIN.value not in names:
            names.insert(0, Persona.ADMIN.value)
        return names

    @property
    def persona_labels(self) -> list[str]:
        return [Persona(name).label for name in self.persona_names]

    @property
    def is_labeler_only(self) -> bool:
        return self.persona_names == [Persona.LABELER.value]


class Project(models.Model):
    """Every asset belongs to a project; members see its assets, nobody else (admins see all)."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    members: models.ManyToManyField = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", through_fields=("project", "user"), related_name="projects"
    )

    class Meta:
        ordering = ["name"]
        permissions = [
            ("use_studio", "Use the studio modules"),
            ("use_labeling", "Work on labeling tasks"),
            ("manage_members", "Add and remove project members"),
            ("manage_workteams", "Manage work teams"),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="membership_unique")]
        ordering = ["project__name", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} in {self.project}"


class Invitation(models.Model):
    """A single-use, expiring sign-up link. Only the hash of the token is stored."""

    email = models.EmailField()
    personas = models.ManyToManyField(Group, related_name="+")
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE, related_name="invitations")
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    # A vendor team's invitation: the person joins this team only (Labeler persona), not the project.
    team = models.ForeignKey(
        "accounts.WorkTeam", null=True, blank=True, on_delete=models.CASCADE, related_name="invitations"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invitation for {self.email}"

    @property
    def state(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "open"


class WorkTeam(models.Model):
    """A group of labelers within a project; labeling jobs are assigned to work teams.

    An employees team holds members of the project. A vendor team holds outside people invited by link to this team
    alone: they are not project members, see only this team's labeling jobs and nothing else of the project."""

    class Kind(models.TextChoices):
        EMPLOYEES = "employees", "Employees (project members)"
        VENDOR = "vendor", "Vendor (outside people invited to this team only)"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="work_teams")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.EMPLOYEES)
    worker_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="The most members the team may have (empty: no limit)."
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="work_teams", blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["project__name", "name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="workteam_unique_name")]

    def __str__(self) -> str:
        return self.name


class APIToken(models.Model):
    """`Authorization: Token <key>`. The key is shown once; we keep its SHA-256 and a prefix to recognise it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())
