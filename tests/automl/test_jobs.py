"""Canvas builds through a REAL Celery worker on the real broker and the real test database: a binary, a
multiclass and a regression build end to end through the API (202 → job → signed model → leaderboard → predict),
then a batch prediction that becomes a new dataset version. Budgets are tiny and the data small."""

from __future__ import annotations

import pytest

from apps.automl.models import AutomlBuild
from apps.datasets.models import DatasetVersion
from apps.jobs.choices import JobStatus
from tests.conftest import clean_project_storage, job_final
from tests.factories import binary_frame, make_version, multiclass_frame, regression_frame

pytestmark = [pytest.mark.worker, pytest.mark.xdist_group("worker")]


def test_three_problem_types_train_end_to_end_through_a_real_worker(start_worker, api_for, ds_user, project_a):
    clean_project_storage(project_a)
    api = api_for(ds_user)
    cases = [
        (binary_frame(), "churn", "binary", "roc_auc", {"x1": 2.0, "x2": -2.0, "colour": "red"}),
        (multiclass_frame(), "band", "multiclass", "log_loss", {"a": 2.0, "b": 0.0}),
        (regression_frame(), "price", "regression", "rmse", {"a": 1.0, "b": 0.0}),
    ]
    started = []
    for i, (frame, target, _, _, _) in enumerate(cases):
        version = make_version(project_a, ds_user, frame, name=f"data {i}")
        response = api.post(
            "/api/automl/",
            {
                "project": project_a.pk,
                "dataset_version": version.pk,
                "target": target,
                "mode": "quick",
                "time_budget_s": 4,
            },
            format="json",
        )
        assert response.status_code == 202, response.content
        body = response.json()
        assert set(body) == {"id", "job"}
        started.append(body)
    start_worker()
    try:
        for body, (_, _target, problem_type, objective, row) in zip(started, cases, strict=True):
            job = job_final(body["job"])
            assert job.status == JobStatus.SUCCEEDED, (job.message, job.error)
            detail = api.get(f"/api/automl/{body['id']}/").json()
            assert detail["status"] == "succeeded"
            assert (detail["problem_type"], detail["objective"]) == (problem_type, objective)
            assert detail["leaderboard"]
            assert detail["best"] == next(e["name"] for e in detail["leaderboard"] if e["best"])
            assert all({"name", "algorithm", "metrics", "fit_time_s"} <= set(e) for e in detail["leaderboard"])
            assert objective in detail["leaderboard"][0]["metrics"]
            build = AutomlBuild.objects.get(pk=body["id"])
            assert build.artifact.kind == "automl.model" and len(build.artifact.sha256) == 64
            assert build.trials_done >= 1 and build.history and build.best_score is not None
            assert build.report["analysis"]
            progress = api.get(f"/api/automl/{body['id']}/progress/").json()
            assert progress["status"] == "succeeded" and progress["history"] == build.history
            out = api.post(f"/api/automl/{body['id']}/predict/", {"rows": [row]}, format="json")
            assert out.status_code == 200, out.content
            prediction = out.json()["predictions"][0]
            if problem_type == "binary":
                assert prediction == "yes"
                assert set(out.json()["probabilities"][0]) == {"yes", "no"}
            elif problem_type == "multiclass":
                assert prediction == "high"
                assert set(out.json()["probabilities"][0]) == {"high", "mid", "low"}
            else:
                assert 1.0 < prediction < 5.0  # 3·a + b with a=1, b=0
                assert "probabilities" not in out.json()
        # A batch prediction of the binary build on its own data: a new dataset version with predictions.
        build = AutomlBuild.objects.get(pk=started[0]["id"])
        response = api.post(
            f"/api/automl/{build.pk}/batch-predict/", {"dataset_version": build.dataset_version_id}, format="json"
        )
        assert response.status_code == 202, response.content
        job = job_final(response.json()["job"])
        assert job.status == JobStatus.SUCCEEDED, (job.message, job.error)
        new = DatasetVersion.objects.get(pk=job.result["dataset_version"])
        assert new.kind == "prediction" and new.row_count == 120
        assert {"predicted_churn", "probability_yes", "probability_no"} <= set(new.column_names)
        assert list(new.parents.all()) == [build.dataset_version]
    finally:
        clean_project_storage(project_a)
