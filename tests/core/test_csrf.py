"""CSRF is enforced on every session-authenticated write, UI form posts and API calls alike.

The test clients here check CSRF like a browser-facing server does (enforce_csrf_checks=True).
Token-authenticated API calls are not cookie-based and need no CSRF token.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from apps.accounts.models import APIToken, Project, User
from apps.accounts.services import api_token_create
from apps.core.models import Notification
from apps.core.services import notification_create
from apps.jobs.models import Job


def csrf_from_page(client: Client, url: str) -> str:
    """The token a browser would submit: the hidden input of a form on the page."""
    response = client.get(url)
    assert response.status_code == 200
    tokens = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode())
    assert tokens, f"no CSRF token in the forms of {url}"
    return tokens[0]


@pytest.fixture
def queued_job(project_a, ds_user) -> Job:
    """A job to cancel (and an unread notification to mark read) for ds_user."""
    notification_create(user_id=ds_user.pk, title="Report ready")
    return Job.objects.create(kind="core.storage_report", project=project_a, title="csrf job", created_by=ds_user)


def all_read(user: User) -> bool:
    return not Notification.objects.filter(user=user, read_at__isnull=True).exists()


@dataclass(frozen=True)
class FormPost:
    page: Callable[[Job], str]  # the page that carries the form
    action: Callable[[Job], str]  # where the form posts
    data: dict[str, Any]
    ok: int
    happened: Callable[[User, Job], bool]  # the write took effect


FORM_POSTS = {
    "project create": FormPost(
        page=lambda job: reverse("accounts:project_list"),
        action=lambda job: reverse("accounts:project_list"),
        data={"name": "Charlie", "description": ""},
        ok=302,
        happened=lambda user, job: Project.objects.filter(name="Charlie").exists(),
    ),
    "token create": FormPost(
        page=lambda job: reverse("accounts:profile"),
        action=lambda job: reverse("accounts:token_create"),
        data={"name": "laptop"},
        ok=302,  # Post/Redirect/Get: the key is shown once on the profile page
        happened=lambda user, job: APIToken.objects.filter(user=user, name="laptop").exists(),
    ),
    "job cancel": FormPost(
        page=lambda job: reverse("jobs:detail", args=[job.pk]),
        action=lambda job: reverse("jobs:cancel", args=[job.pk]),
        data={},
        ok=302,
        happened=lambda user, job: Job.objects.get(pk=job.pk).status == "cancelled",
    ),
    "notifications mark read": FormPost(
        page=lambda job: reverse("workspace:notifications"),
        action=lambda job: reverse("workspace:notifications"),
        data={},
        ok=302,
        happened=lambda user, job: all_read(user),
    ),
}


@pytest.mark.parametrize("case", FORM_POSTS, ids=list(FORM_POSTS))
def test_ui_form_post_without_csrf_token_is_refused(ds_user, queued_job, case: str) -> None:
    form = FORM_POSTS[case]
    client = Client(enforce_csrf_checks=True)
    client.force_login(ds_user)
    client.get(form.page(queued_job))  # the CSRF cookie is set, but the form field is missing
    response = client.post(form.action(queued_job), form.data)
    assert response.status_code == 403
    assert b"CSRF" in response.content
    assert not form.happened(ds_user, queued_job)


@pytest.mark.parametrize("case", FORM_POSTS, ids=list(FORM_POSTS))
def test_ui_form_post_with_the_pages_csrf_token_succeeds(ds_user, queued_job, case: str) -> None:
    form = FORM_POSTS[case]
    client = Client(enforce_csrf_checks=True)
    client.force_login(ds_user)
    token = csrf_from_page(client, form.page(queued_job))
    response = client.post(form.action(queued_job), {**form.data, "csrfmiddlewaretoken": token})
    assert response.status_code == form.ok
    assert form.happened(ds_user, queued_job)


def test_ui_form_post_with_a_forged_token_is_refused(ds_user) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(ds_user)
    client.get(reverse("accounts:project_list"))
    response = client.post(reverse("accounts:project_list"), {"name": "Forged", "csrfmiddlewaretoken": "x" * 64})
    assert response.status_code == 403
    assert not Project.objects.filter(name="Forged").exists()


def test_cross_origin_post_is_refused_even_with_a_valid_token(ds_user) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(ds_user)
    token = csrf_from_page(client, reverse("accounts:project_list"))
    response = client.post(
        reverse("accounts:project_list"),
        {"name": "Evil", "csrfmiddlewaretoken": token},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert not Project.objects.filter(name="Evil").exists()


def test_login_form_needs_the_csrf_token(ds_user) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("accounts:login"), {"username": "dana", "password": "correct-horse-battery"})
    assert response.status_code == 403
    token = csrf_from_page(client, reverse("accounts:login"))
    response = client.post(
        reverse("accounts:login"),
        {"username": "dana", "password": "correct-horse-battery", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("workspace:home")


# --- API ----------------------------------------------------------------------------------------------------


def session_api_client(user: User) -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    return client


API_WRITES = {
    "project create": (lambda job: reverse("api:project-list"), {"name": "Delta"}, 201),
    "job cancel": (lambda job: reverse("api:job-cancel", args=[job.pk]), {}, 200),
    "token create": (lambda job: reverse("api:token-list"), {"name": "ci"}, 201),
}


@pytest.mark.parametrize("case", API_WRITES, ids=list(API_WRITES))
def test_session_api_write_without_csrf_token_is_refused(ds_user, queued_job, case: str) -> None:
    url, data, _ = API_WRITES[case]
    client = session_api_client(ds_user)
    client.get(reverse("accounts:profile"))  # a CSRF cookie exists; the header is missing
    response = client.post(url(queued_job), data, format="json")
    assert response.status_code == 403
    assert response.json()["detail"].startswith("CSRF Failed")
    assert response.json()["errors"] == {}
    assert not Project.objects.filter(name="Delta").exists()
    assert Job.objects.get(pk=queued_job.pk).status == "queued"
    assert not APIToken.objects.filter(name="ci").exists()


@pytest.mark.parametrize("case", API_WRITES, ids=list(API_WRITES))
def test_session_api_write_with_csrf_header_succeeds(ds_user, queued_job, case: str) -> None:
    url, data, ok = API_WRITES[case]
    client = session_api_client(ds_user)
    client.get(reverse("accounts:profile"))
    response = client.post(
        url(queued_job), data, format="json", headers={"X-CSRFToken": client.cookies["csrftoken"].value}
    )
    assert response.status_code == ok, response.content


@pytest.mark.parametrize("case", API_WRITES, ids=list(API_WRITES))
def test_token_api_write_needs_no_csrf_token(ds_user, queued_job, case: str) -> None:
    url, data, ok = API_WRITES[case]
    _, key = api_token_create(user=ds_user, name="script")
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.post(url(queued_job), data, format="json")
    assert response.status_code == ok, response.content


def test_session_api_reads_need_no_csrf_token(ds_user) -> None:
    response = session_api_client(ds_user).get(reverse("api:project-list"))
    assert response.status_code == 200
