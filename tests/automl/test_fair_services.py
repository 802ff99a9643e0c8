"""Canvas with Fairlearn end to end: a build with the fairness option (validated, its job run, the mitigated model
stored, predicted, registered) and a per-group threshold candidate added to a finished build (stored, selectable,
registrable, served and exported by the registry like any Canvas model)."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from apps.automl import selectors, services
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


def test_a_fair_build_trains_stores_predicts_and_registers(
    project_a, ds_user, run_job, client_for, api_for, media, tmp_path
):
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
    page = client_for(ds_user).get(f"/canvas/builds/{build.pk}/")
    html = page.content.decode()
    assert page.status_code == 200 and "exponentiated_gradient-demographic_parity" in html
    # the build page's fairness card: the constraint, both sides' parity and accuracy, the cost, each group
    card = html[html.index('id="fairness"') : html.index("</details>", html.index('id="fairness"'))]
    assert "demographic parity" in card and "Demographic parity difference" in card
    assert f'id="fairness-after">{cmp["after"]:.4f}<' in card
    assert f'id="fairness-cost">{cmp["accuracy_cost"]:.4f}<' in card
    assert all(f'<td class="mono">{group}</td>' in card for group in build.report["fairness"]["groups"])
    answer = api_for(ds_user).post(f"/api/automl/{build.pk}/predict/", {"rows": rows[:5]}, format="json")
    assert answer.status_code == 200 and answer.json()["predictions"] == out["predictions"][:5]
    registered = services.automl_register(build=build, created_by=ds_user)
    labels, _ = load_version(registered).predict(test.drop(columns=[TARGET]))
    assert list(labels) == out["predictions"]
    exported = predict_elsewhere(
        export_mlflow_dir(version=registered, target=tmp_path / "export"), test.head(30), tmp_path
    )
    assert exported["predictions"] == out["predictions"][:30]
    # the unmitigated reference on the leaderboard is a candidate like any other: refitted on request
    selection = services.automl_candidate_select(build=build, candidate="linear-unmitigated", created_by=ds_user)
    assert selection.job is not None and run_job(selection.job).status == JobStatus.SUCCEEDED
    build.refresh_from_db()
    assert build.chosen_candidate == "linear-unmitigated"
    plain = services.automl_predict(build=build, rows=rows)
    assert dpd(test, np.asarray(plain["predictions"]) == "Yes") > 0.3


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


def test_a_threshold_candidate_is_stored_selected_registered_served_and_exported(
    project_a, ds_user, tmp_path, client_for, media
):
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
    single = build.leaderboard[0]["algorithm"] in ("linear", "lightgbm")  # a blend has no one fit to refit per fold
    assert row.report["fairness"]["evaluated_on"].startswith("out-of-fold" if single else "the training rows")
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
    page = client_for(ds_user).get(f"/canvas/builds/{build.pk}/")
    assert page.status_code == 200 and row.name in page.content.decode()
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


def test_the_api_starts_a_fair_build_and_answers_400_keyed_by_field(project_a, ds_user, api_for):
    version = make_version(project_a, ds_user, biased_frame(600), name="loans")
    api = api_for(ds_user)
    body = {"project": project_a.pk, "dataset_version": version.pk, "target": TARGET}
    bad = api.post("/api/automl/", {**body, "fairness": {**FAIR, "sensitive": "nationality"}}, format="json")
    assert bad.status_code == 400, bad.content
    errors = {k: v for k, v in bad.json().items() if k not in ("detail", "code")}
    assert "nationality" in str(errors.get("errors", errors).get("fairness.sensitive")), bad.json()
    ok = api.post("/api/automl/", {**body, "fairness": FAIR}, format="json")
    assert ok.status_code == 202, ok.content
    detail = api.get(f"/api/automl/{ok.json()['id']}/").json()
    assert detail["fairness"] == {**FAIR, "base": "lightgbm"}


def test_thresholds_over_a_single_algorithm_are_chosen_out_of_fold(project_a, ds_user, run_job):
    build = trained_build(project_a, ds_user, biased_frame(2000), TARGET)
    linear = next(e["name"] for e in build.leaderboard if e["algorithm"] == "linear")
    selection = services.automl_candidate_select(build=build, candidate=linear, created_by=ds_user)
    if selection.job is not None:
        assert run_job(selection.job).status == JobStatus.SUCCEEDED
    build.refresh_from_db()
    row = services.automl_threshold_candidate_fit(
        build=build, candidate=linear, sensitive="group", constraint="equalized_odds", created_by=ds_user
    )
    fair = row.report["fairness"]
    assert fair["evaluated_on"].startswith(f"out-of-fold predictions of {linear}")
    assert fair["comparison"]["constrained_metric"] == "equalized_odds_difference"
    assert fair["comparison"]["after"] < fair["comparison"]["before"]
    assert row.name == f"{linear}-thresholds-eo-group"


def test_the_canvas_form_starts_a_fair_build_and_names_a_missing_sensitive_column(project_a, ds_user, client_for):
    version = make_version(project_a, ds_user, biased_frame(300), name="loans")
    client = client_for(ds_user)
    form = {"dataset_version": version.pk, "target": TARGET, "mode": "quick", "action": "start"}
    page = client.get("/canvas/").content.decode()
    assert 'name="fairness_constraint"' in page and 'id="id_fairness_sensitive"' in page
    assert '<option value="group"' in page[page.index('id="id_fairness_sensitive"') :]  # the version's columns
    refused = client.post("/canvas/", {**form, "fairness_constraint": "equalized_odds"})
    assert refused.status_code == 400
    assert "Choose the sensitive column" in refused.content.decode()
    unknown = client.post("/canvas/", {**form, "fairness_constraint": "equalized_odds", "fairness_sensitive": "nope"})
    assert unknown.status_code == 400 and "&#x27;nope&#x27; is not a column of loans v1" in unknown.content.decode()
    started = client.post(
        "/canvas/",
        {**form, "fairness_constraint": "equalized_odds", "fairness_sensitive": "group", "fairness_base": "linear"},
    )
    assert started.status_code == 302
    build = selectors.build_list_for_user(user=ds_user).latest("pk")
    assert build.fairness == {
        "mitigator": "exponentiated_gradient",
        "constraint": "equalized_odds",
        "sensitive": "group",
        "base": "linear",
    }
    plain = client.post("/canvas/", {**form, "fairness_sensitive": "group"})  # no constraint: sensitive ignored
    assert plain.status_code == 302
    assert selectors.build_list_for_user(user=ds_user).latest("pk").fairness is None
