"""The persona × route matrix's rows for jobs.

The harness, and what a row means: tests/permissions.py."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.permissions import (
    ADMIN,
    DS,
    PROJECT,
    STUDIO,
    ListRow,
    Route,
    World,
    api_ids,
    body,
    client_of,
    get,
    job_kw,
    linked_ids,
    matrix_tests,
    post,
    project_kw,
)

ROUTES: dict[str, Route] = {
    "jobs:list": Route((get(STUDIO),)),
    "jobs:detail": Route((get(STUDIO),), kwargs=job_kw, foreign=PROJECT),
    "jobs:cancel": Route((post(STUDIO, 302),), kwargs=job_kw, foreign=PROJECT),
    "api:storage-report-start": Route((post(STUDIO, 202),), kwargs=project_kw, foreign=PROJECT),
    "api:job-list": Route((get(STUDIO),)),
    "api:job-detail": Route((get(STUDIO),), kwargs=job_kw, foreign=PROJECT),
    "api:job-cancel": Route((post(STUDIO, 200),), kwargs=job_kw, foreign=PROJECT),
}

LISTS: list[ListRow] = [
    ("jobs:list", "?project=", "jobs:detail", "jobs"),
    ("api:job-list", "", None, "jobs"),
]

globals().update(matrix_tests(ROUTES, LISTS))  # the `world` fixture and this app's matrix tests


@pytest.mark.parametrize("name", ["jobs:list", "api:job-list"])
def test_filtering_on_a_foreign_project_shows_nothing(world: World, name: str) -> None:
    url = reverse(name) + f"?project={world.projects['b'].pk}"
    response = client_of(name, world.users[DS]).get(url)
    assert response.status_code == 200
    ids = linked_ids(body(response), "jobs:detail") if name == "jobs:list" else api_ids(response)
    assert ids == set()
    admin_response = client_of(name, world.users[ADMIN]).get(url)
    admin_ids = linked_ids(body(admin_response), "jobs:detail") if name == "jobs:list" else api_ids(admin_response)
    assert admin_ids == {world.jobs["b"].pk}
