"""A role is data: a capability granted to (or taken from) a persona in the table (apps/accounts/personas.py) is
honoured by a UI view, an API view and the WebSocket job stream alike, with no code changed (the permission layer,
apps/accounts/permissions.py, reads it through personas.user_can)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from apps.accounts import personas
from apps.accounts.models import User
from apps.accounts.services import api_token_create, personas_sync
from apps.jobs.models import Job
from studio.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)  # the socket's consumer reads the database from other threads


@pytest.fixture
def table() -> Iterator[Callable[..., None]]:
    """Change one persona's row of the table and apply it (personas_sync); the table is restored afterwards."""
    before = {persona: set(perms) for persona, perms in personas.PERSONA_PERMISSIONS.items()}

    def change(persona: str, *, grant: tuple[str, ...] = (), revoke: tuple[str, ...] = ()) -> None:
        personas.PERSONA_PERMISSIONS[persona] = (personas.PERSONA_PERMISSIONS[persona] | set(grant)) - set(revoke)
        personas_sync()

    yield change
    personas.PERSONA_PERMISSIONS.clear()
    personas.PERSONA_PERMISSIONS.update(before)
    personas_sync()


def _page(user: User, method: str, url: str) -> int:
    client = Client()
    client.force_login(user)
    return getattr(client, method)(url).status_code


def _api(user: User, method: str, url: str) -> int:
    client = APIClient()
    _, key = api_token_create(user=user, name="table")
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return getattr(client, method)(url, {}, format="json").status_code


def _socket(user: User, path: str) -> int | None:
    """None when the job stream accepts the user, else the close code."""
    client = Client()
    client.force_login(user)
    headers = [
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
        (b"origin", b"http://127.0.0.1:8000"),
        (b"host", b"127.0.0.1:8000"),
    ]

    async def run() -> int | None:
        communicator = WebsocketCommunicator(application, path, headers=headers)
        connected, code = await communicator.connect(timeout=10)
        await communicator.disconnect()
        return None if connected else code

    return async_to_sync(run)()


def _reach(user: User, project_id: int) -> dict[str, object]:
    """Where `user` gets to now: the jobs page and API, the project's job stream, and cancelling a job (page, API)."""
    jobs = [Job.objects.create(kind="core.storage_report", project_id=project_id) for _ in range(2)]
    return {
        "page": _page(user, "get", reverse("jobs:list")),
        "api": _api(user, "get", reverse("api:job-list")),
        "socket": _socket(user, f"/ws/jobs/?project={project_id}"),
        "cancel page": _page(user, "post", reverse("jobs:cancel", kwargs={"pk": jobs[0].pk})),
        "cancel api": _api(user, "post", reverse("api:job-cancel", kwargs={"pk": jobs[1].pk})),
    }


REFUSED = {"page": 403, "api": 403, "socket": 4403, "cancel page": 403, "cancel api": 403}
STUDIO = {"page": 200, "api": 200, "socket": None, "cancel page": 302, "cancel api": 200}


def test_granting_the_studio_to_labelers_opens_page_api_and_socket(table, project_a, labeler_user) -> None:  # type: ignore[no-untyped-def]
    assert _reach(labeler_user, project_a.pk) == REFUSED
    table("labeler", grant=(personas.USE_STUDIO, personas.CANCEL_JOBS))
    assert _reach(User.objects.get(pk=labeler_user.pk), project_a.pk) == STUDIO


def test_taking_the_studio_from_data_scientists_closes_page_api_and_socket(table, project_a, ds_user) -> None:  # type: ignore[no-untyped-def]
    assert _reach(ds_user, project_a.pk) == STUDIO
    table("data_scientist", revoke=(personas.USE_STUDIO,))
    assert _reach(User.objects.get(pk=ds_user.pk), project_a.pk) == REFUSED


def test_one_action_follows_its_own_capability(table, project_a, ds_user) -> None:  # type: ignore[no-untyped-def]
    """Taking CANCEL_JOBS only: the pages, API and stream stay open, cancelling (page and API) is refused."""
    table("data_scientist", revoke=(personas.CANCEL_JOBS,))
    assert _reach(User.objects.get(pk=ds_user.pk), project_a.pk) == {**STUDIO, "cancel page": 403, "cancel api": 403}
