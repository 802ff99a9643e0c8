"""Clarify services: a report's job on a real dataset version and a real registered model (metrics, explanations,
sample sizes, measurement bias), sampling above the caps, flags and thresholds, before/after comparison."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from apps.clarify import services
from apps.clarify.engine import bias
from apps.clarify.models import ClarifyReport
from apps.datasets import selectors as data_selectors
from apps.jobs.choices import JobStatus
from tests.clarify.data import CONFIG, churn_frame, churn_version
from tests.factories import ModelVersionFactory, make_version

NO_SHAP = {"shap": False, "pdp_features": 0}


def _run(run_job, report: ClarifyReport) -> ClarifyReport:  # type: ignore[no-untyped-def]
    job = run_job(report.job)
    assert job.status == JobStatus.SUCCEEDED, (job.message, job.error[-2000:])
    report.refresh_from_db()
    return report


def _metric(part: dict[str, Any], facet: str, name: str, group: int = 0) -> Any:
    metrics = part["facets"][facet][group]["metrics"]
    return next(m["value"] for m in metrics if m["name"] == name)


def test_a_data_report_has_the_pre_training_metrics_of_the_engine(ds_user, project_a, media, run_job) -> None:
    frame = churn_frame(400)
    version = churn_version(project_a, ds_user, n=400)
    report = services.report_start(project=project_a, created_by=ds_user, dataset_version=version, config=CONFIG)
    assert report.kind == "data" and report.analysis is None and report.job is not None
    report = _run(run_job, report)
    label = bias.LabelSpec("churn", ("yes",))
    facets = [bias.FacetSpec("gender", ("F",))]
    expected = bias.pre_training_bias(frame, label=label, facets=facets, group="region")
    assert report.analysis["version"] == "1.0"
    assert report.analysis["pre_training_bias_metrics"] == json.loads(bias.dumps_analysis(expected))
    assert "post_training_bias_metrics" not in report.analysis
    women, men = (frame.gender == "F"), (frame.gender == "M")
    dpl = (frame.churn[men] == "yes").mean() - (frame.churn[women] == "yes").mean()
    assert _metric(report.analysis["pre_training_bias_metrics"], "gender", "DPL") == pytest.approx(dpl, abs=1e-12)
    assert report.details["sample"]["data"] == {
        "rows_total": 400,
        "rows": 400,
        "sampled": False,
        "cap": services.data_max_rows(),
        "seed": 0,
    }
    assert "model" not in report.details
    breakdown = {row["value"]: row for row in report.details["breakdown"]["facets"]["gender"]}
    assert breakdown["F"]["n"] == int(women.sum())
    assert breakdown["F"]["label_positive_rate"] == pytest.approx((frame.churn[women] == "yes").mean())


def test_a_model_report_predicts_with_the_model_and_explains_it(ds_user, project_a, media, run_job) -> None:
    version = churn_version(project_a, ds_user, n=300)
    model_version = ModelVersionFactory(project=project_a, created_by=ds_user)
    config = {**CONFIG, "explain": {"shap": True, "pdp_features": 2}}
    report = services.report_start(
        project=project_a, created_by=ds_user, dataset_version=version, config=config, model_version=model_version
    )
    report = _run(run_job, report)
    assert report.kind == "model"
    post = report.analysis["post_training_bias_metrics"]
    names = {m["name"] for m in post["facets"]["gender"][0]["metrics"]}
    assert names == set(bias.POST_TRAINING) | {"DCA"} - {"DCAcc"} or names >= {"DPPL", "DI", "AD", "FT"}
    # The predicted labels are the model's own: recompute DPPL from the model's probabilities.
    from apps.registry.loading import load_version

    frame = data_selectors.version_frame(version=version, as_written=True)
    _, proba = load_version(model_version, native_code=False).predict(frame)
    predicted_yes = proba[:, 1] > 0.5
    women = (frame.gender == "F").to_numpy()
    dppl = predicted_yes[~women].mean() - predicted_yes[women].mean()
    assert _metric(post, "gender", "DPPL") == pytest.approx(dppl, abs=1e-12)
    model = report.details["model"]
    assert model["classes"] == ["no", "yes"] and model["probability_threshold"] == 0.5
    assert model["accuracy"] == pytest.approx(float(((frame.churn == "yes").to_numpy() == predicted_yes).mean()))
    shap = report.analysis["explanations"]["kernel_shap"]["churn"]
    assert set(shap["global_shap_values"]) == {"x1", "x2", "colour"}
    top = max(shap["global_shap_values"], key=shap["global_shap_values"].get)
    assert top == "x1"  # the label is mostly x1
    assert [p["feature_name"] for p in report.analysis["explanations"]["pdp"]] == report.details["shap"]["features"][:2]
    assert report.details["sample"]["model"]["rows"] == 300


def test_the_probability_threshold_decides_the_predicted_label(ds_user, project_a, media, run_job) -> None:
    version = churn_version(project_a, ds_user, n=200)
    model_version = ModelVersionFactory(project=project_a, created_by=ds_user)
    rates = []
    for p in (0.2, 0.8):
        config = {**CONFIG, "probability_threshold": p, "explain": NO_SHAP}
        report = services.report_start(
            project=project_a, created_by=ds_user, dataset_version=version, config=config, model_version=model_version
        )
        rates.append(_run(run_job, report).details["model"]["predicted_positive_rate"])
    assert rates[0] > rates[1] + 0.1


def test_above_the_caps_the_job_samples_and_says_how_much(ds_user, project_a, media, run_job, settings) -> None:
    settings.CLARIFY_MODEL_MAX_ROWS = 150
    settings.CLARIFY_DATA_MAX_ROWS = 500
    version = churn_version(project_a, ds_user, n=800)
    model_version = ModelVersionFactory(project=project_a, created_by=ds_user)
    config = {**CONFIG, "explain": NO_SHAP}
    report = services.report_start(
        project=project_a, created_by=ds_user, dataset_version=version, config=config, model_version=model_version
    )
    report = _run(run_job, report)
    sample = report.details["sample"]
    assert sample["data"] == {"rows_total": 800, "rows": 500, "sampled": True, "cap": 500, "seed": 0}
    assert sample["model"] == {"rows_total": 800, "rows": 150, "sampled": True, "cap": 150, "seed": 0}
    # The metrics are those of exactly that seeded sample.
    rows = data_selectors.version_sample(version=version, size=150, seed=0, as_written=True)
    breakdown = report.details["breakdown_predicted"]["facets"]["gender"]
    assert sum(r["n"] for r in breakdown) == 150
    assert {r["value"]: r["n"] for r in breakdown} == rows.gender.value_counts().to_dict()
    html = services.report_html(report)
    assert "150 of 800 rows" in html and "500 of 800 rows" in html


def test_a_version_sample_is_uniform_seeded_and_in_file_order(ds_user, project_a, media) -> None:
    frame = churn_frame(200_000, seed=3)
    frame["row"] = np.arange(len(frame))
    version = make_version(project_a, ds_user, frame, name="long")
    a = data_selectors.version_sample(version=version, size=5000, seed=7, columns=["row", "gender"])
    b = data_selectors.version_sample(version=version, size=5000, seed=7, columns=["row", "gender"])
    assert list(a.columns) == ["row", "gender"] and len(a) == 5000
    assert a.equals(b) and a.row.is_monotonic_increasing and a.row.is_unique
    expected = np.sort(np.random.default_rng(7).choice(200_000, 5000, replace=False))
    assert a.row.tolist() == expected.tolist()
    assert (a.gender.to_numpy() == frame.gender.to_numpy()[expected]).all()
    # spread over every row group, not the first ones
    assert a.row.max() > 190_000 and a.row.min() < 1000


def test_measurement_bias_against_a_trusted_reference(ds_user, project_a, media, run_job) -> None:
    frame = churn_frame(1000, flip_women=0.4)
    version = make_version(project_a, ds_user, frame, name="churn")
    model_version = ModelVersionFactory(project=project_a, created_by=ds_user)
    config = {**CONFIG, "reference": "churn_true", "explain": NO_SHAP}
    report = services.report_start(
        project=project_a, created_by=ds_user, dataset_version=version, config=config, model_version=model_version
    )
    report = _run(run_job, report)
    women = frame.gender == "F"
    wrong = frame.churn != frame.churn_true
    row = report.details["measurement"]["facets"]["gender"][0]
    assert row["value_or_threshold"] == "F"
    assert row["disagreement_d"] == pytest.approx(wrong[women].mean()) and row["disagreement_d"] > 0.1
    assert row["disagreement_a"] == 0.0  # men's labels are exact
    assert row["difference"] == pytest.approx(wrong[women].mean())
    # With a model: its error rate against the truth, per group.
    model_row = report.details["measurement_model"]["facets"]["gender"][0]
    assert model_row["d"]["label_error_rate"] == pytest.approx(wrong[women].mean())
    assert model_row["a"]["label_error_rate"] == 0.0
    assert model_row["disagreement_gap"] > 0.1
    assert 0 <= model_row["d"]["prediction_error_rate_vs_reference"] <= 1
    assert "Measurement bias" in services.report_html(report)


def test_flags_follow_the_default_and_the_users_thresholds(ds_user, project_a, media, run_job) -> None:
    version = churn_version(project_a, ds_user, n=600)
    report = _run(
        run_job, services.report_start(project=project_a, created_by=ds_user, dataset_version=version, config=CONFIG)
    )
    flags = {f["name"]: f for f in services.report_flags(report)}
    assert set(flags) == set(bias.PRE_TRAINING)
    dpl = flags["DPL"]
    assert dpl["threshold"] == bias.METRICS["DPL"].threshold and dpl["ideal"] == 0.0
    assert dpl["flagged"] == (abs(dpl["value"]) > dpl["threshold"])
    assert dpl["meaning"] and "sampling" in dpl["bias_kinds"]
    services.report_thresholds_set(report=report, thresholds={"DPL": abs(dpl["value"]) + 0.01, "CI": 0.0})
    report.refresh_from_db()
    flags = {f["name"]: f for f in services.report_flags(report)}
    assert flags["DPL"]["flagged"] is False and flags["CI"]["flagged"] is True
    services.report_thresholds_set(report=report, thresholds={"DPL": 0.0})
    assert {f["name"]: f for f in services.report_flags(report)}["DPL"]["flagged"] is True
    services.report_thresholds_set(report=report, thresholds={"DPL": None})  # back to the default
    report.refresh_from_db()
    assert "DPL" not in report.thresholds and report.thresholds["CI"] == 0.0
    with pytest.raises(ValidationError) as err:
        services.report_thresholds_set(report=report, thresholds={"XYZ": 1, "DI": -1, "AD": "lots"})
    messages = err.value.message_dict["thresholds"]
    assert any("Unknown metric 'XYZ'" in m for m in messages)
    assert any(m.startswith("DI:") for m in messages) and any(m.startswith("AD:") for m in messages)
    report.refresh_from_db()
    assert report.thresholds == {"CI": 0.0}  # nothing of the refused request was kept


def test_an_infinite_metric_is_flagged_and_written_as_sagemaker_writes_it() -> None:
    """DI of a group with no positive predictions in the rest is x/0: stored as SageMaker writes it ("Infinity"),
    flagged whatever the threshold; a metric that could not be computed (null with an error) is never flagged."""
    di = {"name": "DI", "description": "Disparate Impact (DI)", "value": "Infinity"}
    ad = {"name": "AD", "description": "Accuracy Difference (AD)", "value": None, "error": "empty facet"}
    post = {"label": "churn", "facets": {"gender": [{"value_or_threshold": "F", "metrics": [di, ad]}]}}
    report = ClarifyReport(analysis={"version": "1.0", "post_training_bias_metrics": post}, thresholds={"DI": 1000.0})
    flags = {f["name"]: f for f in services.report_flags(report)}
    assert flags["DI"]["flagged"] is True and flags["DI"]["value"] == float("inf")
    assert flags["AD"]["flagged"] is False and flags["AD"]["error"] == "empty facet"
    text = services.analysis_json(report)
    assert '"value": "Infinity"' in text and json.loads(text)["post_training_bias_metrics"] == post


def test_compare_puts_accuracy_and_flagged_metrics_side_by_side(ds_user, project_a, media, run_job) -> None:
    version = churn_version(project_a, ds_user, n=400)
    before_model = ModelVersionFactory(project=project_a, created_by=ds_user)
    config = {**CONFIG, "explain": NO_SHAP}
    before = _run(
        run_job,
        services.report_start(
            project=project_a, created_by=ds_user, dataset_version=version, config=config, model_version=before_model
        ),
    )
    after = _run(
        run_job,
        services.report_start(
            project=project_a,
            created_by=ds_user,
            dataset_version=version,
            config={**config, "probability_threshold": 0.9},
            model_version=before_model,
            parent=before,
        ),
    )
    out = services.report_compare(before=before, after=after)
    acc = out["accuracy"]
    assert acc["before"] == before.details["model"]["accuracy"] and acc["after"] == after.details["model"]["accuracy"]
    assert acc["change"] == pytest.approx(acc["after"] - acc["before"])
    flagged_before = {(f["stage"], f["name"]) for f in services.report_flags(before) if f["flagged"]}
    rows = {(m["stage"], m["name"]): m for m in out["metrics"]}
    assert flagged_before <= set(rows)
    for row in rows.values():
        if isinstance(row["before"], float) and isinstance(row["after"], float):
            moved = abs(row["after"] - row["ideal"]) < abs(row["before"] - row["ideal"])
            assert row["toward_ideal"] is moved
