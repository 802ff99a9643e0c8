"""A fair build started from Clarify runs through a REAL Celery worker: ExponentiatedGradient under demographic
parity on the facet narrows the gap of the predictions on new rows against the source build's model, and its report
states the accuracy it cost."""

from __future__ import annotations

import numpy as np
import pytest

from apps.automl import engine, services
from apps.automl.models import AutomlBuild
from apps.clarify.mitigation_model import fair_build_start
from apps.jobs.choices import JobStatus
from tests.automl.test_fair_engine import TARGET, biased_frame, dpd
from tests.conftest import clean_project_storage, job_final
from tests.factories import trained_build

pytestmark = [pytest.mark.worker, pytest.mark.xdist_group("worker")]


def test_a_fair_build_through_a_worker_narrows_the_parity_gap(start_worker, project_a, ds_user):
    clean_project_storage(project_a)
    source = trained_build(project_a, ds_user, biased_frame(), TARGET)
    fair = fair_build_start(build=source, facet="group", constraint="demographic_parity", created_by=ds_user)
    start_worker()
    job = job_final(fair.job_id, timeout=300)
    assert job.status == JobStatus.SUCCEEDED, job.error
    fair = AutomlBuild.objects.get(pk=fair.pk)
    test = biased_frame(2000, seed=9)
    rows = test.drop(columns=[TARGET])
    plain = engine.predict(services.load_build_model(build=source), rows)["predictions"]
    before = dpd(test, np.asarray(plain) == "Yes")
    out = services.automl_predict(build=fair, rows=rows.head(1000).to_dict("records"))
    after = dpd(test.head(1000), np.asarray(out["predictions"]) == "Yes")
    assert before > 0.3 and before - after >= 0.25, (before, after)
    cmp = fair.report["fairness"]["comparison"]
    assert cmp["before"] > 0.3 and cmp["after"] < 0.1 and cmp["accuracy_cost"] is not None
    assert fair.report["leaderboard"][0]["params"]["base"] == "lightgbm"
