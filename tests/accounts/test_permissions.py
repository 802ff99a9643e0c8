"""The persona × route matrix's rows for accounts (sign-in, profile and tokens, projects, work teams, invitations).

The harness, and what a row means: tests/permissions.py."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.models import APIToken, User, WorkTeam
from apps.accounts.services import api_token_create, work_team_invitation_create, work_team_save
from tests.permissions import (
    ADMIN,
    ADMIN_ONLY,
    DS,
    LABELER,
    LABELING,
    OWNER,
    PROJECT,
    PUBLIC,
    SIGNED_IN,
    SIGNED_IN_REDIRECTED,
    STUDIO,
    WORKTEAM_MANAGERS,
    ListRow,
    Probe,
    Route,
    World,
    api_ids,
    body,
    client_of,
    get,
    invitation_kw,
    invitation_token_kw,
    matrix_tests,
    member_kw,
    post,
    project_kw,
    switch_data,
    team_kw,
    token_kw,
)


def team_invitation_kw(w: World, user: User | None, side: str) -> dict[str, Any]:
    """A fresh invitation link to a vendor team of the side's project (B's team carries B's marks)."""
    project = w.projects[side]
    name = "Alpha vendors" if side == "a" else "Bravo secret team vendors"
    team = WorkTeam.objects.filter(project=project, name=name).first() or work_team_save(
        project=project, name=name, kind=WorkTeam.Kind.VENDOR
    )
    creator = w.users[DS] if side == "a" else w.outsider
    invitation, _ = work_team_invitation_create(team=team, email=f"vendor-{side}@example.test", created_by=creator)
    return {"pk": invitation.pk}


def patch(who: frozenset[str], ok: int, **kw: Any) -> Probe:
    return Probe(who, "patch", ok, **kw)


ROUTES: dict[str, Route] = {
    "accounts:login": Route((get(PUBLIC, ok_for=SIGNED_IN_REDIRECTED), post(PUBLIC, 200, ok_for=SIGNED_IN_REDIRECTED))),
    "accounts:invitation_accept": Route((get(PUBLIC), post(PUBLIC, 400)), kwargs=invitation_token_kw),
    # any signed-in user (account routes)
    "accounts:logout": Route((post(SIGNED_IN, 302, anon_next=False),)),
    "accounts:password_change": Route((get(SIGNED_IN), post(SIGNED_IN, 200))),
    "accounts:profile": Route((get(SIGNED_IN), post(SIGNED_IN, 302))),
    "accounts:token_create": Route((post(SIGNED_IN, 400),)),
    "accounts:token_revoke": Route((post(SIGNED_IN, 302),), kwargs=token_kw, foreign=OWNER),
    "accounts:project_switch": Route((post(SIGNED_IN, 302, data=switch_data),), foreign=PROJECT),
    "api:me": Route((get(SIGNED_IN),)),
    "api:token-list": Route((get(SIGNED_IN), post(SIGNED_IN, 400))),
    "api:token-revoke": Route((post(SIGNED_IN, 200),), kwargs=token_kw, foreign=OWNER),
    # labeling
    "accounts:my_work": Route((get(LABELING, ok=302),)),  # now labeling:my_work (tests/labeling/rows_work.py)
    "accounts:project_list": Route((get(STUDIO), post(STUDIO, 400))),
    "accounts:project_detail": Route((get(STUDIO),), kwargs=project_kw, foreign=PROJECT),
    "accounts:project_member_add": Route((post(ADMIN_ONLY, 302),), kwargs=project_kw, foreign=PROJECT),
    "accounts:project_member_remove": Route((post(ADMIN_ONLY, 302),), kwargs=member_kw, foreign=PROJECT),
    "accounts:workteam_list": Route((get(STUDIO), post(WORKTEAM_MANAGERS, 400))),
    "accounts:workteam_detail": Route((get(STUDIO), post(WORKTEAM_MANAGERS, 400)), kwargs=team_kw, foreign=PROJECT),
    "accounts:workteam_invite": Route((post(WORKTEAM_MANAGERS, 400),), kwargs=team_kw, foreign=PROJECT),
    "accounts:workteam_invitation_revoke": Route(
        (post(WORKTEAM_MANAGERS, 302),), kwargs=team_invitation_kw, foreign=PROJECT
    ),
    "api:project-list": Route((get(STUDIO), post(STUDIO, 400))),
    "api:project-detail": Route((get(STUDIO),), kwargs=project_kw, foreign=PROJECT),
    "api:workteam-list": Route((get(STUDIO), post(WORKTEAM_MANAGERS, 400))),
    "api:workteam-detail": Route((get(STUDIO), patch(WORKTEAM_MANAGERS, 200)), kwargs=team_kw, foreign=PROJECT),
    "api:workteam-invitations": Route((get(STUDIO), post(WORKTEAM_MANAGERS, 400)), kwargs=team_kw, foreign=PROJECT),
    "api:team-invitation-revoke": Route((post(WORKTEAM_MANAGERS, 200),), kwargs=team_invitation_kw, foreign=PROJECT),
    # admin only (in the studio UI; the Django admin console is checked below)
    "accounts:invitation_list": Route((get(ADMIN_ONLY), post(ADMIN_ONLY, 400))),
    "accounts:invitation_revoke": Route((post(ADMIN_ONLY, 302),), kwargs=invitation_kw),
}

