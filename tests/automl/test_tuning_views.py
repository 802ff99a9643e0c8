"""Tuning pages: the form (defaults, errors next to the problem, 400), the list and a finished job's page with its
trial chart, best setting and exported candidate; membership and persona rules."""

from __future__ import annotations

import json

from apps.automl.models import TuningJob
from apps.automl.tuning import load_study, tuning_start
from tests.factories import make_version, regression_frame


def test_empty_list_and_form(client_for, ds_user, project_a):
    page = client_for(ds_user).get("/canvas/tuning/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "No tuning jobs yet" in html and 'id="tuning-form"' not in html  # no dataset yet: empty state
    make_version(project_a, ds_user, regression_frame(), name="houses")
    html = client_for(ds_user).get("/canvas/tuning/").content.decode()
    assert 'id="tuning-form"' in html and "Max parallel trials" in html


def test_bad_ranges_and_bad_spec_come_back_with_the_reason(client_for, ds_user, project_a):
    version = make_version(project_a, ds_user, regression_frame(), name="houses")
    form = {
        "dataset_version": version.pk,
        "target": "price",
        "algorithm": "linear",
        "strategy": "random",
        "max_trials": 5,
        "max_parallel": 1,
        "ranges": "{not json",
    }
    page = client_for(ds_user).post("/canvas/tuning/", form)
    assert page.status_code == 400 and "Not valid JSON" in page.content.decode()
    form["ranges"] = json.dumps({"<b>gamma</b>": {"type": "continuous", "min": 0, "max": 1}})
    page = client_for(ds_user).post("/canvas/tuning/", form)
    html = page.content.decode()
    assert page.status_code == 400 and "no tunable hyperparameter" in html
    assert "<b>gamma</b>" not in html and "&lt;b&gt;gamma&lt;/b&gt;" in html  # escaped
    assert not TuningJob.objects.exists()


def test_start_redirects_and_a_finished_job_page_shows_trials(client_for, ds_user, labeler_user, outsider, project_a):
    version = make_version(project_a, ds_user, regression_frame(), name="houses")
    form = {
        "dataset_version": version.pk,
        "target": "price",
        "algorithm": "linear",
        "strategy": "grid",
        "max_trials": 4,
        "max_parallel": 1,
        "ranges": "",
    }
    assert client_for(labeler_user).post("/canvas/tuning/", form).status_code == 403
    response = client_for(ds_user).post("/canvas/tuning/", form)
    assert response.status_code == 302
    job = TuningJob.objects.get()
    assert response["Location"] == f"/canvas/tuning/{job.pk}/"
    assert job.spec["ranges"] and job.strategy == "grid"  # empty ranges: the algorithm's defaults
    # a finished study summary, as the coordinator saves it
    job.summary = {
        "direction": "minimize",
        "best": {"number": 1, "params": {"alpha": 0.1}, "value": 0.5},
        "trials": [
            {
                "number": 0,
                "state": "complete",
                "params": {"alpha": 1.0},
                "value": 0.7,
                "worker": "w0",
                "metrics": None,
                "error": None,
            },
            {
                "number": 1,
                "state": "complete",
                "params": {"alpha": 0.1},
                "value": 0.5,
                "worker": "w1",
                "metrics": None,
                "error": None,
            },
            {
                "number": 2,
                "state": "pruned",
                "params": {"alpha": 9.0},
                "value": None,
                "worker": "w0",
                "metrics": None,
                "error": None,
            },
        ],
    }
    job.trials_done, job.stop_reason = 2, "max_trials"
    job.save()
    job.job.status = "succeeded"
    job.job.save()
    html = client_for(ds_user).get(f"/canvas/tuning/{job.pk}/").content.decode()
    assert 'id="trials-chart"' in html and "best so far" in html and "maximum number of trials" in html
    assert html.count('class="trial ') == 3 and "Warm start a new job" in html
    form_page = client_for(ds_user).get(f"/canvas/tuning/?warm={job.pk}").content.decode()
    assert f'value="{job.pk}" selected' in form_page
    assert client_for(outsider).get(f"/canvas/tuning/{job.pk}/").status_code == 404


def test_tuning_start_checks_the_target_and_detects_the_problem_type(ds_user, project_a):
    version = make_version(project_a, ds_user, regression_frame(), name="houses")
    job = tuning_start(
        project=project_a,
        created_by=ds_user,
        version=version,
        target="price",
        spec={"algorithm": "lightgbm", "max_trials": 3},
    )
    assert job.problem_type == "regression" and job.objective == "rmse" and job.job.kind == "automl.tune"
    assert load_study(job) is None  # the study is created by the coordinator job, not by the request


def test_only_the_most_specific_module_is_active_in_the_nav(client_for, ds_user, project_a):
    html = client_for(ds_user).get("/canvas/tuning/").content.decode()
    assert html.count('class="active"') == 1 and '<a href="/canvas/tuning/" class="active"' in html
    html = client_for(ds_user).get("/canvas/").content.decode()
    assert html.count('class="active"') == 1 and '<a href="/canvas/" class="active"' in html


def test_trial_polls_reuse_one_storage_and_still_see_new_trials(db, settings, tmp_path, monkeypatch):
    """The running job's page polls trials every few seconds: the storage is opened once per process, and what
    workers add after the first read still shows up."""
    import uuid
    from collections import OrderedDict
    from types import SimpleNamespace

    import optuna

    from apps.automl import tuning as tuning_module
    from apps.automl.engine import tuning as amt

    settings.AUTOML_TUNING_DIR = str(tmp_path)
    job = SimpleNamespace(study_name=f"poll-{uuid.uuid4().hex[:10]}")
    url = tuning_module.storage_url(job.study_name)
    worker_side = optuna.create_study(study_name=job.study_name, storage=amt.storage_for(url))
    worker_side.add_trial(optuna.trial.create_trial(params={}, distributions={}, value=1.0))
    monkeypatch.setattr(tuning_module, "_readers", OrderedDict())  # as in a fresh process
    opened = []
    real = amt.storage_for
    monkeypatch.setattr(amt, "storage_for", lambda u: opened.append(u) or real(u))
    assert len(load_study(job).trials) == 1
    worker_side.add_trial(optuna.trial.create_trial(params={}, distributions={}, value=2.0))
    assert [t.value for t in load_study(job).trials] == [1.0, 2.0]
    assert opened == [url]  # the second poll opened nothing
