"""Built-in algorithms through a REAL Celery worker on the real broker and the real test database: PCA, k-means and
an isolation forest started through the API (202 → job → new dataset version with the new columns), and a run
whose engine refuses its options failing with the engine's message."""

from __future__ import annotations

import pytest

from apps.datasets import selectors as data_selectors
from apps.datasets.models import DatasetVersion
from apps.jobs.choices import JobStatus
from apps.unsupervised.models import UnsupervisedRun
from tests.conftest import clean_project_storage, job_final
from tests.unsupervised.data import blobs_frame, make_version

pytestmark = [pytest.mark.worker, pytest.mark.xdist_group("worker")]


def test_each_algorithm_end_to_end_through_a_real_worker(start_worker, api_for, ds_user, project_a):
    clean_project_storage(project_a)
    api = api_for(ds_user)
    frame = blobs_frame()
    version = make_version(project_a, ds_user, frame)
    with_outliers = make_version(project_a, ds_user, blobs_frame(outliers=2), name="points")  # points v2
    cases = [
        ("pca", {"n_components": 2}, [], ["pc1", "pc2"], version),
        ("kmeans", {"k": "auto", "k_max": 6}, ["a", "b", "c"], ["cluster"], version),
        ("isolation_forest", {"contamination": 0.05}, ["a", "b", "c"], ["anomaly_score", "is_anomaly"], with_outliers),
    ]
    started = []
    for algorithm, options, columns, _, version in cases:
        response = api.post(
            "/api/unsupervised/",
            {
                "project": project_a.pk,
                "dataset_version": version.pk,
                "algorithm": algorithm,
                "options": options,
                "columns": columns,
            },
            format="json",
        )
        assert response.status_code == 202, response.content
        assert set(response.json()) == {"id", "job"}
        started.append(response.json())
    # A run whose options the engine refuses: 5 components from 3 input columns.
    response = api.post(
        "/api/unsupervised/",
        {
            "project": project_a.pk,
            "dataset_version": with_outliers.pk,
            "algorithm": "pca",
            "options": {"n_components": 5},
            "columns": ["a", "b", "c"],
        },
        format="json",
    )
    assert response.status_code == 202, response.content
    failing = response.json()
    start_worker()
    try:
        for body, (algorithm, _, _, new_columns, version) in zip(started, cases, strict=True):
            job = job_final(body["job"])
            assert job.status == JobStatus.SUCCEEDED, (algorithm, job.message, job.error)
            detail = api.get(f"/api/unsupervised/{body['id']}/").json()
            assert detail["status"] == "succeeded" and detail["algorithm"] == algorithm
            assert detail["error"] == "" and detail["chart"] and detail["info"]["new_columns"] == new_columns
            out = DatasetVersion.objects.get(pk=detail["output_version"])
            assert out.kind == "model_output" and out.row_count == len(frame)
            assert out.column_names == [*frame.columns, *new_columns]
            assert out.dataset.name == f"points {algorithm}" and list(out.parents.all()) == [version]
            assert job.result["dataset_version"] == out.pk
            rows = data_selectors.version_frame(version=out)
            assert rows[list(frame.columns)].equals(data_selectors.version_frame(version=version))
        kmeans = UnsupervisedRun.objects.get(pk=started[1]["id"])
        assert kmeans.info["k"] == 3 and [s["k"] for s in kmeans.chart["k_scores"]] == [2, 3, 4, 5, 6]
        forest = UnsupervisedRun.objects.get(pk=started[2]["id"])
        assert {r["row"] for r in forest.chart["top_rows"][:2]} == {0, 1}

        job = job_final(failing["job"])
        assert job.status == JobStatus.FAILED
        assert job.message == "PCA failed: n_components must be between 1 and 3."
        assert job.attempts == 1  # a JobError is final: no retry
        detail = api.get(f"/api/unsupervised/{failing['id']}/").json()
        assert detail["status"] == "failed" and detail["output_version"] is None
        assert detail["error"] == "PCA failed: n_components must be between 1 and 3."
        assert DatasetVersion.objects.filter(kind="model_output").count() == 3
    finally:
        clean_project_storage(project_a)
