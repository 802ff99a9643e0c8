"""Account services and the selectors every permission check relies on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser, Group
from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone

from apps.accounts import personas, selectors
from apps.accounts.choices import Persona
from apps.accounts.models import APIToken, Membership, Project, User
from apps.accounts.services import (
    api_token_authenticate,
    api_token_create,
    invitation_accept,
    invitation_create,
    membership_add,
    membership_remove,
    personas_sync,
    project_create,
    user_create,
    user_set_personas,
    work_team_save,
)
from apps.jobs.models import Job
from tests.factories import UserFactory

# --- personas ---------------------------------------------------------------------------------------------

CAPABILITIES = [
    personas.USE_STUDIO,
    personas.USE_LABELING,
    personas.CREATE_PROJECT,
    personas.MANAGE_MEMBERS,
    personas.MANAGE_WORKTEAMS,
    personas.RUN_JOBS,
    personas.CANCEL_JOBS,
]
EXPECTED = {
    "admin": set(CAPABILITIES),
    "data_scientist": {
        personas.USE_STUDIO,
        personas.CREATE_PROJECT,
        personas.MANAGE_WORKTEAMS,
        personas.RUN_JOBS,
        personas.CANCEL_JOBS,
    },
    "mlops_engineer": {personas.USE_STUDIO, personas.CREATE_PROJECT, personas.RUN_JOBS, personas.CANCEL_JOBS},
    "labeler": {personas.USE_LABELING},
}


@pytest.mark.parametrize("persona", list(EXPECTED))
def test_persona_capabilities(db, persona: str) -> None:
    user = UserFactory(personas=[persona])
    user = User.objects.get(pk=user.pk)  # fresh permission cache
    assert {perm for perm in CAPABILITIES if user.has_perm(perm)} == EXPECTED[persona]
    assert user.persona_names == [persona]
    assert user.is_labeler_only == (persona == "labeler")


def test_personas_sync_is_idempotent_and_grants_exactly_the_table(db) -> None:
    personas_sync()
    personas_sync()
    labels = [p.label for p in Persona]
    assert Group.objects.filter(name__in=labels).count() == len(labels)
    labeler = Group.objects.get(name=Persona.LABELER.label)
    assert sorted(f"{p.content_type.app_label}.{p.codename}" for p in labeler.permissions.all()) == [
        personas.USE_LABELING
    ]


def test_user_set_personas_replaces_the_old_ones_and_sets_admin_flags(db) -> None:
    user = UserFactory(personas=["admin"])
    assert (user.is_superuser, user.is_staff) == (True, True)
    user_set_personas(user=user, personas=["labeler"])
    user = User.objects.get(pk=user.pk)
    assert (user.is_superuser, user.is_staff, user.persona_names) == (False, False, ["labeler"])
    assert not user.has_perm(personas.USE_STUDIO)
    extra = Group.objects.create(name="Reviewers")
    user.groups.add(extra)
    user_set_personas(user=user, personas=["data_scientist"])
    assert set(user.groups.values_list("name", flat=True)) == {"Reviewers", "Data Scientist"}


def test_user_set_personas_refuses_unknown_personas(db) -> None:
    user = UserFactory()
    with pytest.raises(ValueError, match="superuser"):
        user_set_personas(user=user, personas=["superuser"])


# --- users ------------------------------------------------------------------------------------------------


def test_user_create_with_personas_and_projects(project_a) -> None:
    user = user_create(
        username="ines",
        email="ines@example.test",
        password="plum-orchard-velvet-42",
        personas=["mlops_engineer"],
        projects=[project_a],
    )
    assert user.check_password("plum-orchard-velvet-42")
    assert user.persona_names == ["mlops_engineer"]
    assert list(user.projects.all()) == [project_a]


def test_user_create_refuses_duplicates_and_weak_passwords(db, ds_user) -> None:
    with pytest.raises(ValidationError) as exc:
        user_create(username="DANA", password="plum-orchard-velvet-42")
    assert exc.value.message_dict == {"username": ["A user named 'DANA' already exists."]}
    with pytest.raises(ValidationError, match="too short"):
        user_create(username="ines", password="short")
    assert not User.objects.filter(username="ines").exists()


def test_user_without_password_cannot_log_in(db) -> None:
    user = user_create(username="svc")
    assert not user.has_usable_password()


# --- projects and membership -----------------------------------------------------------------------------


def test_project_create_makes_the_creator_a_member_and_a_unique_slug(ds_user) -> None:
    first = project_create(name="  Churn / Q3 ", created_by=ds_user)
    second = project_create(name="Churn Q3", created_by=ds_user)
    assert (first.name, first.slug, second.slug) == ("Churn / Q3", "churn-q3", "churn-q3-2")
    assert Membership.objects.filter(project=first, user=ds_user, added_by=ds_user).exists()
    assert project_create(name="Orphan", created_by=None).memberships.count() == 0


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "A project needs a name."),
        ("   ", "A project needs a name."),
        ("alpha", "A project named 'alpha' already exists."),
    ],
)
def test_project_create_refuses_bad_names(project_a, name: str, message: str) -> None:
    with pytest.raises(ValidationError) as exc:
        project_create(name=name, created_by=None)
    assert exc.value.message_dict == {"name": [message]}
    assert Project.objects.count() == 1


def test_membership_remove_also_leaves_that_projects_work_teams(project_a, project_b, labeler_user) -> None:
    membership_add(project=project_b, user=labeler_user)
    team_a = work_team_save(project=project_a, name="A team", members=[labeler_user])
    team_b = work_team_save(project=project_b, name="B team", members=[labeler_user])
    membership_remove(project=project_a, user=labeler_user)
    assert not Membership.objects.filter(project=project_a, user=labeler_user).exists()
    assert list(team_a.members.all()) == []
    assert list(team_b.members.all()) == [labeler_user]


# --- work teams ---------------------------------------------------------------------------------------------


def test_work_team_members_must_be_project_members(project_a, labeler_user, outsider, admin_user) -> None:
    with pytest.raises(ValidationError) as exc:
        work_team_save(project=project_a, name="Annotators", members=[labeler_user, outsider])
    assert exc.value.message_dict == {"members": ["Not members of project 'Alpha': bob."]}
    team = work_team_save(project=project_a, name="Annotators", members=[labeler_user, admin_user])
    assert set(team.members.all()) == {labeler_user, admin_user}


def test_work_team_names_are_unique_per_project(project_a, project_b) -> None:
    team = work_team_save(project=project_a, name="Annotators")
    with pytest.raises(ValidationError, match="already has a work team named 'annotators'"):
        work_team_save(project=project_a, name="annotators")
    assert work_team_save(project=project_b, name="Annotators").pk != team.pk
    renamed = work_team_save(project=project_a, name="Annotators", description="kept", team=team)
    assert (renamed.pk, renamed.description) == (team.pk, "kept")


# --- invitations (service level; the HTTP flow is in test_invitations.py) ---------------------------------


def test_failed_acceptance_leaves_the_invitation_open(project_a, admin_user, ds_user) -> None:
    invitation, token = invitation_create(
        email="x@example.test", personas=["labeler"], project=project_a, created_by=admin_user
    )
    with pytest.raises(ValidationError):
        invitation_accept(token=token, username="dana", password="plum-orchard-velvet-42")
    invitation.refresh_from_db()
    assert invitation.state == "open"
    user = invitation_accept(token=token, username="xavier", password="plum-orchard-velvet-42")
    assert user.persona_names == ["labeler"]


# --- API token service ----------------------------------------------------------------------------------------


def test_api_token_authenticate_records_use_at_most_once_a_minute(ds_user) -> None:
    token, key = api_token_create(user=ds_user, name="cli")
    assert api_token_authenticate(key=key) == ds_user
    first = APIToken.objects.get(pk=token.pk).last_used_at
    assert first is not None
    api_token_authenticate(key=key)
    assert APIToken.objects.get(pk=token.pk).last_used_at == first
    APIToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now() - timedelta(minutes=5))
    api_token_authenticate(key=key)
    assert APIToken.objects.get(pk=token.pk).last_used_at >= first  # refreshed from 5 minutes ago
    assert api_token_authenticate(key="atl_nope") is None


def test_api_token_create_names_blank_tokens(ds_user) -> None:
    token, key = api_token_create(user=ds_user, name="   ")
    assert token.name == "token"
    assert token.prefix == key[:10]


# --- selectors: the one place project scoping lives --------------------------------------------------------


@pytest.fixture
def jobs(project_a, project_b) -> dict[str, Job]:
    return {
        "a": Job.objects.create(kind="core.storage_report", project=project_a),
        "b": Job.objects.create(kind="core.storage_report", project=project_b),
    }


def test_scope_to_user(jobs, admin_user, ds_user, outsider) -> None:
    qs = Job.objects.all()
    assert set(selectors.scope_to_user(qs, user=admin_user)) == {jobs["a"], jobs["b"]}
    assert set(selectors.scope_to_user(qs, user=ds_user)) == {jobs["a"]}
    assert set(selectors.scope_to_user(qs, user=outsider)) == {jobs["b"]}
    assert list(selectors.scope_to_user(qs, user=AnonymousUser())) == []  # type: ignore[arg-type]
    assert list(selectors.project_list_for_user(user=AnonymousUser())) == []  # type: ignore[arg-type]


def test_an_inactive_admin_sees_nothing_as_admin(jobs, admin_user) -> None:
    admin_user.is_active = False
    assert not admin_user.is_admin
    assert list(selectors.scope_to_user(Job.objects.all(), user=admin_user)) == []


@pytest.mark.parametrize("pk", ["b", "abc", None, "987654"])
def test_object_get_for_user_is_404_for_foreign_bad_or_missing_ids(jobs, ds_user, pk: str | None) -> None:
    value = jobs["b"].pk if pk == "b" else pk
    with pytest.raises(Http404):
        selectors.object_get_for_user(Job.objects.all(), user=ds_user, pk=value)
    assert selectors.object_get_for_user(Job.objects.all(), user=ds_user, pk=str(jobs["a"].pk)) == jobs["a"]


def test_project_get_for_user(project_a, project_b, ds_user, admin_user) -> None:
    assert selectors.project_get_for_user(user=ds_user, pk=project_a.pk) == project_a
    with pytest.raises(Http404):
        selectors.project_get_for_user(user=ds_user, pk=project_b.pk)
    assert selectors.project_get_for_user(user=admin_user, pk=project_b.pk) == project_b
    assert selectors.user_is_member(user=ds_user, project=project_a)
    assert not selectors.user_is_member(user=ds_user, project=project_b)


def test_invitations_are_listed_for_admins_only(project_a, admin_user, ds_user) -> None:
    invitation_create(email="x@example.test", personas=["labeler"], project=project_a, created_by=admin_user)
    assert selectors.invitation_list_for_user(user=admin_user).count() == 1
    assert selectors.invitation_list_for_user(user=ds_user).count() == 0
