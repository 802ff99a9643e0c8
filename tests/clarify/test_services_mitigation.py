"""Mitigation from a report (services.mitigation_start → `clarify.mitigate` job → the "after" report): resampling
moves the label DPL toward 0 on a biased generated dataset and the comparison says so; reweighing states the weight
column and the weighted DPL; per-group thresholds make a new Canvas candidate whose DPPL moves toward 0 at a stated
accuracy cost; a fair Canvas build starts its report when the build's job ends (the jobs app's job_finished)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from apps.clarify import services
from apps.clarify.models import ClarifyReport
from apps.jobs.choices import JobStatus
from tests.factories import ModelVersionFactory, make_version, trained_build

CONFIG = {"label": "approved", "positive_label_values": ["Yes"], "facets": [{"name": "sex", "values": ["female"]}]}
NO_SHAP = {"shap": False, "pdp_features": 0}


def biased_frame(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    """Women are approved at 25 %, men at 60 % (DPL ≈ 0.35); x1 carries part of the signal."""
    rng = np.random.default_rng(seed)
    sex = np.where(rng.random(n) < 0.3, "female", "male")
    x1 = rng.normal(size=n)
    rate = np.clip(np.where(sex == "female", 0.25, 0.6) + 0.1 * x1, 0, 1)
    approved = np.where(rng.random(n) < rate, "Yes", "No")
    return pd.DataFrame({"x1": x1, "x2": rng.normal(size=n), "sex": sex, "approved": approved})


def _ok(run_job, report: ClarifyReport) -> ClarifyReport:  # type: ignore[no-untyped-def]
    job = run_job(report.job)
    assert job.status == JobStatus.SUCCEEDED, (job.message, job.error[-3000:])
    report.refresh_from_db()
    return report


def _value(report: ClarifyReport, stage: str, name: str) -> Any:
    metrics = report.analysis[f"{stage}_bias_metrics"]["facets"]["sex"][0]["metrics"]
    return next(m["value"] for m in metrics if m["name"] == name)


def test_resampling_moves_dpl_toward_zero_and_the_comparison_says_so(ds_user, project_a, media, run_job) -> None:
    version = make_version(project_a, ds_user, biased_frame(), name="loans")
    before = _ok(
        run_job, services.report_start(project=project_a, created_by=ds_user, dataset_version=version, config=CONFIG)
    )
    dpl_before = _value(before, "pre_training", "DPL")
    assert dpl_before > 0.3
    after = services.mitigation_start(report=before, kind="resample", params={"facet": "sex"}, created_by=ds_user)
    assert after.parent == before and after.mitigation == "resample" and after.job.kind == "clarify.mitigate"
    after = _ok(run_job, after)
    assert after.dataset_version != version and after.dataset_version.parents.filter(pk=version.pk).exists()
    assert after.mitigation_info["dataset_version"] == after.dataset_version_id
    dpl_after = _value(after, "pre_training", "DPL")
    assert abs(dpl_after) < dpl_before - 0.25
    compare = services.report_compare(before=before, after=after)
    row = next(m for m in compare["metrics"] if m["name"] == "DPL")
    assert row["before"] == pytest.approx(dpl_before) and row["after"] == pytest.approx(dpl_after)
    assert row["toward_ideal"] is True and row["flagged_before"] is True and row["flagged_after"] is False
    assert after.details["mitigation"]["method"] == "resample"
    html = services.report_html(after)
    assert "Before / after" in html and "toward the ideal" in html


def test_reweighing_states_its_weight_column_and_a_models_report_says_it_is_data_only(
    ds_user, project_a, media, run_job
) -> None:
    frame = biased_frame(1500)
    frame["colour"] = "red"
    frame["approved"] = frame["approved"].str.lower()  # the test model predicts yes / no
    version = make_version(project_a, ds_user, frame, name="loans")
    model_version = ModelVersionFactory(project=project_a, created_by=ds_user)  # reads x1, x2, colour
    config = {**CONFIG, "positive_label_values": ["yes"], "explain": NO_SHAP}
    before = services.report_start(
        project=project_a, created_by=ds_user, dataset_version=version, config=config, model_version=model_version
    )
    before = _ok(run_job, before)
    after = _ok(run_job, services.mitigation_start(report=before, kind="reweigh", params={}, created_by=ds_user))
    weight = after.details["mitigation"]["weight_column"]
    assert weight in after.dataset_version.column_names
    assert f"adds the weight column {weight!r}" in after.details["reweigh_note"]
    assert "had a model" in after.details["note"] and after.kind == "data"
    assert "post_training_bias_metrics" not in after.analysis
    compare = services.report_compare(before=before, after=after)
    assert compare["accuracy"]["after"] is None and "accuracy cost shows once" in compare["note"]


@pytest.fixture
def build(project_a, ds_user, media):  # type: ignore[no-untyped-def]
    frame = biased_frame(1200)
    return trained_build(project_a, ds_user, frame, "approved", budget=30)


def test_per_group_thresholds_make_a_candidate_whose_report_moves_dppl(build, ds_user, project_a, run_job) -> None:
    config = {**CONFIG, "explain": NO_SHAP}
    before = services.report_start(
        project=project_a, created_by=ds_user, dataset_version=build.dataset_version, config=config, automl_build=build
    )
    before = _ok(run_job, before)
    dppl_before = _value(before, "post_training", "DPPL")
    after = services.mitigation_start(
        report=before,
        kind="threshold_optimizer",
        params={"facet": "sex", "constraint": "demographic_parity"},
        created_by=ds_user,
    )
    after = _ok(run_job, after)
    assert after.automl_build == build and after.candidate and after.candidate != before.candidate
    dppl_after = _value(after, "post_training", "DPPL")
    assert abs(dppl_after) < abs(dppl_before) - 0.1, (dppl_before, dppl_after)
    compare = services.report_compare(before=before, after=after)
    assert compare["accuracy"]["before"] is not None and compare["accuracy"]["after"] is not None
    assert compare["accuracy"]["change"] == pytest.approx(compare["accuracy"]["after"] - compare["accuracy"]["before"])


def test_a_fair_build_starts_its_report_when_the_build_ends(build, ds_user, project_a, run_job) -> None:
    config = {**CONFIG, "explain": NO_SHAP}
    before = services.report_start(
        project=project_a, created_by=ds_user, dataset_version=build.dataset_version, config=config, automl_build=build
    )
    before = _ok(run_job, before)
    after = services.mitigation_start(
        report=before, kind="exponentiated_gradient", params={"constraint": "demographic_parity"}, created_by=ds_user
    )
    assert run_job(after.job).status == JobStatus.SUCCEEDED
    after.refresh_from_db()
    fair = after.automl_build
    assert fair is not None and fair != build and after.job == fair.job  # the report follows the build meanwhile
    assert after.analysis is None and after.status == "queued"
    assert run_job(fair.job).status == JobStatus.SUCCEEDED  # its end (job_finished) starts the report's job
    after.refresh_from_db()
    assert after.job.kind == "clarify.report" and after.mitigation_info["report_job"] == after.job_id
    after = _ok(run_job, after)
    fair.refresh_from_db()
    assert after.candidate == fair.chosen_candidate and fair.fairness
    assert "post_training_bias_metrics" in after.analysis
    compare = services.report_compare(before=before, after=after)
    assert compare["accuracy"]["after"] is not None


def test_a_fair_build_that_does_not_succeed_ends_its_report_with_the_reason(build, ds_user, project_a, run_job) -> None:
    from apps.jobs.services import job_cancel

    config = {**CONFIG, "explain": NO_SHAP}
    before = services.report_start(
        project=project_a, created_by=ds_user, dataset_version=build.dataset_version, config=config, automl_build=build
    )
    before = _ok(run_job, before)
    after = services.mitigation_start(report=before, kind="exponentiated_gradient", params={}, created_by=ds_user)
    assert run_job(after.job).status == JobStatus.SUCCEEDED
    after.refresh_from_db()
    fair = after.automl_build
    job_cancel(job=fair.job)  # the build never runs
    after.refresh_from_db()
    assert after.job == fair.job and after.status == JobStatus.CANCELLED
    assert after.analysis is None and "did not succeed" in after.mitigation_info["error"]
    assert "report_job" not in after.mitigation_info
