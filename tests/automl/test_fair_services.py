"""Canvas with Fairlearn end to end: a build with the fairness option (validated, its job run, the mitigated model
stored, predicted, registered) and a per-group threshold candidate added to a finished build (stored, selectable,
registrable, served and exported by the registry like any Canvas model)."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from apps.automl import services
from apps.automl.models import AutomlCandidateModel
from apps.jobs.choices import JobStatus
from apps.registry.export import export_mlflow_dir
from apps.registry.loading import load_version
from tests.automl.test_fair_engine import TARGET, biased_frame, dpd
from tests.factories import make_version, trained_build
from tests.registry.test_export import predict_elsewhere

FAIR = {"mitigator": "exponentiated_gradient", "constraint": "demographic_parity", "sensitive": "group"}


def start(project, user, version, target=TARGET, **fairness):
    return services.automl_build_start(
        project=project, created_by=user, version=version, target=target, mode="quick", fairness=fairness or FAIR
    )


def test_a_fair_build_trains_stores_predicts_and_registers(project_a, ds_user, run_job):
    version = make_version(project_a, ds_user, biased_frame(2000), name="loans")
    build = start(project_a, ds_user, version, **{**FAIR, "base": "linear"})
    assert build.fairness == {**FAIR, "base": "linear"}
    job = run_job(build.job)
    assert job.status == JobStatus.SUCCEEDED, job.error
    build.refresh_from_db()
    assert build.best_candidate == "exponentiated_gradient-demographic_parity"
    cmp = build.report["fairness"]["comparison"]
    assert cmp["before"] - cmp["after"] >= 0.2 and cmp["accuracy_cost"] is not None
    test = biased_frame(1000, seed=3)
    rows = test.drop(columns=[TARGET]).to_dict("records")
    out = services.automl_predict(build=build, rows=rows)
    assert set(out["predictions"]) == {"Yes", "No"}
    assert dpd(test, np.asarray(out["predictions"]) == "Yes") < 0.12
    registered = services.automl_register(build=build, created_by=ds_user)
    labels, _ = load_version(registered).predict(test.drop(columns=[TARGET]))
    assert list(labels) == out["predictions"]


def test_the_fairness_option_is_checked_before_a_build_starts(project_a, ds_user):
    frame = biased_frame(600)
    version = make_version(project_a, ds_user, frame, name="loans")
    cases = [
        ({**FAIR, "sensitive": "nationality"}, TARGET, "fairness.sensitive", "not in"),
        ({**FAIR, "sensitive": "skill"}, TARGET, "fairness.sensitive", "distinct values"),
        ({**FAIR, "constraint": "equal_pay"}, TARGET, "fairness.constraint", "Unknown constraint"),
        ({**FAIR, "mitigator": "magic"}, TARGET, "fairness.mitigator", "Unknown mitigator"),
        ({**FAIR, "base": "knn"}, TARGET, "fairness.base", "Unknown base"),
        (FAIR, "skill", "target", "needs a binary target"),
    ]
    for option, target, key, words in cases:
        with pytest.raises(ValidationError) as caught:
            start(project_a, ds_user, version, target=target, **option)
        assert list(caught.value.message_dict) == [key], caught.value.message_dict
        assert words in caught.value.message_dict[key][0]
    with pytest.raises(ValidationError) as caught:
        services.automl_build_start(
            project=project_a, created_by=ds_user, version=version, target=TARGET, fairness="group"
        )
    assert "fairness" in caught.value.message_dict


def test_a_threshold_candidate_is_stored_selected_registered_served_and_exported(project_a, ds_user, tmp_path):
    build = trained_build(project_a, ds_user, biased_frame(), TARGET)
    best = build.best_candidate
    row = services.automl_threshold_candidate_fit(
        build=build, candidate=best, sensitive="group", constraint="demographic_parity", created_by=ds_user
    )
    assert row.name == f"{best}-thresholds-dp-group" and row.artifact_id
    build.refresh_from_db()
    entry = build.leaderboard[-1]
    assert entry["name"] == row.name and entry["algorithm"] == "threshold_optimizer" and not entry["best"]
    assert row.report["fairness"]["comparison"]["accuracy_cost"] is not None
    # the same request again returns the stored candidate
    again = services.automl_threshold_candidate_fit(
        build=build, candidate=best, sensitive="group", constraint="demographic_parity", created_by=ds_user
    )
    assert again.pk == row.pk and AutomlCandidateModel.objects.filter(build=build).count() == 1
    assert [e["name"] for e in build.leaderboard].count(row.name) == 1
    selection = services.automl_candidate_select(build=build, candidate=row.name, created_by=ds_user)
    assert selection.job is None
    build.refresh_from_db()
    test = biased_frame(1000, seed=4)
    rows = test.drop(columns=[TARGET])
    before = services.automl_predict(build=build, rows=rows.to_dict("records"))  # selected: the thresholds
    base = services.load_build_model(build=build, candidate=best)
    plain = np.asarray(services.engine.predict(base, rows)["predictions"]) == "Yes"
    assert dpd(test, plain) - dpd(test, np.asarray(before["predictions"]) == "Yes") >= 0.25
    version = services.automl_register(build=build, created_by=ds_user)
    assert version.candidate == row.name
    labels, _ = load_version(version).predict(rows)
    assert list(labels) == before["predictions"]
    model_dir = export_mlflow_dir(version=version, target=tmp_path / "export")
    assert "fairlearn==" in (model_dir / "requirements.txt").read_text()
    got = predict_elsewhere(model_dir, rows.head(40), tmp_path)
    assert got["predictions"] == before["predictions"][:40]


def test_a_threshold_candidate_refuses_bad_input(project_a, ds_user):
    frame = biased_frame(800)
    build = trained_build(project_a, ds_user, frame.drop(columns=["group"]).assign(region=frame["group"]), TARGET)
    fit = services.automl_threshold_candidate_fit
    kw = {"build": build, "candidate": build.best_candidate, "created_by": ds_user}
    cases = [
        ({"sensitive": "nationality", "constraint": "demographic_parity"}, "sensitive", "not an input"),
        ({"sensitive": "region", "constraint": "parity"}, "constraint", "Unknown constraint"),
        ({"sensitive": "region", "constraint": "demographic_parity", "candidate": "knn-9"}, "candidate", "no fitted"),
    ]
    for extra, key, words in cases:
        with pytest.raises(ValidationError) as caught:
            fit(**{**kw, **extra})
        assert list(caught.value.message_dict) == [key] and words in caught.value.message_dict[key][0]
    assert not AutomlCandidateModel.objects.filter(build=build).exists()