LISTS: list[ListRow] = [
    ("accounts:project_list", "", "accounts:project_detail", "projects"),
    ("accounts:workteam_list", "", "accounts:workteam_detail", "teams"),
    ("api:project-list", "", None, "projects"),
    ("api:workteam-list", "", None, "teams"),
]

globals().update(matrix_tests(ROUTES, LISTS))  # the `world` fixture and this app's matrix tests


def test_token_list_holds_only_the_callers_tokens(world: World) -> None:
    own, _ = api_token_create(user=world.users[DS], name="mine")
    theirs, _ = api_token_create(user=world.outsider, name="theirs")
    response = client_of("api:token-list", world.users[DS]).get(reverse("api:token-list"))
    ids = api_ids(response)
    assert own.pk in ids
    assert theirs.pk not in ids
    assert set(APIToken.objects.filter(pk__in=ids).values_list("user_id", flat=True)) == {world.users[DS].pk}


def test_my_work_lists_only_the_labelers_teams(world: World) -> None:
    response = client_of("accounts:my_work", world.users[LABELER]).get(reverse("accounts:my_work"), follow=True)
    assert response.redirect_chain == [(reverse("labeling:my_work"), 302)]
    assert "Alpha annotators" in body(response)
    assert "Bravo secret team" not in body(response)


def test_project_switcher_offers_only_member_projects(world: World) -> None:
    html = body(client_of("workspace:home", world.users[DS]).get(reverse("workspace:home")))
    options = re.findall(r'<option value="(\d+)"[^>]*>([^<]+)</option>', html.split('id="project-select"')[1])
    assert {int(pk) for pk, _ in options} == {world.projects["a"].pk}


# --- redirects after sign-in and project switch stay on this site ------------------------------------------

OFF_SITE = ["https://evil.example/", "//evil.example/", "/\\evil.example", "\\\\evil.example", "javascript:alert(1)"]


@pytest.mark.parametrize("target", OFF_SITE)
def test_project_switch_never_redirects_off_site(world: World, target: str) -> None:
    response = client_of("accounts:project_switch", world.users[DS]).post(
        reverse("accounts:project_switch"), {"project": world.projects["a"].pk, "next": target}
    )
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("/") and not location.startswith("//") and "\\" not in location, location
    assert urlparse(location).netloc == ""


@pytest.mark.parametrize("target", OFF_SITE)
def test_login_never_redirects_off_site(world: World, target: str) -> None:
    response = Client().post(
        reverse("accounts:login"), {"username": "dana", "password": "correct-horse-battery", "next": target}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("workspace:home")


def test_project_switch_keeps_a_local_next(world: World) -> None:
    client = client_of("accounts:project_switch", world.users[ADMIN])
    response = client.post(reverse("accounts:project_switch"), {"project": world.projects["b"].pk, "next": "/jobs/"})
    assert response["Location"] == "/jobs/"
    assert client.session["project_id"] == world.projects["b"].pk
