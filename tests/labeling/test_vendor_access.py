"""A vendor worker (issue 15, item 2 and "must be shown"): an outside person invited by link to one vendor team of
project A. They reach that team's labeling jobs, items and their own tasks, exactly as the matrix says a Labeler reaches
their team's; nothing else of the project: no project list or switcher entry, no studio page or API, no job
WebSocket, and not the project's name when the job hides it. Every route of the URL resolver is walked (the matrix's
rows, tests/<app>/test_permissions.py), so routes added later are walked too.

The world is the matrix's (tests/permissions.py); here project A's labeling job is handed to the vendor team, and the
claim on its first item to the vendor worker (the matrix's Labeler, in the employees team, is then outside the job's
team)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.models import Membership, User, WorkTeam
from apps.accounts.services import work_team_invitation_create, work_team_save
from apps.jobs.models import Job
from apps.workspace.modules import nav_for_user
from tests.labeling.test_worker_access import (
    HIDDEN_NAME,
    HIDDEN_SLUG,
    all_routes,
    case_id,
    hide_project,
    other_apps,
    other_routes,
    probe_as,
    problems_for,
    route_cases,
    socket_refused,
)
from tests.permissions import ANON, B_MARKS, LABELER, PROJECT, World, app_routes, body
from tests.permissions import world as world  # the matrix's fixture

PASSWORD = "plum-orchard-velvet-42"
VENDOR_TEAM = "Acme vendor crew"


def invite_and_accept(team: WorkTeam, created_by: User, username: str = "vera-vendor") -> User:
    """The real path: an invitation link to the vendor team, accepted on the public page."""
    _, token = work_team_invitation_create(team=team, email=f"{username}@acme.test", created_by=created_by)
    response = Client().post(
        reverse("accounts:invitation_accept", args=[token]),
        {"username": username, "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302, body(response)[:300]
    return User.objects.get(username=username)


@pytest.fixture
def vendor(world: World) -> User:
    """The vendor worker; project A's labeling job now belongs to their team, hides its project, and the claim on its
    first item is theirs."""
    from apps.labeling.models import LabelingJob, LabelingTask

    team = work_team_save(project=world.projects["a"], name=VENDOR_TEAM, kind=WorkTeam.Kind.VENDOR)
    vera = invite_and_accept(team, world.users["data_scientist"])
    job = world.labeling_jobs["a"]
    LabelingJob.objects.filter(pk=job.pk).update(team=team)
    LabelingTask.objects.filter(pk=world.labeling_tasks("a").pk).update(worker=vera)
    hide_project(world)
    return vera


def test_the_vendor_is_a_labeler_of_one_team_and_no_project(world: World, vendor: User) -> None:
    assert vendor.persona_names == ["labeler"]
    assert [t.name for t in vendor.work_teams.all()] == [VENDOR_TEAM]
    assert not Membership.objects.filter(user=vendor).exists()
    assert [section for section, _ in nav_for_user(vendor)] == ["Labeling"]
    labels = [item.label for _, items in nav_for_user(vendor) for item in items]
    assert "Work teams" not in labels and "Projects" not in labels


@pytest.mark.parametrize("case", route_cases(labeling=True), ids=case_id)
def test_vendor_on_labeling_routes(world: World, vendor: User, case: tuple[str, int]) -> None:
    """Their team's job: what a Labeler of the job's team gets (the matrix's Labeler row); project B's objects: 404;
    the Labeler of the employees team, now outside the job's team: 404. No response names the hidden project."""
    name, index = case
    route = all_routes()[name]
    probe = route.probes[index]
    marks = (*B_MARKS, HIDDEN_NAME, HIDDEN_SLUG)
    problems: list[str] = []
    _, response = probe_as(world, name, route, index, vendor)
    want = probe.expected(LABELER) if LABELER in probe.who else 403
    problems += problems_for(name, route, index, response, want, marks, "vendor on their team's job")
    if route.kwargs or probe.data:
        before = world.b_state()
        _, response = probe_as(world, name, route, index, vendor, side="b")
        problems += problems_for(
            name, route, index, response, 404 if LABELER in probe.who else 403, marks, "vendor on project B"
        )
        assert world.b_state() == before, name
    if route.kwargs and LABELER in probe.who:
        _, response = probe_as(world, name, route, index, world.users[LABELER])
        problems += problems_for(name, route, index, response, 404, marks, "employee labeler outside the job's team")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("app", other_apps())
def test_vendor_on_every_other_route(world: World, vendor: User, app: str) -> None:
    """Outside labeling a vendor worker has the Labeler persona and no project: a studio route is 403, a route naming
    a project's object 404, an account route (profile, tokens, notifications) theirs; no response names the hidden
    project or shows project B (public pages are what anyone sees)."""
    problems: list[str] = []
    for name, index in other_routes(app):
        route = all_routes()[name]
        probe = route.probes[index]
        if LABELER not in probe.who:
            want = 403
        elif route.foreign == PROJECT:
            want = 404  # in no project: the project switcher's target is not theirs
        else:
            want = probe.expected(LABELER)
        marks: tuple[str, ...] = B_MARKS if ANON in probe.who else (*B_MARKS, HIDDEN_NAME, HIDDEN_SLUG)
        for side in ("a", "b") if route.foreign == PROJECT else ("a",):
            _, response = probe_as(world, name, route, index, vendor, side=side)
            problems += problems_for(name, route, index, response, want, marks, f"vendor (side {side})")
    assert not problems, "\n".join(problems)


def test_vendor_signs_in_and_lands_on_my_work(world: World, vendor: User) -> None:
    """In no project, the start page is still My work (no 'choose a project' wall), and every link the shell shows
    them leads somewhere they may go."""
    client = Client()
    response = client.post(reverse("accounts:login"), {"username": vendor.username, "password": PASSWORD}, follow=True)
    assert response.status_code == 200, body(response)[:300]
    final = response.redirect_chain[-1][0]
    assert final in {reverse("accounts:my_work"), _maybe("labeling:my_work")}, response.redirect_chain
    html = body(response)
    assert "Choose a project" not in html
    assert 'id="project-switcher"' not in html
    assert HIDDEN_NAME not in html and HIDDEN_SLUG not in html
    sidebar = html.split('id="sidebar"')[1].split("</nav>")[0]
    links = re.findall(r'href="(/[^"]*)"', sidebar)
    assert links, "the sidebar offers My work"
    for link in links:
        assert client.get(link).status_code in (200, 302), link


def _maybe(name: str) -> str | None:
    from django.urls import NoReverseMatch

    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def test_vendor_switching_to_the_project_is_404(world: World, vendor: User) -> None:
    client = Client()
    client.force_login(vendor)
    response = client.post(reverse("accounts:project_switch"), {"project": world.projects["a"].pk, "next": "/"})
    assert response.status_code == 404
    assert "project_id" not in client.session
    assert HIDDEN_NAME not in body(response)


def test_vendor_sees_no_project_through_the_api(world: World, vendor: User, api_for: Any) -> None:
    client = api_for(vendor)
    for path in ("/api/projects/", f"/api/projects/{world.projects['a'].pk}/", "/api/work-teams/", "/api/jobs/"):
        response = client.get(path)
        assert response.status_code == 403, (path, response.status_code)
        assert HIDDEN_NAME not in body(response)
    me = client.get("/api/me/").json()
    assert (me["username"], me["personas"], me["is_admin"]) == (vendor.username, ["labeler"], False)


@pytest.mark.django_db(transaction=True)
def test_job_websocket_is_refused_to_a_vendor_worker(project_a, ds_user) -> None:
    team = work_team_save(project=project_a, name=VENDOR_TEAM, kind=WorkTeam.Kind.VENDOR)
    vera = invite_and_accept(team, ds_user)
    job = Job.objects.create(kind="core.storage_report", project=project_a, title="alpha-job", created_by=ds_user)
    for path in (f"/ws/jobs/?job={job.pk}", f"/ws/jobs/?project={project_a.pk}"):
        connected, code = socket_refused(vera, path)
        assert (connected, code) == (False, 4403), path


def test_routes_are_walked_for_every_app() -> None:
    apps = set(other_apps())
    assert {"accounts", "workspace", "jobs", "datasets", "registry", "endpoints"} <= apps
    assert {name for name, _ in route_cases(labeling=True)} == {
        name for routes in app_routes().values() for name in routes if name.startswith(("labeling:", "api:labeling-"))
    }
