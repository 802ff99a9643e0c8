"""Work teams (issue 15, item 2): employees teams of project members and vendor teams of outside people invited by link
to that one team; per-team worker limits, held on save and when an invitation is accepted. Through the API, the pages
and the services, on the real database."""

from __future__ import annotations

import re
import threading

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import SESSION_KEY
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.urls import reverse

from apps.accounts.models import Invitation, Membership, User, WorkTeam
from apps.accounts.services import invitation_accept, work_team_invitation_create, work_team_save

GOOD_PASSWORD = "plum-orchard-velvet-42"


def _team_body(response) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code in (200, 201), response.content[:500]
    return response.json()


def _accept(token: str, username: str, client: Client | None = None):  # type: ignore[no-untyped-def]
    return (client or Client()).post(
        reverse("accounts:invitation_accept", args=[token]),
        {"username": username, "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD},
    )


def _token(link: str) -> str:
    match = re.fullmatch(r"http://testserver/accounts/invite/([A-Za-z0-9_-]+)/", link)
    assert match, link
    return match.group(1)


# --- the API ----------------------------------------------------------------------------------------------------


def test_api_creates_an_employees_team_of_project_members(api_for, ds_user, labeler_user, project_a) -> None:
    response = api_for(ds_user).post(
        "/api/work-teams/", {"project": project_a.pk, "name": "Annotators", "members": ["lena"]}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert {k: body[k] for k in ("project", "name", "kind", "worker_limit", "members")} == {
        "project": project_a.pk,
        "name": "Annotators",
        "kind": "employees",
        "worker_limit": None,
        "members": ["lena"],
    }
    team = WorkTeam.objects.get(pk=body["id"])
    assert list(team.members.all()) == [labeler_user]
    listed = api_for(ds_user).get("/api/work-teams/?kind=employees").json()
    assert [row["id"] for row in listed["results"]] == [team.pk]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"members": ["bob"]}, "members", "Not members of project 'Alpha': bob."),
        ({"members": ["nobody-here"]}, "members", "No active user named 'nobody-here'."),
        ({"kind": "contractors"}, "kind", '"contractors" is not a valid choice.'),
        ({"worker_limit": 0}, "worker_limit", "Ensure this value is greater than or equal to 1."),
        ({"worker_limit": "many"}, "worker_limit", "A valid integer is required."),
        ({"members": ["lena", "dana"], "worker_limit": 1}, "members", "more than the team's worker limit of 1"),
        ({"name": "  "}, "name", "This field may not be blank."),
        ({"members": "lena"}, "members", 'Expected a list of items but got type "str".'),
    ],
)
def test_api_create_refuses_bad_input_naming_the_field(
    api_for, ds_user, labeler_user, outsider, project_a, data: dict, field: str, message: str
) -> None:
    payload = {"project": project_a.pk, "name": "Annotators", **data}
    response = api_for(ds_user).post("/api/work-teams/", payload, format="json")
    assert response.status_code == 400, response.json()
    errors = response.json()["errors"]
    assert field in errors, errors
    assert message in " ".join(errors[field]), errors
    assert not WorkTeam.objects.exists()


def test_api_create_in_another_project_is_404(api_for, ds_user, project_b) -> None:
    response = api_for(ds_user).post("/api/work-teams/", {"project": project_b.pk, "name": "Mine"}, format="json")
    assert response.status_code == 404
    assert not WorkTeam.objects.exists()


def test_api_creates_a_vendor_team_of_outside_people(api_for, ds_user, outsider, project_a) -> None:
    response = api_for(ds_user).post(
        "/api/work-teams/",
        {"project": project_a.pk, "name": "Acme labeling", "kind": "vendor", "members": ["bob"], "worker_limit": 5},
        format="json",
    )
    body = _team_body(response)
    assert (body["kind"], body["worker_limit"], body["members"]) == ("vendor", 5, ["bob"])
    assert not Membership.objects.filter(project=project_a, user=outsider).exists(), "a vendor worker is no member"


def test_api_patch_changes_only_what_is_given(api_for, ds_user, labeler_user, mlops_user, project_a) -> None:
    team = work_team_save(project=project_a, name="Annotators", description="kept", members=[labeler_user])
    client = api_for(ds_user)
    url = f"/api/work-teams/{team.pk}/"
    body = _team_body(client.patch(url, {"name": "Annotators 2"}, format="json"))
    assert (body["name"], body["description"], body["members"], body["kind"]) == (
        "Annotators 2",
        "kept",
        ["lena"],
        "employees",
    )
    body = _team_body(client.patch(url, {"members": ["lena", "omar"], "worker_limit": 2}, format="json"))
    assert (sorted(body["members"]), body["worker_limit"]) == (["lena", "omar"], 2)
    response = client.patch(url, {"worker_limit": 1}, format="json")
    assert response.status_code == 400
    assert "more than the team's worker limit of 1" in response.json()["errors"]["members"][0]
    body = _team_body(client.patch(url, {"members": [], "worker_limit": None}, format="json"))
    assert (body["members"], body["worker_limit"]) == ([], None)
    team.refresh_from_db()
    assert (team.name, team.description, team.worker_limit, team.members.count()) == ("Annotators 2", "kept", None, 0)


