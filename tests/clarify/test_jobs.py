"""Clarify reports through a REAL Celery worker on the real broker and the real test database: a report on a
registered model started through the API (202 → job → analysis.json with pre- and post-training metrics and SHAP),
and a data report queued behind it (pre-training only)."""

from __future__ import annotations

import pytest

from apps.jobs.choices import JobStatus
from tests.clarify.data import CONFIG, churn_version
from tests.conftest import clean_project_storage, job_final
from tests.factories import ModelVersionFactory

pytestmark = [pytest.mark.worker, pytest.mark.xdist_group("worker")]


def test_a_model_report_runs_on_a_real_worker(start_worker, api_for, ds_user, project_a) -> None:
    clean_project_storage(project_a)
    version = churn_version(project_a, ds_user, n=400)
    model_version = ModelVersionFactory(project=project_a, created_by=ds_user)
    api = api_for(ds_user)
    start_worker()
    ok = api.post(
        "/api/clarify/reports/",
        {
            "dataset_version": version.pk,
            "model_version": model_version.pk,
            "config": {**CONFIG, "reference": "churn_true", "explain": {"shap": True, "pdp_features": 1}},
        },
        format="json",
    )
    assert ok.status_code == 202, ok.content
    data_only = api.post(  # a data report queued behind it
        "/api/clarify/reports/", {"dataset_version": version.pk, "config": CONFIG, "name": "second"}, format="json"
    )
    assert data_only.status_code == 202
    job = job_final(ok.json()["job"], timeout=180)
    assert job.status == JobStatus.SUCCEEDED, (job.message, job.error[-2000:])
    assert "metric value(s) computed" in job.message
    detail = api.get(f"/api/clarify/reports/{ok.json()['id']}/").json()
    assert detail["status"] == "succeeded"
    assert detail["post_training_bias_metrics"]["facets"]["gender"][0]["value_or_threshold"] == "F"
    assert set(detail["explanations"]["kernel_shap"]["churn"]["global_shap_values"]) == {"x1", "x2", "colour"}
    assert len(detail["explanations"]["pdp"]) == 1
    assert detail["details"]["measurement"]["facets"]["gender"][0]["disagreement_a"] == 0.0
    second = job_final(data_only.json()["job"], timeout=120)
    assert second.status == JobStatus.SUCCEEDED
    assert api.get(f"/api/clarify/reports/{data_only.json()['id']}/").json()["post_training_bias_metrics"] is None
