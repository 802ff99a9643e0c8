"""Tuning jobs (AMT) through REAL Celery workers: trials of one job spread over two worker processes that share
one Optuna study, max trials never overshot, the best trial exported as a candidate build that predicts; a single
worker slot with max_parallel 3 still finishes (no deadlock); completion criteria; warm start; cancel; bad input."""

from __future__ import annotations

import pytest

from apps.automl.models import AutomlBuild, TuningJob
from apps.automl.tuning import load_study
from apps.jobs.choices import JobStatus
from apps.jobs.models import Job
from tests.conftest import clean_project_storage, job_final
from tests.factories import binary_frame, make_version, regression_frame

pytestmark = [pytest.mark.worker, pytest.mark.xdist_group("worker")]

LINEAR = {
    "algorithm": "linear",
    "strategy": "random",
    "ranges": {"alpha": {"type": "continuous", "min": 0.001, "max": 100, "scale": "log"}},
}
LOGISTIC = {
    "algorithm": "linear",
    "strategy": "random",
    "ranges": {"C": {"type": "continuous", "min": 0.001, "max": 100, "scale": "log"}},
}


def _start(api, project, version, target, base=LOGISTIC, **spec):  # type: ignore[no-untyped-def]
    body = {"project": project.pk, "dataset_version": version.pk, "target": target, "spec": {**base, **spec}}
    warm = spec.pop("warm_start_from", None)
    if warm:
        body["warm_start_from"] = warm
        body["spec"].pop("warm_start_from")
    response = api.post("/api/tuning/", body, format="json")
    assert response.status_code == 202, response.content
    return response.json()


def test_trials_spread_over_two_workers_and_the_best_is_exported(start_worker, api_for, ds_user, project_a):
    clean_project_storage(project_a)
    api = api_for(ds_user)
    version = make_version(project_a, ds_user, regression_frame(600), name="houses")
    # forests take a second or so per trial, so both processes get a share
    started = _start(
        api,
        project_a,
        version,
        "price",
        base={"algorithm": "random_forest", "strategy": "bayesian"},
        max_trials=10,
        max_parallel=2,
    )
    start_worker()
    start_worker()
    try:
        job = job_final(started["job"], timeout=120)
        assert job.status == JobStatus.SUCCEEDED, (job.message, job.error)
        tuning = TuningJob.objects.get(pk=started["id"])
        study = load_study(tuning)
        assert study is not None
        finished = [t for t in study.trials if t.state.is_finished()]
        assert len(finished) == 10  # max_trials across both workers, never more
        workers = {t.user_attrs.get("worker") for t in finished}
        assert workers == {"w0", "w1"}, workers  # two processes shared the one study
        helper = Job.objects.get(kind="automl.tune_worker", params__tuning=tuning.pk)
        assert helper.status == JobStatus.SUCCEEDED and helper.result["trials_run"] >= 1
        assert tuning.stop_reason == "max_trials" and tuning.trials_done == 10
        assert tuning.best_value == pytest.approx(study.best_value)
        detail = api.get(f"/api/tuning/{tuning.pk}/").json()
        assert detail["status"] == "succeeded" and len(detail["trials"]["trials"]) == 10
        assert detail["trials"]["best"]["params"] == study.best_params
        # the best trial became a candidate build that predicts like any Canvas model
        build = AutomlBuild.objects.get(pk=detail["candidate"])
        assert build.mode == "tuned" and build.tuning_job_id == tuning.pk and build.artifact_id
        entry = build.leaderboard[0]
        assert entry["algorithm"] == "random_forest"
        assert entry["params"]["min_samples_leaf"] == study.best_params["min_samples_leaf"]
        out = api.post(f"/api/automl/{build.pk}/predict/", {"rows": [{"a": 1.0, "b": 0.0}]}, format="json")
        assert out.status_code == 200, out.content
        assert 1.0 < out.json()["predictions"][0] < 5.0
    finally:
        clean_project_storage(project_a)


