"""Numbers out of range in filters, query parameters, request bodies and path ids: a 400 naming the parameter (or a 404
for an id in a path), never an OverflowError from the database (a 500, notably on SQLite).

The cases are derived from the routes and the OpenAPI schema, so a filter or route added later is covered too."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from apps.core.ids import MAX_ID

OUT_OF_RANGE = ["1e30", "99999999999999999999", "-99999999999999999999", str(MAX_ID + 1), "1.5", "abc"]


def _schema(api: Any) -> dict[str, Any]:
    response = api.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def _integer_query_parameters(schema: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for path, operations in schema["paths"].items():
        get = operations.get("get")
        if get is None or "{" in path:
            continue
        for parameter in get.get("parameters", []):
            if parameter["in"] == "query" and parameter["schema"].get("type") in ("integer", "number"):
                found.append((path, parameter["name"]))
    return found


def test_every_numeric_list_filter_refuses_out_of_range_numbers_with_a_400_naming_it(
    world, admin_user, api_for
) -> None:
    api = api_for(admin_user)
    api.raise_request_exception = False
    cases = _integer_query_parameters(_schema(api))
    names = {name for _, name in cases}
    # the filters the probe hit, and pagination
    assert {"project", "dataset", "group", "model_version", "dataset_version", "limit", "offset"} <= names
    assert ("/api/datasets/", "project") in cases and ("/api/jobs/", "project") in cases
    wrong = []
    for path, name in cases:
        for value in OUT_OF_RANGE:
            response = api.get(path, {name: value})
            body = response.json()
            if response.status_code != 400 or name not in body.get("errors", {}) or name not in body["detail"]:
                wrong.append(f"{path}?{name}={value}: {response.status_code} {body}")
    assert wrong == []


def test_filters_in_range_still_filter(world, admin_user, api_for) -> None:
    api = api_for(admin_user)
    project_a, project_b = world["projects"]
    rows = api.get("/api/datasets/", {"project": project_b}).json()["results"]
    assert [r["id"] for r in rows] == [world["datasets"][1]]
    assert api.get("/api/datasets/", {"project": MAX_ID}).json()["results"] == []
    assert api.get("/api/jobs/", {"project": project_a, "limit": 1, "offset": 0}).json()["count"] >= 1
    assert api.get("/api/datasets/", {"offset": 2**53}).json()["results"] == []


def test_hand_read_query_parameters_are_validated(world, admin_user, api_for) -> None:
    api = api_for(admin_user)
    endpoint, version = world["endpoints"][0], world["dataset-versions"][0]
    cases = [
        (f"/api/endpoints/{endpoint}/metrics/", "minutes", ["abc", "0", "1441", "99999999999999999999"]),
        (f"/api/dataset-versions/{version}/profile/", "report", ["abc", "0", "99999999999999999999"]),
        ("/api/data-connections/", "project", ["abc", "0", "99999999999999999999"]),
        (f"/api/dataset-versions/{version}/rows/", "limit", ["abc", "0", "1001"]),
        (f"/api/dataset-versions/{version}/rows/", "offset", ["abc", "-1"]),
    ]
    for path, name, values in cases:
        for value in values:
            response = api.get(path, {name: value})
            assert response.status_code == 400, (path, name, value, response.content)
            assert name in response.json()["errors"], (path, name, value, response.json())
    assert api.get(f"/api/endpoints/{endpoint}/metrics/", {"minutes": 5}).status_code == 200


def test_request_body_ids_out_of_range_are_a_400_naming_the_field(world, admin_user, api_for) -> None:
    api = api_for(admin_user)
    version = world["dataset-versions"][0]
    project = world["projects"][0]
    bodies = [
        ("/api/flows/", {"project": project, "name": "f", "sources": [MAX_ID + 1]}, "sources"),
        ("/api/flows/", {"project": 10**30, "name": "f", "sources": [version]}, "project"),
        ("/api/automl/", {"project": project, "dataset_version": 10**20, "target": "churn"}, "dataset_version"),
        ("/api/batch-transforms/", {"model_version": -(10**20), "dataset_version": version}, "model_version"),
        ("/api/unsupervised/", {"project": MAX_ID + 1, "dataset_version": version, "algorithm": "pca"}, "project"),
    ]
    for path, body, field in bodies:
        response = api.post(path, body, format="json")
        assert response.status_code == 400, (path, body, response.content)
        assert field in response.json()["errors"], (path, response.json())


def _routes(resolver: URLResolver, prefix: str = "") -> list[str]:
    out = []
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            out += _routes(entry, route)
        elif isinstance(entry, URLPattern) and "<" in route:
            out.append(route)
    return out


@pytest.mark.parametrize("number", [MAX_ID + 1, 10**30])
def test_every_path_id_out_of_range_is_a_404(world, admin_user, api_for, client_for, number) -> None:
    api, browser = api_for(admin_user), client_for(admin_user)
    api.raise_request_exception = browser.raise_request_exception = False
    routes = [r for r in _routes(get_resolver()) if re.search(r"<(int|id):", r) and not r.startswith("admin/")]
    assert len(routes) > 60
    assert all("<int:" not in r for r in routes), "every URL takes ids through the bounded <id:...> converter"
    wrong = []
    for route in routes:
        url = "/" + re.sub(r"<id:\w+>", str(number), re.sub(r"<(slug|str):\w+>", "x", route))
        client = api if url.startswith("/api/") else browser
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            if response.status_code != 404:
                wrong.append(f"{method.upper()} {url}: {response.status_code}")
    assert wrong == []


def test_the_jobs_page_refuses_an_out_of_range_project_filter(world, admin_user, client_for) -> None:
    browser = client_for(admin_user)
    browser.raise_request_exception = False
    response = browser.get("/jobs/", {"project": "99999999999999999999"})
    assert response.status_code == 400
    assert b"project: Ensure this value is less than or equal to 9223372036854775807" in response.content
    assert browser.get("/jobs/", {"project": world["projects"][0]}).status_code == 200
