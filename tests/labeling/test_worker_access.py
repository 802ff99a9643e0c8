"""A Labeler of the project's own employees (issue 15, "must be shown"): through every route of the URL resolver they
reach only the labeling jobs, items and tasks of their own teams; another team's job in the same project is a 404 like
another project's, another worker's answers and name never reach them, the job WebSocket is refused, and the name of
a project whose job hides it appears in no response they get.

The routes and what a Labeler gets on each come from the permission matrix's rows (tests/<app>/test_permissions.py,
harness tests/permissions.py), so a route added later is walked here too. The helpers below are shared with
test_vendor_access.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import Project, User
from apps.accounts.services import work_team_save
from apps.jobs.models import Job
from tests.factories import UserFactory
from tests.permissions import (
    ANON,
    B_MARKS,
    LABELER,
    Route,
    World,
    app_routes,
    body,
    client_of,
    is_api,
    labeling_item_kw,
    labeling_job_kw,
    labeling_task_kw,
)
from tests.permissions import world as world  # the matrix's fixture

HIDDEN_NAME = "Quillfeather Holdings"  # project A's name in these tests: unique, so any leak is found
HIDDEN_SLUG = "quillfeather-holdings"
OTHER_WORKER = "zoe-otherworker"  # answers in the Labeler's own job: her name must never reach the Labeler
OTHER_TEAM_JOB = "Kestrel other team labels"  # a job of project A for a team the Labeler is not in
OTHER_TEAM_TEXT = "kestrel-item-text"

LABELING_BUILDERS = (labeling_job_kw, labeling_item_kw, labeling_task_kw)


def all_routes() -> dict[str, Route]:
    return {name: route for routes in app_routes().values() for name, route in routes.items()}


def is_labeling(name: str) -> bool:
    return name.startswith("labeling:") or name.startswith("api:labeling-")


def route_cases(*, labeling: bool) -> list[tuple[str, int]]:
    return [
        (name, i)
        for name, route in sorted(all_routes().items())
        if is_labeling(name) == labeling
        for i in range(len(route.probes))
    ]


def case_id(case: tuple[str, int]) -> str:
    name, i = case
    return f"{name}-{all_routes()[name].probes[i].method}"


def probe_as(
    world: World, name: str, route: Route, index: int, user: User, side: str = "a", kwargs: dict | None = None
) -> tuple[str, Any]:
    """tests/permissions.py's probe_route, for any user (not only the world's personas) and optional URL kwargs."""
    probe = route.probes[index]
    if kwargs is None and route.kwargs:
        kwargs = route.kwargs(world, user, side)
    url = reverse(name, kwargs=kwargs)
    data = probe.data(world, user, side) if probe.data else {}
    client = client_of(name, user)
    if probe.method == "get":
        return url, client.get(url)
    if is_api(name):
        return url, getattr(client, probe.method)(url, data, format="json")
    return url, client.post(url, data)


def hide_project(world: World) -> Project:
    """Project A gets a name found nowhere else, and its labeling job hides it from workers."""
    project = world.projects["a"]
    project.name, project.slug = HIDDEN_NAME, HIDDEN_SLUG
    project.save(update_fields=["name", "slug"])
    world.labeling_jobs["a"].__class__.objects.filter(pk=world.labeling_jobs["a"].pk).update(hide_project=True)
    return project


def leaks(text: str, marks: tuple[str, ...]) -> list[str]:
    lowered = text.lower()
    return [mark for mark in marks if mark.lower() in lowered]


def problems_for(
    name: str, route: Route, index: int, response: Any, want: int, marks: tuple[str, ...], who: str
) -> list[str]:
    got = response.status_code
    out = (
        []
        if got == want
        else [f"{name} {route.probes[index].method}: {who} expected {want}, got {got}: {body(response)[:200]}"]
    )
    found = leaks(body(response), marks)
    if found:
        out.append(f"{name} {route.probes[index].method}: {who} was shown {found}")
    return out


def socket_refused(user: User, path: str) -> tuple[bool, Any]:
    """Open the job WebSocket through the real ASGI stack with the user's session: (connected, close code)."""
    from studio.asgi import application

    client = Client()
    client.force_login(user)
    headers = [
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
        (b"origin", b"http://127.0.0.1:8000"),
        (b"host", b"127.0.0.1:8000"),
    ]

    async def connect() -> tuple[bool, Any]:
        communicator = WebsocketCommunicator(application, path, headers=headers)
        connected, code = await communicator.connect(timeout=10)
        await communicator.disconnect()
        return connected, code

    return async_to_sync(connect)()


