"""The API contract: the error shape of every 4xx, validation naming the field, response shapes,
and query counts pinned on list pages and list APIs (they must not grow with the number of rows)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import Membership, Project
from apps.accounts.services import (
    api_token_create,
    invitation_create,
    membership_add,
    project_create,
    work_team_save,
)
from apps.core.services import notification_create
from apps.jobs.models import Job, WorkerHeartbeat
from tests.factories import UserFactory

# --- the error shape -------------------------------------------------------------------------------------


def assert_error_shape(response: Any) -> dict[str, Any]:
    assert 400 <= response.status_code < 500
    assert response["Content-Type"] == "application/json", response.content[:300]
    data = response.json()
    assert set(data) == {"detail", "errors", "code"}, data
    assert isinstance(data["detail"], str) and data["detail"].strip(), data
    assert isinstance(data["errors"], dict), data
    return data


def js(data: Any) -> dict[str, Any]:
    return {"data": data, "format": "json"}


def raw(body: str, content_type: str) -> dict[str, Any]:
    return {"data": body, "content_type": content_type}


# case: (caller fixture or None, method, URL ({job_b} and {project_b} filled in), request kwargs,
#        status, the keys `errors` must have, a fragment `detail` must contain)
BAD_REQUESTS: dict[str, tuple[str | None, str, str, dict[str, Any], int, set[str], str]] = {
    "missing field": ("ds_user", "post", "/api/projects/", js({}), 400, {"name"}, "name: This field is required."),
    "blank field": ("ds_user", "post", "/api/projects/", js({"name": ""}), 400, {"name"}, "blank"),
    "duplicate name": ("ds_user", "post", "/api/projects/", js({"name": "ALPHA"}), 400, {"name"}, "already exists"),
    "too long": ("ds_user", "post", "/api/tokens/", js({"name": "x" * 101}), 400, {"name"}, "100 characters"),
    "not an object": ("ds_user", "post", "/api/projects/", js(["a"]), 400, {"non_field_errors"}, "a dictionary"),
    "malformed JSON": ("ds_user", "post", "/api/projects/", raw("{bad", "application/json"), 400, set(), "JSON parse"),
    "bad filter": ("ds_user", "get", "/api/jobs/?status=bogus", {}, 400, {"status"}, "bogus"),
    "bad filter type": ("ds_user", "get", "/api/jobs/?project=abc", {}, 400, {"project"}, "Enter a whole number."),
    "anonymous": (None, "get", "/api/jobs/", {}, 401, set(), "credentials were not provided"),
    "wrong persona": ("labeler_user", "get", "/api/jobs/", {}, 403, set(), "persona"),
    "wrong persona write": ("labeler_user", "post", "/api/projects/", js({"name": "X"}), 403, set(), "persona"),
    "unknown id": ("ds_user", "get", "/api/jobs/987654/", {}, 404, set(), "No Job"),
    "foreign id": ("ds_user", "get", "/api/jobs/{job_b}/", {}, 404, set(), "No Job"),
    "foreign project": ("ds_user", "post", "/api/projects/{project_b}/storage-report/", {}, 404, set(), "No such"),
    "method": ("ds_user", "put", "/api/projects/", {}, 405, set(), '"PUT" not allowed'),
    "accept": ("ds_user", "get", "/api/jobs/", {"HTTP_ACCEPT": "text/html"}, 406, set(), "Accept header"),
    "media type": ("ds_user", "post", "/api/projects/", raw("x", "text/plain"), 415, set(), "text/plain"),
}


@pytest.fixture
def objs(project_a, project_b, outsider) -> dict[str, Any]:
    job_b = Job.objects.create(kind="core.storage_report", project=project_b, created_by=outsider)
    return {"project_b": project_b.pk, "job_b": job_b.pk}


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=list(BAD_REQUESTS))
def test_every_api_4xx_has_the_error_shape(request, api_for, objs, case: str) -> None:
    persona, method, url, kwargs, status, errors, detail = BAD_REQUESTS[case]
    client = api_for(request.getfixturevalue(persona) if persona else None)
    response = getattr(client, method)(url.format(**objs), **kwargs)
    assert response.status_code == status, response.content[:300]
    data = assert_error_shape(response)
    assert set(data["errors"]) == errors, data
    assert detail in data["detail"], data


@pytest.mark.parametrize("persona", ["anonymous", "bad token"])
def test_unauthenticated_errors_are_401_with_the_shape(db, persona: str) -> None:
    client = APIClient()
    if persona == "bad token":
        client.credentials(HTTP_AUTHORIZATION="Token atl_not-a-real-key")
    response = client.post("/api/projects/", {"name": "X"}, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert_error_shape(response)


@pytest.mark.parametrize("url", ["/api/no-such-thing/", "/api/jobs/abc/"])
def test_unknown_api_urls_answer_with_the_error_shape(api_for, ds_user, url: str) -> None:
    response = api_for(ds_user).get(url)
    assert response.status_code == 404
    assert_error_shape(response)


def test_validation_error_names_the_field_and_says_what_is_wrong(api_for, ds_user, project_a) -> None:
    response = api_for(ds_user).post("/api/projects/", {"name": "alpha"}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "name: A project named 'alpha' already exists.",
        "errors": {"name": ["A project named 'alpha' already exists."]},
        "code": "invalid",
    }
    assert Project.objects.filter(name__iexact="alpha").count() == 1


# --- response shapes ----------------------------------------------------------------------------------------


def test_project_create_returns_the_project_and_makes_the_caller_a_member(api_for, ds_user) -> None:
    client = api_for(ds_user)
    response = client.post("/api/projects/", {"name": "Churn study", "description": "Q3"}, format="json")
    assert response.status_code == 201
    data = response.json()
    assert set(data) == {"id", "name", "slug", "description", "created_at"}
    assert (data["name"], data["slug"], data["description"]) == ("Churn study", "churn-study", "Q3")
    assert Membership.objects.filter(project_id=data["id"], user=ds_user).exists()
    listed = client.get("/api/projects/").json()
    assert data["id"] in {row["id"] for row in listed["results"]}


def test_job_detail_has_the_documented_fields(api_for, ds_user, project_a) -> None:
    job = Job.objects.create(kind="core.storage_report", project=project_a, created_by=ds_user, log="line 1")
    data = api_for(ds_user).get(f"/api/jobs/{job.pk}/").json()
    documented = {
        "id",
        "kind",
        "status",
        "progress",
        "message",
        "error",
        "result",
        "created_at",
        "started_at",
        "finished_at",
    }
    assert documented <= set(data)
    assert (data["id"], data["kind"], data["status"], data["log"]) == (
        job.pk,
        "core.storage_report",
        "queued",
        "line 1",
    )
    listed = api_for(ds_user).get("/api/jobs/").json()["results"][0]
    assert documented <= set(listed)
    assert "log" not in listed


def test_job_cancel_api_cancels_a_queued_job(api_for, ds_user, project_a) -> None:
    job = Job.objects.create(kind="core.storage_report", project=project_a, created_by=ds_user)
    response = api_for(ds_user).post(f"/api/jobs/{job.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert Job.objects.get(pk=job.pk).status == "cancelled"


def test_me_describes_the_caller(api_for, mlops_user) -> None:
    assert api_for(mlops_user).get("/api/me/").json() == {
        "id": mlops_user.pk,
        "username": "omar",
        "email": "omar@example.test",
        "personas": ["mlops_engineer"],
        "is_admin": False,
    }


# --- query counts: pinned, and independent of the number of rows --------------------------------------------


def count_queries(client: Any, url: str) -> tuple[int, Any]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len(ctx), response


def html_ids(response: Any, name: str) -> int:
    pattern = re.escape(reverse(name, kwargs={"pk": 987654321})).replace("987654321", r"\d+")
    return len(set(re.findall(f'href="{pattern}"', response.content.decode())))


def api_rows(response: Any) -> int:
    data = response.json()
    return len(data["results"] if isinstance(data, dict) else data)


@dataclass(frozen=True)
class Listing:
    url: str
    api: bool
    add: Callable[[int, int, dict[str, Any]], None]  # add rows [start, stop) visible to ds_user
    rows: Callable[[Any], int]  # rows shown in a response


def add_projects(start: int, stop: int, ctx: dict[str, Any]) -> None:
    for i in range(start, stop):
        project = project_create(name=f"Project {i:03}", created_by=ctx["ds_user"])
        membership_add(project=project, user=ctx["mlops_user"])


def add_jobs(start: int, stop: int, ctx: dict[str, Any]) -> None:
    for i in range(start, stop):
        Job.objects.create(
            kind="core.storage_report",
            project=ctx["project_a"],
            title=f"job {i}",
            created_by=ctx["ds_user" if i % 2 else "mlops_user"],
            error="boom" if i % 3 else "",
        )


def add_teams(start: int, stop: int, ctx: dict[str, Any]) -> None:
    for i in range(start, stop):
        work_team_save(project=ctx["project_a"], name=f"Team {i}", members=[ctx["ds_user"], ctx["mlops_user"]])


def add_tokens(start: int, stop: int, ctx: dict[str, Any]) -> None:
    for i in range(start, stop):
        api_token_create(user=ctx["ds_user"], name=f"token {i}")


def add_notifications(start: int, stop: int, ctx: dict[str, Any]) -> None:
    for i in range(start, stop):
        notification_create(user_id=ctx["ds_user"].pk, title=f"Job {i} finished")


LISTINGS = {
    "project list page": Listing(
        "/accounts/projects/", False, add_projects, lambda r: html_ids(r, "accounts:project_detail")
    ),
    "job list page": Listing("/jobs/", False, add_jobs, lambda r: html_ids(r, "jobs:detail")),
    "work team list page": Listing(
        "/accounts/work-teams/", False, add_teams, lambda r: html_ids(r, "accounts:workteam_detail")
    ),
    "home page": Listing("/", False, add_jobs, lambda r: html_ids(r, "jobs:detail")),
    "notification list page": Listing(
        "/notifications/",
        False,
        add_notifications,
        lambda r: len(re.findall(r"<td>Job \d+ finished", r.content.decode())),
    ),
    "profile page (tokens)": Listing(
        "/accounts/profile/", False, add_tokens, lambda r: r.content.decode().count("/revoke/")
    ),
    "/api/jobs/": Listing("/api/jobs/", True, add_jobs, api_rows),
    "/api/projects/": Listing("/api/projects/", True, add_projects, api_rows),
    "/api/work-teams/": Listing("/api/work-teams/", True, add_teams, api_rows),
    "/api/tokens/": Listing("/api/tokens/", True, add_tokens, api_rows),
}
# The home page shows the 8 most recent jobs; every other listing shows all rows.
CAP = {"home page": 8}


@pytest.mark.parametrize("case", LISTINGS, ids=list(LISTINGS))
def test_list_query_count_does_not_grow_with_rows(
    case: str, client_for, api_for, project_a, ds_user, mlops_user, django_assert_max_num_queries
) -> None:
    listing = LISTINGS[case]
    ctx = {"project_a": project_a, "ds_user": ds_user, "mlops_user": mlops_user}
    client = api_for(ds_user) if listing.api else client_for(ds_user)
    _, response = count_queries(client, listing.url)  # also warms per-process caches (content types)
    base, cap = listing.rows(response), CAP.get(case, 1000)  # e.g. project A, the API client's own token
    listing.add(0, 2, ctx)
    few, response = count_queries(client, listing.url)
    assert listing.rows(response) == min(cap, base + 2)
    listing.add(2, 20, ctx)
    with django_assert_max_num_queries(few) as captured:
        response = client.get(listing.url)
    assert listing.rows(response) == min(cap, base + 20)
    assert len(captured) == few


# Django admin changelists of our own models (the console is a list page too).


def admin_rows(label: str, i: int, ctx: dict[str, Any]) -> None:
    project_a, ds_user, admin_user = ctx["project_a"], ctx["ds_user"], ctx["admin_user"]
    if label == "accounts.User":
        UserFactory(username=f"user-{i}", personas=["data_scientist"])
    elif label == "accounts.Project":
        project = project_create(name=f"Console project {i}", created_by=ds_user)
        membership_add(project=project, user=admin_user, added_by=admin_user)
    elif label == "accounts.Membership":
        membership_add(project=project_a, user=UserFactory(username=f"member-{i}"), added_by=admin_user)
    elif label == "accounts.Invitation":
        invitation, _ = invitation_create(
            email=f"i{i}@example.test", personas=["labeler"], project=project_a, created_by=admin_user
        )
        if i % 2:
            invitation.accepted_by, invitation.accepted_at = ds_user, timezone.now()
            invitation.save()
    elif label == "accounts.WorkTeam":
        work_team_save(project=project_a, name=f"Console team {i}", members=[ds_user])
    elif label == "accounts.APIToken":
        api_token_create(user=ds_user, name=f"console {i}")
    elif label == "core.Notification":
        notification_create(user_id=ds_user.pk, title=f"note {i}")
    elif label == "core.Artifact":
        from apps.core.models import Artifact

        Artifact.objects.create(
            project=project_a,
            kind="automl.model",
            path=f"projects/{project_a.pk}/artifacts/x/{i}.bin",
            sha256="0" * 64,
            size=i,
            signature="0" * 64,
            created_by=ds_user,
        )
    elif label == "core.WebhookDelivery":
        import uuid

        from django.contrib.contenttypes.models import ContentType

        from apps.core.models import WebhookDelivery

        WebhookDelivery.objects.create(
            project=project_a,
            target_type=ContentType.objects.get_for_model(project_a),
            target_id=project_a.pk,
            delivery_id=uuid.uuid4(),
            event="test.event",
            url="https://hooks.example.com/in",
            body="{}",
            payload_sha256="0" * 64,
            attempt=1 + i % 5,
            status_code=500,
            latency_ms=12.5,
        )
    elif label == "jobs.Job":
        Job.objects.create(kind="core.storage_report", project=project_a, created_by=ds_user)
    elif label == "jobs.WorkerHeartbeat":
        WorkerHeartbeat.objects.create(hostname=f"worker-{i}@host", pid=i)
    else:
        raise AssertionError(f"no row maker for {label}")


OUR_ADMIN_MODELS = sorted(
    model._meta.label for model in admin.site._registry if model._meta.app_label in {"accounts", "core", "jobs"}
)
KNOWN_ADMIN_N_PLUS_ONE: dict[str, str] = {}


@pytest.mark.parametrize(
    "label",
    [
        pytest.param(label, marks=pytest.mark.xfail(strict=True, reason=KNOWN_ADMIN_N_PLUS_ONE[label]))
        if label in KNOWN_ADMIN_N_PLUS_ONE
        else label
        for label in OUR_ADMIN_MODELS
    ],
)
def test_admin_changelist_query_count_does_not_grow_with_rows(
    label: str, client_for, project_a, ds_user, admin_user, django_assert_max_num_queries
) -> None:
    model = next(m for m in admin.site._registry if m._meta.label == label)
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    ctx = {"project_a": project_a, "ds_user": ds_user, "admin_user": admin_user}
    client = client_for(admin_user)
    client.get(url)
    for i in range(2):
        admin_rows(label, i, ctx)
    few, response = count_queries(client, url)
    before = response.context["cl"].result_count
    for i in range(2, 20):
        admin_rows(label, i, ctx)
    with django_assert_max_num_queries(few) as captured:
        response = client.get(url)
    assert response.context["cl"].result_count == before + 18
    assert len(captured) == few


def test_user_admin_lists_personas(client_for, admin_user, ds_user) -> None:
    html = client_for(admin_user).get(reverse("admin:accounts_user_changelist")).content.decode()
    assert re.search(r">dana<.*?<td class=\"field-personas\">Data Scientist</td>", html, re.S)
    assert re.search(r">ada<.*?<td class=\"field-personas\">Admin</td>", html, re.S)
