"""Canvas API: the checklist through the API with clear messages, predict errors naming the columns, register,
who may call what, and pinned query counts on the list."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.automl.models import AutomlBuild
from apps.registry.models import ModelVersion
from tests.factories import binary_frame, make_version, regression_frame, trained_build


def _start(api, project, version, **extra):  # type: ignore[no-untyped-def]
    return api.post("/api/automl/", {"project": project.pk, "dataset_version": version.pk, **extra}, format="json")


def test_checklist_errors_block_the_build_with_clear_messages(api_for, ds_user, project_a, media) -> None:
    api = api_for(ds_user)
    version = make_version(project_a, ds_user, binary_frame())
    r = _start(api, project_a, version, target="nope")
    assert r.status_code == 400
    assert "'nope' is not in" in r.json()["errors"]["target"][0]
    single = binary_frame()
    single["churn"] = "yes"
    r = _start(api, project_a, make_version(project_a, ds_user, single, "single"), target="churn")
    assert r.status_code == 400
    assert "single value" in r.json()["errors"]["churn"][0]
    r = _start(api, project_a, make_version(project_a, ds_user, binary_frame(12), "tiny"), target="churn")
    assert r.status_code == 400
    assert "at least 20" in r.json()["detail"]
    r = _start(api, project_a, version, target="churn", mode="turbo")
    assert r.status_code == 400 and "quick or standard" in r.json()["errors"]["mode"][0]
    assert AutomlBuild.objects.count() == 0


def test_check_endpoint_lists_errors_and_warnings(api_for, ds_user, project_a, media) -> None:
    frame = binary_frame()
    frame["customer_id"] = range(len(frame))
    version = make_version(project_a, ds_user, frame)
    r = api_for(ds_user).post("/api/automl/check/", {"dataset_version": version.pk, "target": "churn"}, format="json")
    assert r.status_code == 200
    assert r.json()["ok"] is True
    codes = {c["code"]: c for c in r.json()["checks"]}
    assert codes["identifier_column"]["column"] == "customer_id"
    assert codes["identifier_column"]["severity"] == "warning"


def test_start_returns_202_with_id_and_job(api_for, ds_user, project_a, media) -> None:
    version = make_version(project_a, ds_user, binary_frame())
    r = _start(api_for(ds_user), project_a, version, target="churn", mode="quick", time_budget_s=5, objective="f1")
    assert r.status_code == 202, r.content
    build = AutomlBuild.objects.get(pk=r.json()["id"])
    assert r.json()["job"] == build.job_id
    assert (build.target, build.objective, build.time_budget_s, build.job.kind) == ("churn", "f1", 5.0, "automl.build")
    detail = api_for(ds_user).get(f"/api/automl/{build.pk}/").json()
    assert detail["status"] == "queued" and detail["leaderboard"] == [] and detail["best"] == ""


def test_predict_errors_are_400_naming_the_columns(api_for, ds_user, project_a, media) -> None:
    build = trained_build(project_a, ds_user, binary_frame(), "churn")
    api = api_for(ds_user)
    url = f"/api/automl/{build.pk}/predict/"
    good = {"x1": 1.0, "x2": 0.0, "colour": "red"}
    assert api.post(url, {"rows": [good]}, format="json").status_code == 200
    r = api.post(url, {"rows": [{"x1": 1.0}]}, format="json")
    assert r.status_code == 400 and set(r.json()["errors"]) == {"x2", "colour"}
    assert "Missing column(s): x2, colour" in r.json()["detail"]
    r = api.post(url, {"rows": [{**good, "extra": 3}]}, format="json")
    assert r.status_code == 400 and set(r.json()["errors"]) == {"extra"}
    r = api.post(url, {"rows": [{**good, "x2": "abc"}]}, format="json")
    assert r.status_code == 400 and set(r.json()["errors"]) == {"x2"} and "'abc'" in r.json()["detail"]
    r = api.post(url, {"rows": []}, format="json")
    assert r.status_code == 400 and "rows" in r.json()["errors"]


def test_register_returns_the_registry_version(api_for, ds_user, mlops_user, labeler_user, project_a, media) -> None:
    build = trained_build(project_a, ds_user, regression_frame(), "price")
    url = f"/api/automl/{build.pk}/register/"
    assert api_for(labeler_user).post(url, {}, format="json").status_code == 403
    r = api_for(mlops_user).post(url, {"name": "pricing"}, format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["name"], body["version"], body["candidate"]) == ("pricing", 1, build.best_candidate)
    assert body["artifact_sha256"] == build.artifact.sha256
    assert "rmse" in body["metrics"] and body["training_dataset_version"] == build.dataset_version_id
    assert body["approval_status"] == "PendingManualApproval"
    assert ModelVersion.objects.get(pk=body["id"]).created_by == mlops_user
    r = api_for(mlops_user).post(url, {"name": "no spaces allowed"}, format="json")
    assert r.status_code == 400 and "name" in r.json()["errors"]
    r = api_for(ds_user).post(url, {"candidate": "nope-1"}, format="json")
    assert r.status_code == 400 and "nope-1" in r.json()["errors"]["candidate"][0]


def test_permissions_labeler_foreign_anonymous(api_for, ds_user, labeler_user, outsider, project_a, media) -> None:
    build = trained_build(project_a, ds_user, binary_frame(), "churn")
    for path in ("", "progress/"):
        assert api_for(labeler_user).get(f"/api/automl/{build.pk}/{path}").status_code == 403
        assert api_for(outsider).get(f"/api/automl/{build.pk}/{path}").status_code == 404
        assert api_for(None).get(f"/api/automl/{build.pk}/{path}").status_code == 401
    r = api_for(outsider).post(f"/api/automl/{build.pk}/predict/", {"rows": [{"x1": 1}]}, format="json")
    assert r.status_code == 404
    # Starting a build on another project's data version is a 404 too.
    r = api_for(outsider).post(
        "/api/automl/",
        {
            "project": outsider.memberships.first().project_id,
            "dataset_version": build.dataset_version_id,
            "target": "churn",
        },
        format="json",
    )
    assert r.status_code == 404


@pytest.mark.parametrize("n", [1, 6])
def test_list_api_query_count_is_pinned(api_for, ds_user, project_a, media, n) -> None:
    version = make_version(project_a, ds_user, binary_frame())
    for i in range(n):
        AutomlBuild.objects.create(project=project_a, dataset_version=version, target="churn", name=f"b{i}")
    api = api_for(ds_user)
    api.get("/api/automl/")  # token lookup cache warm-up is not what we pin
    with CaptureQueriesContext(connection) as queries:
        r = api.get("/api/automl/")
    assert r.status_code == 200 and r.json()["count"] == n
    assert len(queries) == 5, [q["sql"] for q in queries]