# --- the employee Labeler's world: her team's job, and another team's job in the same project ---------------------


@pytest.fixture
def labeler_world(world: World) -> Iterator[dict[str, Any]]:
    from apps.labeling.models import LabelingItem, LabelingJob, LabelingTask

    lena = world.users[LABELER]
    project = world.projects["a"]
    own_job = world.labeling_jobs["a"]
    # Another worker of her own team answered the second item: its answer and her name stay hers.
    zoe = UserFactory(username=OTHER_WORKER, personas=["labeler"], projects=[project])
    world.teams["a"].members.add(zoe)
    second = own_job.items.order_by("position")[1]
    LabelingTask.objects.create(
        job=own_job,
        item=second,
        worker=zoe,
        status="answered",
        answer={"label": "neg"},
        answered_at=timezone.now(),
        time_spent_ms=4321,
        expires_at=timezone.now() + timedelta(hours=1),
    )
    LabelingItem.objects.filter(pk=second.pk).update(seats_taken=1, answer_count=1)
    # Another team of the same project, with its own job, items and a claim of its member.
    kim = UserFactory(username="kim-kestrel", personas=["labeler"], projects=[project])
    other_team = work_team_save(project=project, name="Kestrel team", members=[kim])
    other_job = LabelingJob.objects.create(
        project=project,
        name=OTHER_TEAM_JOB,
        task_type="text_classification",
        status="active",
        source_kind="dataset",
        labels=["pos", "neg"],
        team=other_team,
        attribute_name="kestrel",
        item_count=2,
        created_by=world.users["data_scientist"],
    )
    items = LabelingItem.objects.bulk_create(
        [LabelingItem(job=other_job, position=i, data={"text": f"{OTHER_TEAM_TEXT} {i}"}) for i in range(2)]
    )
    task = LabelingTask.objects.create(
        job=other_job, item=items[0], worker=kim, expires_at=timezone.now() + timedelta(hours=1)
    )
    LabelingItem.objects.filter(pk=items[0].pk).update(seats_taken=1)
    yield {"lena": lena, "other_job": other_job, "other_item": items[0], "other_task": task}


class OtherTeamWorld:
    """The matrix's world, but project A's labeling job is the other team's: a route's own kwargs builder, given this,
    names the other team's job, item or task (so a builder added later works here too)."""

    def __init__(self, world: World, job: Any) -> None:
        self._world, self._job = world, job

    def __getattr__(self, name: str) -> Any:
        return getattr(self._world, name)

    @property
    def labeling_jobs(self) -> dict[str, Any]:
        return {**self._world.labeling_jobs, "a": self._job}

    def labeling_items(self, side: str) -> Any:
        return self.labeling_jobs[side].items.order_by("position").first()

    def labeling_tasks(self, side: str) -> Any:
        return self.labeling_jobs[side].tasks.order_by("pk").first()


def _other_team_state(lw: dict[str, Any]) -> tuple[Any, ...]:
    from apps.labeling.models import LabelingItem, LabelingTask

    job = lw["other_job"]
    return (
        sorted(LabelingItem.objects.filter(job=job).values_list("pk", "seats_taken", "answer_count", "consolidated")),
        sorted(LabelingTask.objects.filter(job=job).values_list("pk", "worker_id", "status", "answer")),
    )


def test_the_walk_covers_the_labeling_routes() -> None:
    """Not vacuous: the resolver's labeling routes are in the walk, and some take a job, an item or a task."""
    cases = route_cases(labeling=True)
    routes = all_routes()
    names = {name for name, _ in cases}
    assert names == {name for name in routes if is_labeling(name)}
    assert len(route_cases(labeling=False)) > 100
    # Once the work and queue parts are merged, some routes take a job, an item or a task of a team.
    with_team_objects = {name for name in names if routes[name].kwargs in LABELING_BUILDERS}
    assert {"api:labeling-job-next-task", "api:labeling-task-answers", "labeling:work"} <= with_team_objects


