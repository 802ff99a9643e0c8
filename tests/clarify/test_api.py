"""Clarify API: start (202 `{id, job}`) with the config nested or flat (DESIGN.md's body), the detail in SageMaker's
analysis.json shape with status, config, flags and links, the downloads, thresholds, filters, and errors in the
`{detail, errors}` shape naming the field (a foreign model version is a 404)."""

from __future__ import annotations

import json

from apps.clarify.models import ClarifyReport
from apps.jobs.choices import JobStatus
from tests.clarify.data import CONFIG, churn_version
from tests.factories import ModelVersionFactory

NO_SHAP = {"shap": False, "pdp_features": 0}


def _finished(api, run_job, body):  # type: ignore[no-untyped-def]
    r = api.post("/api/clarify/reports/", body, format="json")
    assert r.status_code == 202, r.content
    report = ClarifyReport.objects.get(pk=r.json()["id"])
    assert r.json() == {"id": report.pk, "job": report.job_id}
    assert run_job(report.job).status == JobStatus.SUCCEEDED
    return report


def test_flat_body_starts_a_report_whose_detail_has_the_metrics(api_for, ds_user, project_a, media, run_job) -> None:
    version = churn_version(project_a, ds_user, n=300)
    model_version = ModelVersionFactory(project=project_a, created_by=ds_user)
    api = api_for(ds_user)
    body = {
        "dataset_version": version.pk,
        "label": "churn",
        "positive_label_values": ["yes"],
        "facet": "gender",
        "facet_values": ["F"],
        "group": "region",
        "model_version": model_version.pk,
        "explain": NO_SHAP,
    }
    report = _finished(api, run_job, body)
    detail = api.get(f"/api/clarify/reports/{report.pk}/").json()
    assert detail["status"] == "succeeded" and detail["kind"] == "model" and detail["error"] == ""
    assert detail["version"] == "1.0"
    assert detail["project"] == project_a.pk  # from the dataset version when not given
    pre, post = detail["pre_training_bias_metrics"], detail["post_training_bias_metrics"]
    assert pre["label"] == "churn" and pre["label_value_or_threshold"] == "yes"
    assert {m["name"] for m in pre["facets"]["gender"][0]["metrics"]} >= {"CI", "DPL", "KL", "CDDL"}
    assert {m["name"] for m in post["facets"]["gender"][0]["metrics"]} >= {"DPPL", "DI", "AD", "FT", "CDDPL"}
    assert detail["explanations"] is None  # SHAP was turned off
    assert detail["config"]["facets"] == [{"name": "gender", "values": ["F"], "threshold": None}]
    assert detail["details"]["sample"]["model"]["rows"] == 300
    assert {f["name"] for f in detail["flags"]} >= {"CI", "DPPL"}
    assert detail["links"]["dataset_version"] == f"/api/dataset-versions/{version.pk}/"
    assert detail["links"]["model_version"] == f"/api/model-versions/{model_version.pk}/"
    assert detail["links"]["analysis_json"] == f"/api/clarify/reports/{report.pk}/analysis.json"
    assert detail["links"]["automl_build"] is None and detail["links"]["parent"] is None


