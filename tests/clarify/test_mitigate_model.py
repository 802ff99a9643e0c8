"""Clarify's model mitigations (apps/clarify/mitigation_model.py) as the mitigation job calls them: per-group
thresholds as a new candidate of the report's build (synchronous), and the errors a report's user can cause, keyed
by Clarify's names (the facet, the constraint, the candidate). The fair build through a real worker:
test_mitigate_model_jobs.py."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from apps.automl import engine, services
from apps.automl.models import AutomlBuild
from apps.clarify.mitigation_model import fair_build_start, threshold_candidate_fit
from tests.automl.test_fair_engine import TARGET, biased_frame, dpd
from tests.factories import make_version, trained_build

MIN_DPD_DROP = 0.25


def test_thresholds_become_a_candidate_that_narrows_the_parity_gap(project_a, ds_user):
    build = trained_build(project_a, ds_user, biased_frame(), TARGET)
    said: list[str] = []
    name = threshold_candidate_fit(
        build=build,
        candidate=build.best_candidate,
        facet="group",
        constraint="demographic_parity",
        created_by=ds_user,
        progress=lambda fraction, message: said.append(message),
    )
    assert said and name in {e["name"] for e in AutomlBuild.objects.get(pk=build.pk).leaderboard}
    test = biased_frame(2000, seed=7)
    rows = test.drop(columns=[TARGET])
    base = services.load_build_model(build=build, candidate=build.best_candidate)
    mitigated = services.load_build_model(build=build, candidate=name)
    before = dpd(test, np.asarray(engine.predict(base, rows)["predictions"]) == "Yes")
    after = dpd(test, np.asarray(engine.predict(mitigated, rows)["predictions"]) == "Yes")
    assert before > 0.3 and before - after >= MIN_DPD_DROP, (before, after)
    _, report = services.selectors.candidate_report(build=build, name=name)
    cmp = report["fairness"]["comparison"]  # what the before/after view shows: the gap and the accuracy it cost
    assert cmp["constrained_metric"] == "demographic_parity_difference" and cmp["before"] > cmp["after"]
    assert cmp["accuracy_cost"] == pytest.approx(cmp["accuracy_before"] - cmp["accuracy_after"], abs=1e-6)


def test_bad_input_is_keyed_by_clarify_names(project_a, ds_user):
    frame = biased_frame(800)
    build = trained_build(project_a, ds_user, frame.drop(columns=["group"]), TARGET)  # the facet is no model input
    with pytest.raises(ValidationError) as caught:
        threshold_candidate_fit(
            build=build, candidate=build.best_candidate, facet="group", constraint="demographic_parity", created_by=None
        )
    assert list(caught.value.message_dict) == ["facet"]
    assert "'group' is not an input of" in caught.value.message_dict["facet"][0]
    with pytest.raises(ValidationError) as caught:
        threshold_candidate_fit(
            build=build, candidate=build.best_candidate, facet="proxy", constraint="parity", created_by=None
        )
    assert list(caught.value.message_dict) == ["constraint"]
    # a fair build on the same data: the facet must exist, the target must be binary
    with pytest.raises(ValidationError) as caught:
        fair_build_start(build=build, facet="group", constraint="demographic_parity", created_by=ds_user)
    assert list(caught.value.message_dict) == ["facet"] and "not in the data" in caught.value.message_dict["facet"][0]
    numeric = trained_build(project_a, ds_user, frame.drop(columns=[TARGET]), "skill")
    with pytest.raises(ValidationError) as caught:
        fair_build_start(build=numeric, facet="group", constraint="equalized_odds", created_by=ds_user)
    assert list(caught.value.message_dict) == ["target"] and "binary" in caught.value.message_dict["target"][0]
    with pytest.raises(ValidationError) as caught:
        fair_build_start(build=build, facet="proxy", constraint="demographic_parity", created_by=ds_user)
    assert "distinct values" in caught.value.message_dict["facet"][0]
    assert AutomlBuild.objects.filter(fairness__isnull=False).count() == 0


def test_a_fair_build_copies_the_source_build(project_a, ds_user):
    version = make_version(project_a, ds_user, biased_frame(600), name="loans")
    source = services.automl_build_start(
        project=project_a, created_by=ds_user, version=version, target=TARGET, mode="quick", time_budget_s=30, seed=3
    )
    fair = fair_build_start(build=source, facet="group", constraint="equalized_odds", created_by=ds_user)
    assert fair.pk != source.pk and fair.job_id and fair.job_id != source.job_id
    assert (fair.dataset_version_id, fair.target, fair.mode, fair.time_budget_s, fair.seed) == (
        version.pk,
        TARGET,
        "quick",
        30.0,
        3,
    )
    assert fair.fairness == {
        "mitigator": "exponentiated_gradient",
        "constraint": "equalized_odds",
        "sensitive": "group",
        "base": "lightgbm",
    }
    assert fair.job.kind == "automl.build"