def test_api_patch_to_employees_refuses_outside_members(api_for, ds_user, outsider, project_a) -> None:
    team = work_team_save(project=project_a, name="Acme", kind="vendor", members=[outsider])
    response = api_for(ds_user).patch(f"/api/work-teams/{team.pk}/", {"kind": "employees"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["members"] == ["Not members of project 'Alpha': bob."]
    team.refresh_from_db()
    assert team.kind == "vendor"


def test_api_write_routes_need_the_manage_workteams_capability(api_for, mlops_user, labeler_user, project_a) -> None:
    team = work_team_save(project=project_a, name="Acme", kind="vendor")
    for user in (mlops_user, labeler_user):
        client = api_for(user)
        for response in (
            client.post("/api/work-teams/", {"project": project_a.pk, "name": "X"}, format="json"),
            client.patch(f"/api/work-teams/{team.pk}/", {"name": "Y"}, format="json"),
            client.post(f"/api/work-teams/{team.pk}/invitations/", {"email": "v@example.test"}, format="json"),
        ):
            assert response.status_code == 403, (user, response.json())
    team.refresh_from_db()
    assert team.name == "Acme" and WorkTeam.objects.count() == 1 and not Invitation.objects.exists()


# --- vendor invitations ---------------------------------------------------------------------------------------


def test_vendor_invitation_through_the_api_makes_a_labeler_of_that_team_only(
    api_for, ds_user, project_a, project_b
) -> None:
    team = work_team_save(project=project_a, name="Acme labeling", kind="vendor")
    client = api_for(ds_user)
    response = client.post(f"/api/work-teams/{team.pk}/invitations/", {"email": "vera@acme.test"}, format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert (created["email"], created["state"]) == ("vera@acme.test", "open")
    token = _token(created["link"])
    listed = client.get(f"/api/work-teams/{team.pk}/invitations/").json()
    assert [(row["id"], row["state"]) for row in listed] == [(created["id"], "open")]
    assert token not in str(listed) and "link" not in listed[0], "the link is returned once"

    visitor = Client()
    page = visitor.get(reverse("accounts:invitation_accept", args=[token]))
    assert page.status_code == 200
    assert "Alpha" not in page.content.decode(), "the invitation page does not name the project"
    response = _accept(token, "vera", client=visitor)
    assert response.status_code == 302
    vera = User.objects.get(username="vera")
    assert vera.persona_names == ["labeler"] and vera.email == "vera@acme.test"
    assert not vera.is_staff and not vera.is_superuser
    assert list(vera.work_teams.all()) == [team]
    assert not Membership.objects.filter(user=vera).exists(), "a vendor worker joins the team, not the project"
    assert int(visitor.session[SESSION_KEY]) == vera.pk
    assert client.get(f"/api/work-teams/{team.pk}/invitations/").json()[0]["state"] == "accepted"


def test_team_invitation_gives_the_labeler_persona_whatever_its_groups_say(ds_user, project_a) -> None:
    """The accept path reads the team, not the persona rows: a tampered invitation still yields a Labeler only."""
    from django.contrib.auth.models import Group

    team = work_team_save(project=project_a, name="Acme", kind="vendor")
    invitation, token = work_team_invitation_create(team=team, email="v@acme.test", created_by=ds_user)
    invitation.personas.set(Group.objects.all())
    invitation.project = project_a
    invitation.save()
    user = invitation_accept(token=token, username="vic", password=GOOD_PASSWORD)
    assert user.persona_names == ["labeler"]
    assert not Membership.objects.filter(user=user).exists()


def test_an_employees_team_takes_no_invitations(api_for, ds_user, project_a) -> None:
    team = work_team_save(project=project_a, name="Annotators")
    response = api_for(ds_user).post(f"/api/work-teams/{team.pk}/invitations/", {"email": "x@y.test"}, format="json")
    assert response.status_code == 400
    assert "is an employees team" in response.json()["errors"]["team"][0]
    bad = api_for(ds_user).post(f"/api/work-teams/{team.pk}/invitations/", {"email": "not-an-email"}, format="json")
    assert bad.status_code == 400 and "email" in bad.json()["errors"]
    assert not Invitation.objects.exists()


def test_revoked_vendor_invitation_link_stops_working(api_for, ds_user, project_a) -> None:
    team = work_team_save(project=project_a, name="Acme", kind="vendor")
    invitation, token = work_team_invitation_create(team=team, email="v@acme.test", created_by=ds_user)
    response = api_for(ds_user).post(f"/api/work-team-invitations/{invitation.pk}/revoke/")
    assert response.status_code == 200 and response.json()["state"] == "revoked"
    assert Client().get(reverse("accounts:invitation_accept", args=[token])).status_code == 404
    assert _accept(token, "vic").status_code == 404
    assert not User.objects.filter(username="vic").exists()
    assert team.members.count() == 0


def test_another_projects_team_invitations_are_404(api_for, ds_user, outsider, project_b) -> None:
    team = work_team_save(project=project_b, name="Bravo vendors", kind="vendor")
    invitation, _ = work_team_invitation_create(team=team, email="v@bravo.test", created_by=outsider)
    client = api_for(ds_user)
    assert client.get(f"/api/work-teams/{team.pk}/invitations/").status_code == 404
    assert (
        client.post(f"/api/work-teams/{team.pk}/invitations/", {"email": "x@y.test"}, format="json").status_code == 404
    )
    assert client.post(f"/api/work-team-invitations/{invitation.pk}/revoke/").status_code == 404
    invitation.refresh_from_db()
    assert invitation.state == "open" and team.invitations.count() == 1


# --- the worker limit --------------------------------------------------------------------------------------------


def test_worker_limit_holds_when_an_invitation_is_accepted(ds_user, project_a) -> None:
    team = work_team_save(project=project_a, name="Acme", kind="vendor", worker_limit=1)
    _, first = work_team_invitation_create(team=team, email="one@acme.test", created_by=ds_user)
    _, second = work_team_invitation_create(team=team, email="two@acme.test", created_by=ds_user)
    assert _accept(first, "first-worker").status_code == 302
    response = _accept(second, "second-worker")
    assert response.status_code == 400
    text = response.content.decode().replace("&#x27;", "'")
    assert "Work team 'Acme' is full: it has 1 of its 1 workers." in text
    assert not User.objects.filter(username="second-worker").exists()
    assert Invitation.objects.get(email="two@acme.test").state == "open", "usable once the limit is raised"
    # A full team takes no new invitation either.
    with pytest.raises(ValidationError, match=r"is full \(1 workers\): raise its worker limit first"):
        work_team_invitation_create(team=team, email="three@acme.test", created_by=ds_user)
    work_team_save(project=project_a, team=team, name="Acme", members=list(team.members.all()), worker_limit=2)
    assert _accept(second, "second-worker").status_code == 302
    assert sorted(team.members.values_list("username", flat=True)) == ["first-worker", "second-worker"]


def test_worker_limit_holds_on_save(project_a, ds_user, mlops_user, labeler_user) -> None:
    with pytest.raises(ValidationError) as exc:
        work_team_save(project=project_a, name="Small", members=[ds_user, mlops_user, labeler_user], worker_limit=2)
    assert exc.value.message_dict == {
        "members": ["3 members are more than the team's worker limit of 2: remove some or raise the limit."]
    }
    for bad in (0, -1, "two", True):
        with pytest.raises(ValidationError) as exc:
            work_team_save(project=project_a, name="Small", worker_limit=bad)
        assert list(exc.value.message_dict) == ["worker_limit"]
    assert not WorkTeam.objects.exists()
    team = work_team_save(project=project_a, name="Small", members=[ds_user], worker_limit="2")
    assert team.worker_limit == 2
    kept = work_team_save(project=project_a, team=team, name="Small", members=[ds_user, mlops_user])
    assert kept.worker_limit == 2, "left out: the limit stays"


@pytest.mark.skipif(
    not django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="needs PostgreSQL (CI's second run): row locks across connections",
)
@pytest.mark.django_db(transaction=True)
def test_two_acceptances_at_once_never_pass_the_limit(project_a, ds_user) -> None:
    """The team's row is locked while a seat is taken: of 6 acceptances racing for 2 seats, exactly 2 succeed."""
    team = work_team_save(project=project_a, name="Acme", kind="vendor", worker_limit=2)
    tokens = [work_team_invitation_create(team=team, email=f"w{i}@acme.test", created_by=ds_user)[1] for i in range(6)]
    barrier = threading.Barrier(len(tokens))
    outcomes: list[str] = []

    def accept(i: int, token: str) -> None:
        try:
            barrier.wait(timeout=10)
            invitation_accept(token=token, username=f"racer{i}", password=GOOD_PASSWORD)
            outcomes.append("ok")
        except ValidationError as exc:
            outcomes.append(exc.messages[0])
        finally:
            connection.close()

    threads = [threading.Thread(target=accept, args=(i, t)) for i, t in enumerate(tokens)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert outcomes.count("ok") == 2, outcomes
    assert all("is full" in o for o in outcomes if o != "ok"), outcomes
    assert team.members.count() == 2
    assert User.objects.filter(username__startswith="racer").count() == 2


# --- the pages ---------------------------------------------------------------------------------------------------


def test_pages_create_a_vendor_team_invite_show_the_link_once_and_revoke(client_for, ds_user, project_a) -> None:
    client = client_for(ds_user)
    response = client.post(
        reverse("accounts:workteam_list"),
        {"name": "Acme <b>labeling</b>", "kind": "vendor", "worker_limit": "3", "members": []},
    )
    assert response.status_code == 302
    team = WorkTeam.objects.get()
    assert (team.name, team.kind, team.worker_limit) == ("Acme <b>labeling</b>", "vendor", 3)
    listing = client.get(reverse("accounts:workteam_list")).content.decode()
    assert "Acme &lt;b&gt;labeling&lt;/b&gt;" in listing and "<b>labeling</b>" not in listing
    assert "Vendor" in listing and "(limit 3)" in listing

    response = client.post(reverse("accounts:workteam_invite", args=[team.pk]), {"email": "vera@acme.test"})
    assert response.status_code == 302 and response["Location"].endswith("#invite-link")
    page = client.get(response["Location"]).content.decode()
    link = re.search(r'<code id="invite-url">([^<]+)</code>', page)
    assert link, "the link is shown right after creation"
    token = _token(link.group(1))
    again = client.get(reverse("accounts:workteam_detail", args=[team.pk])).content.decode()
    assert "invite-url" not in again and token not in again, "only once"
    assert "vera@acme.test" in again and ">open<" in again

    invitation = Invitation.objects.get()
    assert invitation.team == team and invitation.project is None
    assert [g.name for g in invitation.personas.all()] == ["Labeler"]
    response = client.post(reverse("accounts:workteam_invitation_revoke", args=[invitation.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:workteam_detail", args=[team.pk])
    invitation.refresh_from_db()
    assert invitation.state == "revoked"
    assert ">revoked<" in client.get(response["Location"]).content.decode()
    assert _accept(token, "vera").status_code == 404


def test_invite_page_refuses_an_employees_team_in_words(client_for, ds_user, project_a) -> None:
    team = work_team_save(project=project_a, name="Annotators")
    response = client_for(ds_user).post(reverse("accounts:workteam_invite", args=[team.pk]), {"email": "x@y.test"})
    assert response.status_code == 400
    text = response.content.decode().replace("&#x27;", "'")
    assert "Work team 'Annotators' is an employees team" in text
    assert not Invitation.objects.exists()


def test_team_page_removes_a_vendor_worker_and_edits_the_limit(client_for, ds_user, project_a) -> None:
    team = work_team_save(project=project_a, name="Acme", kind="vendor")
    _, token = work_team_invitation_create(team=team, email="v@acme.test", created_by=ds_user)
    assert _accept(token, "vic").status_code == 302
    vic = User.objects.get(username="vic")
    client = client_for(ds_user)
    page = client.get(reverse("accounts:workteam_detail", args=[team.pk])).content.decode()
    assert f'value="{vic.pk}"' in page and "checked" in page, "the vendor worker is listed, ticked"
    response = client.post(
        reverse("accounts:workteam_detail", args=[team.pk]),
        {"name": "Acme", "kind": "vendor", "worker_limit": "", "members": []},
    )
    assert response.status_code == 302
    assert team.members.count() == 0
    response = client.post(
        reverse("accounts:workteam_detail", args=[team.pk]),
        {"name": "Acme", "kind": "vendor", "worker_limit": "0", "members": []},
    )
    assert response.status_code == 400
    assert "Ensure this value is greater than or equal to 1." in response.content.decode()


def test_admin_invitation_list_names_a_vendor_teams_invitation(client_for, admin_user, ds_user, project_a) -> None:
    team = work_team_save(project=project_a, name="Acme", kind="vendor")
    work_team_invitation_create(team=team, email="v@acme.test", created_by=ds_user)
    page = client_for(admin_user).get(reverse("accounts:invitation_list")).content.decode()
    assert "Alpha (vendor team Acme)" in page