def test_downloads_analysis_json_and_a_self_contained_html(api_for, ds_user, project_a, media, run_job) -> None:
    version = churn_version(project_a, ds_user, n=200)
    api = api_for(ds_user)
    report = _finished(api, run_job, {"dataset_version": version.pk, "config": CONFIG})
    r = api.get(f"/api/clarify/reports/{report.pk}/analysis.json")
    assert r.status_code == 200 and r["Content-Type"] == "application/json"
    assert r["Content-Disposition"] == f'attachment; filename="churn-v1-clarify-{report.pk}-analysis.json"'
    assert r["X-Content-Type-Options"] == "nosniff"
    data = json.loads(r.content)
    assert set(data) == {"version", "pre_training_bias_metrics"}
    assert (
        data["pre_training_bias_metrics"]
        == api.get(f"/api/clarify/reports/{report.pk}/").json()["pre_training_bias_metrics"]
    )
    r = api.get(f"/api/clarify/reports/{report.pk}/report.html")
    assert r.status_code == 200 and r["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in r["Content-Security-Policy"]
    page = r.content.decode()
    assert "Class Imbalance (CI)" in page and "Pre-training bias metrics" in page and "What kind of bias" in page
    assert "Confirmation bias" in page and "<script src" not in page and "https://" not in page.split("<script>")[0]
    # A report whose job has not run has nothing to download yet.
    pending = api.post("/api/clarify/reports/", {"dataset_version": version.pk, "config": CONFIG}, format="json")
    r = api.get(f"/api/clarify/reports/{pending.json()['id']}/analysis.json")
    assert r.status_code == 404 and "no analysis yet" in r.json()["detail"]


def test_thresholds_set_flags_and_bad_ones_are_400(api_for, ds_user, project_a, media, run_job) -> None:
    version = churn_version(project_a, ds_user, n=200)
    api = api_for(ds_user)
    report = _finished(api, run_job, {"dataset_version": version.pk, "config": CONFIG})
    r = api.post(f"/api/clarify/reports/{report.pk}/thresholds/", {"thresholds": {"CI": 0.0}}, format="json")
    assert r.status_code == 200 and r.json()["thresholds"] == {"CI": 0.0}
    ci = next(f for f in r.json()["flags"] if f["name"] == "CI")
    assert ci["threshold"] == 0.0 and ci["flagged"] is True
    r = api.patch(f"/api/clarify/reports/{report.pk}/thresholds/", {"thresholds": {"CI": None}}, format="json")
    assert r.status_code == 200 and r.json()["thresholds"] == {}
    r = api.post(f"/api/clarify/reports/{report.pk}/thresholds/", {"thresholds": {"NOPE": 1}}, format="json")
    assert r.status_code == 400 and "Unknown metric 'NOPE'" in r.json()["errors"]["thresholds"][0]


def test_filters_list_the_reports_of_a_version_a_model_and_a_parent(api_for, ds_user, project_a, media) -> None:
    from apps.clarify import services

    v1 = churn_version(project_a, ds_user, n=100)
    v2 = churn_version(project_a, ds_user, n=120, seed=1)
    model_version = ModelVersionFactory(project=project_a, created_by=ds_user)
    start = services.report_start
    a = start(project=project_a, created_by=ds_user, dataset_version=v1, config=CONFIG)
    b = start(project=project_a, created_by=ds_user, dataset_version=v2, config=CONFIG, model_version=model_version)
    c = start(project=project_a, created_by=ds_user, dataset_version=v2, config=CONFIG, parent=b)
    api = api_for(ds_user)

    def ids(query: str) -> list[int]:
        r = api.get(f"/api/clarify/reports/?{query}")
        assert r.status_code == 200, r.content
        return [row["id"] for row in r.json()["results"]]

    assert ids(f"project={project_a.pk}") == [c.pk, b.pk, a.pk]
    assert ids(f"dataset_version={v2.pk}") == [c.pk, b.pk]
    assert ids(f"model_version={model_version.pk}") == [b.pk]
    assert ids(f"parent={b.pk}") == [c.pk]
    assert ids("kind=model") == [b.pk]
    assert api.get("/api/clarify/reports/?dataset_version=abc").status_code == 400
    detail = api.get(f"/api/clarify/reports/{b.pk}/").json()
    assert detail["mitigated_reports"] == [c.pk] and detail["status"] == "queued"


def test_errors_name_the_field_and_foreign_objects_are_404(
    api_for, ds_user, project_a, project_b, outsider, media
) -> None:
    version = churn_version(project_a, ds_user, n=100)
    api = api_for(ds_user)
    r = api.post(
        "/api/clarify/reports/",
        {"dataset_version": version.pk, "config": {**CONFIG, "facets": [{"name": "sex"}]}},
        format="json",
    )
    assert r.status_code == 400
    assert "'sex' is not in churn v1" in r.json()["errors"]["facets"][0]
    assert ClarifyReport.objects.count() == 0
    foreign = ModelVersionFactory(project=project_b, created_by=outsider)
    r = api.post(
        "/api/clarify/reports/",
        {"dataset_version": version.pk, "config": CONFIG, "model_version": foreign.pk},
        format="json",
    )
    assert r.status_code == 404 and r.json()["errors"] == {}
    r = api.post("/api/clarify/reports/", {"config": CONFIG}, format="json")
    assert r.status_code == 400 and "dataset_version" in r.json()["errors"]
    assert ClarifyReport.objects.count() == 0


def test_mitigate_refuses_what_the_report_cannot_do(api_for, ds_user, project_a, media, run_job) -> None:
    version = churn_version(project_a, ds_user, n=200)
    api = api_for(ds_user)
    report = _finished(api, run_job, {"dataset_version": version.pk, "config": CONFIG})
    url = f"/api/clarify/reports/{report.pk}/mitigate/"
    r = api.post(url, {"kind": "paint_it_green"}, format="json")
    assert r.status_code == 400 and "Unknown mitigation 'paint_it_green'" in r.json()["errors"]["kind"][0]
    r = api.post(url, {"kind": "threshold_optimizer"}, format="json")
    assert r.status_code == 400 and "need a report on a Canvas build's model" in r.json()["errors"]["kind"][0]
    r = api.post(url, {"kind": "reweigh", "facet": "age"}, format="json")
    assert r.status_code == 400 and "'age' is not a facet of this report" in r.json()["errors"]["facet"][0]
    assert ClarifyReport.objects.count() == 1
