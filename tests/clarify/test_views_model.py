"""The report page of a model report, from the real job: post-training metrics next to the pre-training ones,
charts drawn from the job's details (rates per facet value, a confusion matrix per value whose cells add up to the
rows, SHAP bar and beeswarm, PDP lines and the 2-feature heatmap), the measurement-bias table against the trusted
reference, and a mitigation's before / after panel with the accuracy and the flagged metrics."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from apps.clarify import services
from apps.clarify.models import ClarifyReport
from tests.clarify.data import churn_version
from tests.factories import ModelVersionFactory

CONFIG = {
    "label": "churn",
    "positive_label_values": ["yes"],
    "label_threshold": None,
    "facets": [{"name": "gender", "values": ["F"], "threshold": None}],
    "group": "region",
    "reference": "churn_true",
    "probability_threshold": 0.5,
    "explain": {"shap": True, "pdp_features": 2, "pdp_pairs": [["x1", "x2"]]},
}


def _figure(html: str, name: str) -> dict:
    match = re.search(rf'<script id="fig-{name}" type="application/json">(.*?)</script>', html, re.S)
    assert match, f"no figure {name}"
    return json.loads(match.group(1))


def _run(run_job: Any, report: ClarifyReport) -> ClarifyReport:
    job = run_job(report.job)
    assert job.status == "succeeded", (job.message, job.error)
    report.refresh_from_db()
    return report


def test_model_report_page(client_for, ds_user, mlops_user, project_a, media, run_job) -> None:
    version = churn_version(project_a, ds_user, n=400)
    model_version = ModelVersionFactory(project=project_a, created_by=ds_user)
    report = _run(
        run_job,
        services.report_start(
            project=project_a, created_by=ds_user, dataset_version=version, config=CONFIG, model_version=model_version
        ),
    )
    html = client_for(mlops_user).get(f"/clarify/{report.pk}/").content.decode()
    table = re.search(r'data-facet="gender" data-value="F">(.*?)</table>', html, re.S).group(1)  # type: ignore[union-attr]
    for name in ("CI", "DPL", "DPPL", "DI", "AD", "FT", "CDDPL"):
        assert f'data-metric="{name}"' in table, name
    assert "post-training" in table and "pre-training" in table
    assert re.search(r'id="model-accuracy">[0-9.]+<', html)

    rates = _figure(html, "rates-0")
    names = [t["name"] for t in rates["data"]]
    assert names == ["positive labels", "positive predictions"]
    rows = report.details["breakdown_predicted"]["facets"]["gender"]
    for j, row in enumerate(rows):
        cm = _figure(html, f"confusion-0-{j}")
        assert sum(sum(r) for r in cm["data"][0]["z"]) == row["n"]
        assert cm["data"][0]["z"] == row["confusion_matrix"]

    bar = _figure(html, "shap-bar")
    mean_abs = report.details["shap"]["mean_abs"]
    top = bar["data"][0]["y"][-1]  # the largest bar on top
    assert top == max(mean_abs, key=mean_abs.get) and bar["data"][0]["x"][-1] == pytest.approx(mean_abs[top])
    assert bar["data"][1]["name"] == "SHAP 10th–90th percentile"
    swarm = _figure(html, "shap-beeswarm")
    assert len(swarm["data"]) == len(report.details["shap"]["beeswarm"]["features"])
    assert len(swarm["data"][0]["x"]) == len(report.details["shap"]["beeswarm"]["shap"])
    pdp = report.details["pdp"]
    line = _figure(html, "pdp-0")
    assert line["data"][0]["y"] == pdp["pdp"][0]["model_predictions"]
    heat = _figure(html, "pdp-pair-0")
    assert heat["data"][0]["z"] == pdp["interactions"][0]["predictions"]
    assert 'id="shap-method"' in html

    # measurement bias: the label's error rate against churn_true, women against the rest
    measurement = re.search(r'<table id="measurement">(.*?)</table>', html, re.S).group(1)  # type: ignore[union-attr]
    groups = report.details["measurement"]["facets"]["gender"]
    assert f"{groups[0]['difference']:.4g}".replace("-", "−") in measurement
    predicted = report.details["measurement_predictions"]["facets"]["gender"]
    assert f"{predicted[0]['disagreement_d']:.4g}" in measurement
    assert "Not checked here:</strong> the report has no trusted reference" not in html

    # registry version: only the data can be mitigated (model mitigations need a Canvas build)
    kinds = re.search(r'<select name="kind"[^>]*>(.*?)</select>', html, re.S).group(1)  # type: ignore[union-attr]
    assert re.findall(r'value="([^"]+)"', kinds) == ["reweigh", "resample"]


def test_before_after_panel(client_for, ds_user, project_a, media, run_job) -> None:
    version = churn_version(project_a, ds_user, n=400)
    config = {**CONFIG, "reference": None, "group": None, "explain": {"shap": False, "pdp_features": 0}}
    before = _run(
        run_job,
        services.report_start(project=project_a, created_by=ds_user, dataset_version=version, config=config),
    )
    client = client_for(ds_user)
    r = client.post(f"/clarify/{before.pk}/mitigate/", {"kind": "resample", "facet": "gender"})
    assert r.status_code == 302
    after = _run(run_job, ClarifyReport.objects.get(parent=before))
    html = client.get(r["Location"]).content.decode()
    assert 'id="before-after"' in html and f'href="/clarify/{before.pk}/"' in html
    compare = services.report_compare(before=before, after=after)
    dpl = next(m for m in compare["metrics"] if m["name"] == "DPL")
    row = re.search(r'<tr data-metric="DPL">(.*?)</tr>', html, re.S).group(1)  # type: ignore[union-attr]
    assert "toward the ideal" in row and dpl["toward_ideal"] is True
    assert abs(dpl["after"]) < abs(dpl["before"]) / 2  # resampling evens the positive rates
    assert 'id="setup-mitigation"' in html and "Resample the rows" in html
    ci = next(m for m in compare["metrics"] if m["name"] == "CI")  # resampling keeps each group's size
    assert ci["before"] == ci["after"]
    assert "unchanged" in re.search(r'<tr data-metric="CI">(.*?)</tr>', html, re.S).group(1)  # type: ignore[union-attr]
    assert 'id="compare-accuracy"' not in html  # no model on either side: no accuracy to compare


def test_a_canvas_report_offers_model_mitigations(client_for, ds_user, project_a, media, run_job) -> None:
    from tests.clarify.data import churn_frame
    from tests.factories import trained_build

    build = trained_build(project_a, ds_user, churn_frame(300).drop(columns=["churn_true"]), "churn", budget=15.0)
    config = {**CONFIG, "reference": None, "group": None, "explain": {"shap": False, "pdp_features": 0}}
    before = _run(
        run_job,
        services.report_start(
            project=project_a,
            created_by=ds_user,
            dataset_version=build.dataset_version,
            config=config,
            automl_build=build,
            candidate=build.best_candidate,
        ),
    )
    client = client_for(ds_user)
    html = client.get(f"/clarify/{before.pk}/").content.decode()
    kinds = re.search(r'<select name="kind"[^>]*>(.*?)</select>', html, re.S).group(1)  # type: ignore[union-attr]
    assert re.findall(r'value="([^"]+)"', kinds) == [
        "reweigh",
        "resample",
        "exponentiated_gradient",
        "threshold_optimizer",
    ]
    assert 'name="constraint"' in html
    r = client.post(f"/clarify/{before.pk}/mitigate/", {"kind": "threshold_optimizer", "facet": "gender"})
    assert r.status_code == 400  # a model mitigation needs its constraint
    assert re.search(r'id="mitigation-constraint-error"[^>]*>Choose the fairness constraint', r.content.decode())
    r = client.post(
        f"/clarify/{before.pk}/mitigate/",
        {"kind": "threshold_optimizer", "facet": "gender", "constraint": "demographic_parity"},
    )
    assert r.status_code == 302
    after = _run(run_job, ClarifyReport.objects.get(parent=before))
    assert after.mitigation == "threshold_optimizer" and after.candidate != before.candidate
    html = client.get(r["Location"]).content.decode()
    compare = services.report_compare(before=before, after=after)
    assert compare["accuracy"]["before"] is not None and compare["accuracy"]["after"] is not None
    accuracy = re.search(r'id="accuracy-after">([^<]+)<', html).group(1)  # type: ignore[union-attr]
    assert accuracy == f"{compare['accuracy']['after']:.4g}"
    assert "the candidate" in html and after.candidate in html