def test_one_worker_slot_still_finishes_with_max_parallel_3_and_criteria_stop_early(
    start_worker, api_for, ds_user, project_a
):
    clean_project_storage(project_a)
    api = api_for(ds_user)
    version = make_version(project_a, ds_user, binary_frame(), name="customers")
    # ROC AUC >= 0.5 is reached by the first trial: the target-value criterion stops the study at once.
    first = _start(api, project_a, version, "churn", max_trials=30, max_parallel=3, completion={"target_value": 0.5})
    start_worker()  # ONE process, concurrency 1: the helpers wait in the queue behind the coordinator
    try:
        job = job_final(first["job"], timeout=120)
        assert job.status == JobStatus.SUCCEEDED, (job.message, job.error)
        tuning = TuningJob.objects.get(pk=first["id"])
        assert tuning.stop_reason == "target_value_reached" and 1 <= tuning.trials_done < 30
        helpers = Job.objects.filter(kind="automl.tune_worker", params__tuning=tuning.pk)
        assert helpers.count() == 2
        for helper in helpers:  # cancelled while queued, or ran and found the study over
            helper = job_final(helper.pk, timeout=120)
            assert helper.status in (JobStatus.CANCELLED, JobStatus.SUCCEEDED), helper.status
        assert "target objective value was reached" in job.message
        # warm start: the new job's first trial is the earlier job's best setting
        second = _start(api, project_a, version, "churn", max_trials=3, warm_start_from=[tuning.pk])
        job2 = job_final(second["job"], timeout=120)
        assert job2.status == JobStatus.SUCCEEDED, (job2.message, job2.error)
        study2 = load_study(TuningJob.objects.get(pk=second["id"]))
        assert study2 is not None
        assert study2.trials[0].params["C"] == pytest.approx(tuning.best_params["C"])
        # no improvement of 1 % within 2 trials: stops before 12
        third = _start(api, project_a, version, "churn", max_trials=12, completion={"patience": 2})
        job3 = job_final(third["job"], timeout=120)
        assert job3.status == JobStatus.SUCCEEDED, (job3.message, job3.error)
        t3 = TuningJob.objects.get(pk=third["id"])
        assert t3.stop_reason == "no_improvement" and t3.trials_done < 12
    finally:
        clean_project_storage(project_a)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"algorithm": "svm"}, "spec.algorithm"),
        ({"ranges": {"gamma": {"type": "continuous", "min": 0, "max": 1}}}, "spec.ranges.gamma"),
        ({"strategy": "genetic"}, "spec.strategy"),
        ({"max_parallel": 99}, "spec.max_parallel"),
        ({"max_runtime_s": "soon"}, "max_runtime_s"),
        ({"objective": "accuracy"}, "objective"),
    ],
)
def test_bad_specs_name_the_field(api_for, ds_user, project_a, spec, field):  # type: ignore[no-untyped-def]
    version = make_version(project_a, ds_user, regression_frame(), name="houses")
    body = {"project": project_a.pk, "dataset_version": version.pk, "target": "price", "spec": {**LINEAR, **spec}}
    if field == "objective":
        body["spec"]["problem_type"] = "regression"
    response = api_for(ds_user).post("/api/tuning/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()
    assert not TuningJob.objects.exists()


def test_bad_target_warm_start_and_access(api_for, ds_user, labeler_user, outsider, project_a):
    api = api_for(ds_user)
    version = make_version(project_a, ds_user, regression_frame(), name="houses")
    body = {"project": project_a.pk, "dataset_version": version.pk, "target": "nope", "spec": LINEAR}
    response = api.post("/api/tuning/", body, format="json")
    assert response.status_code == 400 and "nope" in str(response.json()["errors"])
    response = api.post("/api/tuning/", {**body, "target": "price", "warm_start_from": [999999]}, format="json")
    assert response.status_code == 400 and "warm_start_from" in response.json()["errors"]
    assert api_for(labeler_user).post("/api/tuning/", {**body, "target": "price"}, format="json").status_code == 403
    assert api_for(outsider).post("/api/tuning/", {**body, "target": "price"}, format="json").status_code in (403, 404)
    ranges = api.get("/api/tuning/ranges/", {"algorithm": "lightgbm", "problem_type": "binary"})
    assert ranges.status_code == 200 and "learning_rate" in ranges.json()["ranges"]
    bad = api.get("/api/tuning/ranges/", {"algorithm": "svm", "problem_type": "binary"})
    assert bad.status_code == 400 and "algorithm" in bad.json()["errors"]
