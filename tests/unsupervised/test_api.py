"""Built-in algorithms API: start (202 `{id, job}`), errors in the `{detail, errors}` shape naming the field or
column, foreign projects and versions as 404, who may start runs, the detail's chart data, and pinned query counts
on the list."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.jobs.choices import JobStatus
from apps.unsupervised.models import UnsupervisedRun
from tests.unsupervised.data import blobs_frame, make_version


def _start(api, project, version, **body):  # type: ignore[no-untyped-def]
    return api.post("/api/unsupervised/", {"project": project.pk, "dataset_version": version.pk, **body}, format="json")


def test_start_returns_202_and_the_run_reads_back(api_for, ds_user, project_a, media) -> None:
    version = make_version(project_a, ds_user, blobs_frame())
    api = api_for(ds_user)
    r = _start(api, project_a, version, algorithm="kmeans", options={"k": 4, "seed": 2}, columns=["a", "b"])
    assert r.status_code == 202, r.content
    run = UnsupervisedRun.objects.get(pk=r.json()["id"])
    assert r.json() == {"id": run.pk, "job": run.job_id}
    detail = api.get(f"/api/unsupervised/{run.pk}/").json()
    assert detail == {
        "id": run.pk,
        "project": project_a.pk,
        "algorithm": "kmeans",
        "dataset_version": version.pk,
        "options": {"k": 4, "seed": 2},
        "columns": ["a", "b"],
        "status": "queued",
        "job": run.job_id,
        "output_version": None,
        "info": {},
        "chart": {},
        "error": "",
        "created_at": detail["created_at"],
    }


def test_a_finished_run_has_its_chart_info_and_output(api_for, ds_user, project_a, media, run_job) -> None:
    version = make_version(project_a, ds_user, blobs_frame())
    api = api_for(ds_user)
    r = _start(api, project_a, version, algorithm="pca", options={"variance": 0.8})
    run = UnsupervisedRun.objects.get(pk=r.json()["id"])
    assert run_job(run.job).status == JobStatus.SUCCEEDED
    run.refresh_from_db()
    detail = api.get(f"/api/unsupervised/{run.pk}/").json()
    assert detail["status"] == "succeeded" and detail["output_version"] == run.output_version_id
    assert detail["info"]["variance_explained"] >= 0.8
    assert detail["chart"]["cumulative"][-1] >= 0.8
    listed = api.get("/api/unsupervised/").json()["results"]
    assert [row["id"] for row in listed] == [run.pk] and "chart" not in listed[0]
    assert listed[0]["output_version"] == run.output_version_id


def test_errors_name_the_field_or_column(api_for, ds_user, project_a, media) -> None:
    version = make_version(project_a, ds_user, blobs_frame())
    api = api_for(ds_user)
    r = _start(api, project_a, version, algorithm="kmeans", columns=["a", "<b>nope"])
    assert r.status_code == 400
    body = r.json()
    assert set(body) == {"detail", "errors", "code"}
    assert body["errors"]["columns"][0].startswith("Column '<b>nope' is not in points v1")
    assert body["detail"].startswith("columns: Column '<b>nope'")
    r = _start(api, project_a, version, algorithm="isolation_forest", options={"contamination": 2})
    assert r.status_code == 400 and "at most 0.5" in r.json()["errors"]["contamination"][0]
    r = _start(api, project_a, version, algorithm="pca", options={"n_components": -1})
    assert r.status_code == 400 and "at least 1" in r.json()["errors"]["n_components"][0]
    r = _start(api, project_a, version, algorithm="kmeans", options={"k": "lots"})
    assert r.status_code == 400 and "'auto' or a whole number" in r.json()["errors"]["k"][0]
    r = _start(api, project_a, version, algorithm="tsne")
    assert r.status_code == 400 and "choose pca, kmeans or isolation_forest" in r.json()["errors"]["algorithm"][0]
    r = api.post("/api/unsupervised/", {"project": project_a.pk}, format="json")
    assert r.status_code == 400 and set(r.json()["errors"]) == {"dataset_version", "algorithm"}
    assert UnsupervisedRun.objects.count() == 0


def test_foreign_projects_and_versions_are_404(api_for, ds_user, outsider, project_a, project_b, media) -> None:
    mine = make_version(project_a, ds_user, blobs_frame())
    theirs = make_version(project_b, outsider, blobs_frame(), name="secret points")
    api = api_for(ds_user)
    r = _start(api, project_a, theirs, algorithm="kmeans")
    assert r.status_code == 404
    assert r.json() == {"detail": "No such dataset version.", "errors": {}, "code": "not_found"}
    r = _start(api, project_b, mine, algorithm="kmeans")
    assert r.status_code == 404 and r.json()["detail"] == "No such project."
    foreign = _start(api_for(outsider), project_b, theirs, algorithm="pca")
    assert foreign.status_code == 202
    assert api.get(f"/api/unsupervised/{foreign.json()['id']}/").status_code == 404
    assert api.get("/api/unsupervised/").json()["results"] == []
    assert api.get(f"/api/unsupervised/?project={project_b.pk}").json()["results"] == []
    assert UnsupervisedRun.objects.filter(project=project_a).count() == 0


def test_list_filters_by_project(api_for, admin_user, ds_user, outsider, project_a, project_b, media) -> None:
    a = _start(api_for(ds_user), project_a, make_version(project_a, ds_user, blobs_frame()), algorithm="pca")
    b = _start(api_for(outsider), project_b, make_version(project_b, outsider, blobs_frame()), algorithm="pca")
    admin = api_for(admin_user)
    assert {row["id"] for row in admin.get("/api/unsupervised/").json()["results"]} == {a.json()["id"], b.json()["id"]}
    rows = admin.get(f"/api/unsupervised/?project={project_b.pk}").json()["results"]
    assert [row["id"] for row in rows] == [b.json()["id"]]


@pytest.mark.parametrize("who", ["labeler_user", "anonymous"])
def test_labelers_and_anonymous_cannot_start_or_read(request, api_for, ds_user, project_a, media, who) -> None:
    version = make_version(project_a, ds_user, blobs_frame())
    user = None if who == "anonymous" else request.getfixturevalue(who)
    api = api_for(user)
    r = _start(api, project_a, version, algorithm="kmeans")
    assert r.status_code == (401 if user is None else 403)
    assert set(r.json()) == {"detail", "errors", "code"}
    assert api.get("/api/unsupervised/").status_code == (401 if user is None else 403)
    assert UnsupervisedRun.objects.count() == 0


def test_list_query_count_does_not_grow_with_runs(api_for, ds_user, project_a, media) -> None:
    api = api_for(ds_user)
    version = make_version(project_a, ds_user, blobs_frame())

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert api.get(f"/api/unsupervised/?project={project_a.pk}").status_code == 200
        return len(ctx.captured_queries)

    _start(api, project_a, version, algorithm="pca")
    one = count()
    for algorithm in ("kmeans", "isolation_forest", "pca", "kmeans"):
        _start(api, project_a, version, algorithm=algorithm)
    assert count() == one
