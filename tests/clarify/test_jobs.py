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


def test_a_fair_build_mitigation_ends_in_its_report_on_a_real_worker(start_worker, api_for, ds_user, project_a) -> None:
    """mitigate → `clarify.mitigate` starts a fair Canvas build → the build's job ends in the worker → job_finished
    starts the after report's `clarify.report` job there → before/after on the API."""
    from apps.clarify.models import ClarifyReport
    from tests.clarify.test_services_mitigation import biased_frame
    from tests.conftest import wait_for
    from tests.factories import trained_build

    clean_project_storage(project_a)
    build = trained_build(project_a, ds_user, biased_frame(1000), "approved", budget=30)
    api = api_for(ds_user)
    start_worker()
    config = {
        "label": "approved",
        "positive_label_values": ["Yes"],
        "facets": [{"name": "sex", "values": ["female"]}],
        "explain": {"shap": False, "pdp_features": 0},
    }
    r = api.post(
        "/api/clarify/reports/",
        {"dataset_version": build.dataset_version_id, "automl_build": build.pk, "config": config},
        format="json",
    )
    assert job_final(r.json()["job"], timeout=120).status == JobStatus.SUCCEEDED
    m = api.post(f"/api/clarify/reports/{r.json()['id']}/mitigate/", {"kind": "exponentiated_gradient"}, format="json")
    assert m.status_code == 202, m.content
    assert job_final(m.json()["job"], timeout=120).status == JobStatus.SUCCEEDED
    after = ClarifyReport.objects.get(pk=m.json()["id"])
    assert after.automl_build_id != build.pk
    report_job = wait_for(
        lambda: (ClarifyReport.objects.get(pk=after.pk).mitigation_info or {}).get("report_job"),
        timeout=240,
        what="the fair build to end and start the report",
    )
    assert job_final(int(report_job), timeout=120).status == JobStatus.SUCCEEDED  # type: ignore[call-overload]
    detail = api.get(f"/api/clarify/reports/{after.pk}/").json()
    assert detail["status"] == "succeeded" and detail["parent"] == r.json()["id"]
    assert detail["post_training_bias_metrics"]["facets"]["sex"][0]["value_or_threshold"] == "female"
    assert detail["compare"]["accuracy"]["before"] is not None and detail["compare"]["accuracy"]["after"] is not None
