"""What the schemathesis run found, pinned: the one error shape with its stable code on every kind of 4xx, the model
format filter that DRF's `?format=` renderer override turned into a 404, and answers that matched their schema."""

from __future__ import annotations

from rest_framework.test import APIClient


def test_every_error_answer_has_detail_errors_and_a_stable_code(world, admin_user, api_for) -> None:
    api = api_for(admin_user)
    api.raise_request_exception = False
    answers = {
        "invalid": api.post("/api/projects/", {}, format="json"),
        "not_found": api.get("/api/datasets/9223372036854775807/"),
        "not_found ": api.get("/api/no-such-route/"),
        "method_not_allowed": api.delete("/api/datasets/"),
        "not_authenticated": APIClient().get("/api/datasets/"),
        "parse_error": api.post("/api/projects/", b"{", content_type="application/json"),
    }
    for code, response in answers.items():
        body = response.json()
        assert set(body) == {"detail", "errors", "code"}, (code, body)
        assert body["code"] == code.strip() and body["detail"], (code, body)


def test_model_versions_filter_on_format(world, admin_user, api_for) -> None:
    api = api_for(admin_user)
    atelier = api.get("/api/model-versions/", {"format": "atelier"})
    assert atelier.status_code == 200, atelier.content
    assert [v["id"] for v in atelier.json()["results"]] == world["model-versions"]
    assert api.get("/api/model-versions/", {"format": "onnx"}).json()["results"] == []


def test_answers_that_did_not_match_their_schema(world, admin_user, api_for) -> None:
    api = api_for(admin_user)
    build = api.get(f"/api/automl/{world['automl'][0]}/").json()
    assert build["job"] is None  # documented as a nullable integer now
    endpoint = api.get(f"/api/endpoints/{world['endpoints'][0]}/").json()
    assert endpoint["webhook_url"] == ""  # documented as a plain string, not format uri
    keys = api.get(f"/api/endpoints/{world['endpoints'][0]}/keys/").json()
    assert isinstance(keys, list) and len(keys) == 1  # a plain list, not a paginated page
    schema = api.get("/api/schema/", {"format": "json"}).json()
    keys_doc = schema["paths"]["/api/endpoints/{id}/keys/"]
    assert keys_doc["get"]["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"
    assert "201" in keys_doc["post"]["responses"]
    assert schema["components"]["schemas"]["Build"]["properties"]["job"].get("nullable") is True
