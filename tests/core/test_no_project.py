"""A studio user who is a member of no project: pages say so, actions that need a project are refused with 403
(not a server error)."""

from __future__ import annotations

from tests.factories import UserFactory


def test_actions_that_need_a_project_are_refused_without_one(client_for, db) -> None:
    loner = UserFactory(username="nora", personas=["admin"], projects=[])
    client = client_for(loner)
    assert client.post("/storage-report/").status_code == 403
    assert client.post("/accounts/work-teams/", {"name": "team"}).status_code == 403
    assert client.get("/").status_code == 200