@pytest.mark.parametrize("case", route_cases(labeling=True), ids=case_id)
def test_labeler_reaches_only_her_teams_labeling_objects(world: World, labeler_world: dict, case) -> None:  # type: ignore[no-untyped-def]
    """Her team's job: what the matrix says a Labeler gets. Another team's job, item or task of the same project:
    404 and nothing changed. Never another worker's name, another team's job, project B, or the hidden project's
    name."""
    name, index = case
    route = all_routes()[name]
    probe = route.probes[index]
    lena = labeler_world["lena"]
    hide_project(world)
    marks = (*B_MARKS, HIDDEN_NAME, HIDDEN_SLUG, OTHER_WORKER, OTHER_TEAM_JOB, OTHER_TEAM_TEXT)
    problems: list[str] = []

    if route.kwargs is not None:
        other = route.kwargs(OtherTeamWorld(world, labeler_world["other_job"]), lena, "a")  # type: ignore[arg-type]
        before = _other_team_state(labeler_world)
        _, response = probe_as(world, name, route, index, lena, kwargs=other)
        want = 404 if LABELER in probe.who else 403
        problems += problems_for(name, route, index, response, want, marks, "labeler on another team's object")
        assert _other_team_state(labeler_world) == before, name

    _, response = probe_as(world, name, route, index, lena)
    want = probe.expected(LABELER) if LABELER in probe.who else 403
    problems += problems_for(name, route, index, response, want, marks, "labeler on her team's object")
    assert not problems, "\n".join(problems)


def other_apps() -> list[str]:
    """Apps with routes outside labeling (walked one app per test: one world per app)."""
    return sorted(app for app, routes in app_routes().items() if any(not is_labeling(name) for name in routes))


def other_routes(app: str) -> list[tuple[str, int]]:
    return [
        (name, i)
        for name, route in sorted(app_routes()[app].items())
        if not is_labeling(name)
        for i in range(len(route.probes))
    ]


@pytest.mark.parametrize("app", other_apps())
def test_labeler_on_every_other_route_sees_no_hidden_project(world: World, labeler_world: dict, app: str) -> None:
    """Outside labeling: the matrix's answer for a Labeler (a studio route: 403), and nothing of the hidden project
    (the shell shows a worker no project switcher) or of another worker; public pages are what anyone sees."""
    hide_project(world)
    problems: list[str] = []
    for name, index in other_routes(app):
        route = all_routes()[name]
        probe = route.probes[index]
        _, response = probe_as(world, name, route, index, labeler_world["lena"])
        want = probe.expected(LABELER) if LABELER in probe.who else 403
        marks: tuple[str, ...] = (*B_MARKS, OTHER_WORKER, OTHER_TEAM_JOB)
        if ANON not in probe.who:
            marks = (*marks, HIDDEN_NAME, HIDDEN_SLUG)
        problems += problems_for(name, route, index, response, want, marks, "labeler")
    assert not problems, "\n".join(problems)


@pytest.mark.django_db(transaction=True)
def test_job_websocket_is_refused_to_a_labeler(project_a, labeler_user, ds_user) -> None:
    job = Job.objects.create(kind="core.storage_report", project=project_a, title="alpha-job", created_by=ds_user)
    for path in (f"/ws/jobs/?job={job.pk}", f"/ws/jobs/?project={project_a.pk}"):
        connected, code = socket_refused(labeler_user, path)
        assert (connected, code) == (False, 4403), path
    connected, _ = socket_refused(ds_user, f"/ws/jobs/?job={job.pk}")
    assert connected, "the studio still streams (the refusal is the Labeler's)"


def test_home_sends_a_labeler_to_my_work_with_no_project_switcher(world: World) -> None:
    client = Client()
    client.force_login(world.users[LABELER])
    response = client.get(reverse("workspace:home"), follow=True)
    assert response.status_code == 200
    assert response.redirect_chain, "a Labeler's start page is My work"
    html = body(response)
    assert "My work" in html
    assert 'id="project-switcher"' not in html and "Alpha</option>" not in html
