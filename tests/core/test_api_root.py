"""`GET /api/` is the API's root (issue 13, item 10: it answered 404): an index of the API's resources with absolute
URLs, for signed-in callers (anonymous: the same 401 as every other API route), and it is in the OpenAPI schema."""

from __future__ import annotations

from rest_framework.test import APIClient


def test_the_api_root_lists_every_resource_and_each_link_answers(api_for, ds_user):
    client = api_for(ds_user)
    response = client.get("/api/")
    assert response.status_code == 200, response.content
    index = response.json()
    for key in ("projects", "jobs", "datasets", "dataset-versions", "automl", "model-groups", "model-versions"):
        assert index[key] == f"http://testserver/api/{key}/"
    assert {index["me"], index["schema"], index["docs"]} == {
        "http://testserver/api/me/",
        "http://testserver/api/schema/",
        "http://testserver/api/docs/",
    }
    for key, url in index.items():
        assert client.get(url).status_code == 200, key


def test_anonymous_callers_get_the_apis_401(db):
    response = APIClient().get("/api/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_the_api_root_is_in_the_schema(api_for, ds_user):
    schema = api_for(ds_user).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert schema["paths"]["/api/"]["get"]["operationId"] == "api_root"


def test_the_api_root_lists_only_what_the_caller_may_read(api_for, ds_user, labeler_user):
    """A Labeler is shown the work queue and not the studio's lists; a data scientist the reverse (each link
    answers 200 for whoever is shown it)."""
    studio = api_for(ds_user).get("/api/").json()
    labeler = api_for(labeler_user)
    work = labeler.get("/api/").json()
    assert "labeling-work" in work and "labeling-work" not in studio
    assert "datasets" in studio and "datasets" not in work and "labeling-jobs" not in work
    for key, url in work.items():
        assert labeler.get(url).status_code == 200, key
