"""Selecting a leaderboard candidate other than the best: the API starts a job that refits it on all rows (a REAL
Celery worker runs it), the candidate's signed model then serves predictions, batch predictions and registration,
and its own analysis is shown on the build page. Also: the best and fitted candidates are selected at once, bad
input is a 400 naming the candidate, and who may select what."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from apps.automl import charts, engine, services
from apps.automl.models import AutomlBuild, AutomlCandidateModel
from apps.datasets.models import DatasetVersion
from apps.jobs.choices import JobStatus
from apps.jobs.models import Job
from apps.registry.models import ModelVersion
from tests.conftest import clean_project_storage, job_final
from tests.factories import binary_frame, make_version, trained_build

ROW = {"x1": 0.3, "x2": 0.1, "colour": "green"}


def _other(build: AutomlBuild) -> dict[str, Any]:
    """A non-best, non-blend leaderboard entry, of another algorithm than the best when there is one."""
    best = next(e for e in build.leaderboard if e["name"] == build.best_candidate)
    others = [e for e in build.leaderboard if not e["best"] and e["algorithm"] != "ensemble"]
    assert others, build.leaderboard
    return next((e for e in others if e["algorithm"] != best["algorithm"]), others[0])


# --- through a real worker ---------------------------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.xdist_group("worker")
def test_a_non_best_candidate_is_refitted_by_a_real_worker_then_serves_predictions_and_registration(
    start_worker, api_for, ds_user, labeler_user, outsider, project_a
) -> None:
    clean_project_storage(project_a)
    api = api_for(ds_user)
    version = make_version(project_a, ds_user, binary_frame())
    r = api.post(
        "/api/automl/",
        {
            "project": project_a.pk,
            "dataset_version": version.pk,
            "target": "churn",
            "mode": "quick",
            "time_budget_s": 5,
        },
        format="json",
    )
    assert r.status_code == 202, r.content
    build_id = r.json()["id"]
    worker = start_worker()
    try:
        job = job_final(r.json()["job"])
        assert job.status == JobStatus.SUCCEEDED, (job.message, job.error)
        worker.stop()  # the fit job waits in the broker while we select twice
        build = AutomlBuild.objects.get(pk=build_id)
        best, entry = build.best_candidate, _other(build)
        name = entry["name"]
        url = f"/api/automl/{build.pk}/select/"

        assert api_for(labeler_user).post(url, {"candidate": name}, format="json").status_code == 403
        assert api_for(outsider).post(url, {"candidate": name}, format="json").status_code == 404
        bad = api.post(url, {"candidate": "nope-7"}, format="json")
        assert bad.status_code == 400
        assert "nope-7" in bad.json()["errors"]["candidate"][0] and "nope-7" in bad.json()["detail"]

        r = api.post(url, {"candidate": name}, format="json")
        assert r.status_code == 202, r.content
        assert r.json()["candidate"] == name
        fit_job = Job.objects.get(pk=r.json()["job"])
        assert (fit_job.kind, fit_job.params) == ("automl.fit_candidate", {"build": build.pk, "candidate": name})
        again = api.post(url, {"candidate": name}, format="json")
        assert again.status_code == 202 and again.json()["job"] == fit_job.pk  # not a second job
        assert AutomlCandidateModel.objects.filter(build=build).count() == 1
        detail = api.get(f"/api/automl/{build.pk}/").json()
        assert detail["fitting"] == {name: fit_job.pk} and detail["fitted"] == [best]
        assert detail["selected"] == best

        start_worker()
        fit_job = job_final(fit_job.pk)
        assert fit_job.status == JobStatus.SUCCEEDED, (fit_job.message, fit_job.error)
        build.refresh_from_db()
        assert build.selected_candidate == name
        row = AutomlCandidateModel.objects.get(build=build, name=name)
        assert row.job_id == fit_job.pk and row.report["best"] == name
        assert row.report["validation"]["method"] == build.report["validation"]["method"]
        assert row.artifact.kind == "automl.model" and len(row.artifact.sha256) == 64
        assert row.artifact.meta == {"build": build.pk, "candidate": name}
        assert row.artifact.pk != build.artifact_id

        # Predictions come from the candidate's own (verified) model, not the best's.
        model = services.load_build_model(build=build)
        assert [m.algorithm for m in model.members] == [entry["algorithm"]]
        best_model = services.load_build_model(build=build, candidate=best)
        out = api.post(f"/api/automl/{build.pk}/predict/", {"rows": [ROW]}, format="json")
        assert out.status_code == 200, out.content
        assert out.json() == engine.predict(model, [ROW])
        assert out.json()["probabilities"] != engine.predict(best_model, [ROW])["probabilities"]
        detail = api.get(f"/api/automl/{build.pk}/").json()
        assert detail["selected"] == name and detail["fitted"] == [best, name] and detail["fitting"] == {}

        # Registering records that candidate: its artifact, parameters, metrics and schema.
        r = api.post(f"/api/automl/{build.pk}/register/", {"name": "churn-alt"}, format="json")
        assert r.status_code == 201, r.content
        registered = ModelVersion.objects.get(pk=r.json()["id"])
        assert (registered.candidate, registered.artifact_id) == (name, row.artifact_id)
        assert registered.hyperparameters == entry["params"]
        assert registered.metrics == row.report["leaderboard"][0]["metrics"] and "roc_auc" in registered.metrics
        assert [i["name"] for i in registered.signature["inputs"]] == [
            f["name"] for f in row.report["schema"]["features"]
        ]

        # A batch prediction uses the selected candidate too.
        r = api.post(f"/api/automl/{build.pk}/batch-predict/", {"dataset_version": version.pk}, format="json")
        assert r.status_code == 202, r.content
        batch = job_final(r.json()["job"])
        assert batch.status == JobStatus.SUCCEEDED, (batch.message, batch.error)
        assert DatasetVersion.objects.get(pk=batch.result["dataset_version"]).source["candidate"] == name

        # The best, and the now fitted candidate, are selected at once (no new job).
        r = api.post(url, {"candidate": best}, format="json")
        assert r.status_code == 200 and r.json()["selected"] == best
        out = api.post(f"/api/automl/{build.pk}/predict/", {"rows": [ROW]}, format="json").json()
        assert out == engine.predict(best_model, [ROW])
        r = api.post(url, {"candidate": name}, format="json")
        assert r.status_code == 200 and r.json()["selected"] == name
        assert Job.objects.filter(kind="automl.fit_candidate").count() == 1
    finally:
        clean_project_storage(project_a)


# --- in process -------------------------------------------------------------------------------------------------


def test_select_refuses_bad_input_with_clear_words(project_a, ds_user, media) -> None:
    build = trained_build(project_a, ds_user, binary_frame(), "churn")
    unfinished = AutomlBuild.objects.create(project=project_a, dataset_version=build.dataset_version, target="churn")
    with pytest.raises(ValidationError) as err:
        services.automl_candidate_select(build=unfinished, candidate="linear-1", created_by=ds_user)
    assert "not finished" in err.value.message_dict["candidate"][0]
    with pytest.raises(ValidationError) as err:
        services.automl_candidate_select(build=build, candidate="", created_by=ds_user)
    assert "Choose a candidate" in err.value.message_dict["candidate"][0]
    with pytest.raises(ValidationError) as err:
        services.automl_candidate_select(build=build, candidate="nope-3", created_by=ds_user)
    assert "nope-3" in err.value.message_dict["candidate"][0]
    assert build.best_candidate in err.value.message_dict["candidate"][0]  # names the ones there are
    # A blend that is not the best cannot be fitted on its own.
    report = dict(build.report)
    report["leaderboard"] = [*report["leaderboard"], {"name": "ensemble-2", "algorithm": "ensemble", "best": False}]
    build.report = report
    build.save()
    with pytest.raises(ValidationError) as err:
        services.automl_candidate_select(build=build, candidate="ensemble-2", created_by=ds_user)
    assert "blend" in err.value.message_dict["candidate"][0]
    # Predicting or registering a candidate that was never refitted names it.
    other = _other(build)["name"]
    with pytest.raises(ValidationError) as err:
        services.automl_register(build=build, created_by=ds_user, candidate=other)
    assert other in err.value.message_dict["candidate"][0]
    assert not AutomlCandidateModel.objects.exists() and not Job.objects.exists()


def test_the_fit_job_is_idempotent_and_a_failed_fit_can_be_retried(project_a, ds_user, media, run_job) -> None:
    build = trained_build(project_a, ds_user, binary_frame(), "churn")
    name = _other(build)["name"]
    first = services.automl_candidate_select(build=build, candidate=name, created_by=ds_user).job
    assert first is not None
    Job.objects.filter(pk=first.pk).update(status=JobStatus.FAILED)  # e.g. the worker died twice
    retry = services.automl_candidate_select(build=build, candidate=name, created_by=ds_user).job
    assert retry is not None and retry.pk != first.pk
    assert AutomlCandidateModel.objects.get(build=build, name=name).job_id == retry.pk
    assert run_job(retry).status == JobStatus.SUCCEEDED
    row = AutomlCandidateModel.objects.get(build=build, name=name)
    artifact = row.artifact_id
    assert artifact and row.report["best"] == name
    build.refresh_from_db()
    assert build.selected_candidate == name
    # A redelivery of the same job changes nothing.
    from apps.jobs.runtime import JobContext

    assert services.automl_candidate_fit_run(JobContext(Job.objects.get(pk=retry.pk))) == {
        "build": build.pk,
        "candidate": name,
    }
    assert AutomlCandidateModel.objects.get(pk=row.pk).artifact_id == artifact
    assert services.automl_predict(build=build, rows=[ROW]) == engine.predict(
        services.load_build_model(build=build, candidate=name), [ROW]
    )


def test_leaderboard_select_buttons_fit_progress_and_the_selected_candidates_analysis(
    client_for, ds_user, project_a, media, run_job
) -> None:
    build = trained_build(project_a, ds_user, binary_frame(), "churn")
    entry = _other(build)
    name = entry["name"]
    client = client_for(ds_user)
    page = f"/canvas/builds/{build.pk}/"
    html = client.get(page).content.decode()
    selectable = [e["name"] for e in build.leaderboard if e["name"] != build.best_candidate]
    for candidate in selectable:
        assert f'name="candidate" value="{candidate}"' in html
    assert f'name="candidate" value="{build.best_candidate}"' not in html  # already the chosen one
    assert "not kept" not in html
    assert f"These charts describe <strong>{build.best_candidate}</strong>, the best candidate" in html

    r = client.post(f"/canvas/builds/{build.pk}/select/", {"candidate": name}, follow=True)
    job = Job.objects.get(kind="automl.fit_candidate")
    html = r.content.decode()
    assert f'Job <a href="/jobs/{job.pk}/">#{job.pk}</a> started to refit {name} on all rows' in html
    assert f'data-live-jobs="job:{job.pk}"' in html and f'data-job-final-reload="{job.pk}"' in html
    assert f'class="job-progress" data-job-id="{job.pk}"' in html
    assert f'name="candidate" value="{name}"' not in html  # no second Select while it refits

    assert run_job(job).status == JobStatus.SUCCEEDED
    html = client.get(page).content.decode()
    assert f'data-live-jobs="job:{job.pk}"' not in html
    assert '<span class="badge running">selected</span>' in html.split(f'data-candidate="{name}"')[1].split("</tr>")[0]
    assert f"These charts describe <strong>{name}</strong>, the selected candidate" in html
    assert 'id="chart-importance"' in html and 'id="chart-roc"' in html
    assert f'<strong id="whatif-candidate">{name}</strong>' in html
    assert f'name="candidate" value="{build.best_candidate}"' in html  # the best can be selected back
    assert f"Register {name}" in html
    # The charts are drawn from the candidate's own analysis, not the build's.
    row = AutomlCandidateModel.objects.get(build=build, name=name)
    shown = json.loads(re.search(r'<script id="fig-roc" type="application/json">(.*?)</script>', html, re.S).group(1))
    own, best = (json.loads(json.dumps(dict(charts.analysis_figures(r))["roc"])) for r in (row.report, build.report))
    assert shown == own and shown != best
