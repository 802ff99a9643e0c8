"""Canvas pages: the setup form with its checklist step (errors block, warnings shown), the build page with the
leaderboard, charts and what-if form, empty and failure states, and pinned query counts on the list page."""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.automl.models import AutomlBuild
from apps.jobs.models import Job
from tests.factories import binary_frame, make_version, regression_frame, trained_build


def test_empty_states(client_for, ds_user, project_a, media) -> None:
    html = client_for(ds_user).get("/canvas/").content.decode()
    assert "No data yet" in html and "No builds yet" in html


def test_check_step_shows_errors_and_blocks_the_start(client_for, ds_user, project_a, media) -> None:
    frame = binary_frame(12)
    frame["churn"] = "yes"
    version = make_version(project_a, ds_user, frame)
    client = client_for(ds_user)
    form = {"dataset_version": version.pk, "target": "churn", "mode": "quick", "seed": 0}
    r = client.post("/canvas/", {**form, "action": "check"}, follow=True)
    html = r.content.decode()
    assert r.status_code == 200
    assert 'id="checks-blocked"' in html and "a single value" in html and "at least 20" in html
    assert re.search(r'id="start-build"[^>]*disabled', html)
    r = client.post("/canvas/", {**form, "action": "start"})
    assert r.status_code == 400 and "The build cannot start" in r.content.decode()
    assert AutomlBuild.objects.count() == 0


def test_check_step_shows_warnings_then_start_redirects(client_for, ds_user, project_a, media) -> None:
    frame = binary_frame(60)
    version = make_version(project_a, ds_user, frame)
    client = client_for(ds_user)
    form = {"dataset_version": version.pk, "target": "churn", "mode": "quick", "time_budget_s": 5, "seed": 3}
    html = client.post("/canvas/", {**form, "action": "check"}, follow=True).content.decode()
    assert "few_rows" in html and 'id="checks-blocked"' not in html
    r = client.post("/canvas/", {**form, "action": "start"})
    build = AutomlBuild.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/canvas/builds/{build.pk}/"
    assert (build.seed, build.time_budget_s) == (3, 5.0)
    html = client.get(r["Location"]).content.decode()
    assert f'data-live-jobs="job:{build.job_id}"' in html and 'id="history-chart"' in html


def test_build_page_shows_leaderboard_charts_and_whatif(client_for, ds_user, project_a, media) -> None:
    build = trained_build(project_a, ds_user, binary_frame(), "churn")
    html = client_for(ds_user).get(f"/canvas/builds/{build.pk}/").content.decode()
    for name in ("importance", "confusion", "roc", "pr"):
        assert f'id="chart-{name}"' in html
    roc = json.loads(re.search(r'<script id="fig-roc" type="application/json">(.*?)</script>', html, re.S).group(1))
    assert roc["data"][0]["x"][0] == 0.0 and "AUC" in roc["data"][0]["name"]
    assert 'id="chart-residuals"' not in html
    rows = re.findall(r'data-candidate="([^"]+)"', html)
    assert rows == [e["name"] for e in build.leaderboard]
    assert f'{build.best_candidate} <span class="badge succeeded">best</span>' in html
    assert 'data-column="x1"' in html and 'data-column="colour"' in html
    typical = build.report["typical_values"]["colour"]
    # labels are chosen from the training values (the typical one selected), numbers typed into number inputs
    assert '<select id="wi-3" data-column="colour" data-kind="categorical">' in html
    assert f'<option value="{typical}" selected>{typical}</option>' in html
    assert {"red", "green", "blue"} <= set(re.findall(r'<option value="(\w+)"', html))
    assert 'data-column="x1" data-kind="numeric" type="number" step="any"' in html


def test_regression_page_has_residual_charts(client_for, ds_user, project_a, media) -> None:
    build = trained_build(project_a, ds_user, regression_frame(), "price")
    html = client_for(ds_user).get(f"/canvas/builds/{build.pk}/").content.decode()
    assert 'id="chart-residuals"' in html and 'id="chart-error-density"' in html and 'id="chart-roc"' not in html


def test_failed_build_shows_its_message(client_for, ds_user, project_a, media) -> None:
    version = make_version(project_a, ds_user, binary_frame())
    job = Job.objects.create(
        kind="automl.build",
        project=project_a,
        status="failed",
        message="Failed.",
        error="The build failed: no candidate finished within the time budget.",
    )
    build = AutomlBuild.objects.create(project=project_a, dataset_version=version, target="churn", job=job)
    html = client_for(ds_user).get(f"/canvas/builds/{build.pk}/").content.decode()
    assert "no candidate finished within the time budget" in html and "No leaderboard" in html


def test_register_and_select_from_the_page(client_for, ds_user, project_a, media) -> None:
    build = trained_build(project_a, ds_user, binary_frame(), "churn")
    client = client_for(ds_user)
    r = client.post(f"/canvas/builds/{build.pk}/register/", {"name": "churn model"}, follow=True)
    assert "not a valid model group name" in r.content.decode()  # SageMaker's rule: no spaces
    r = client.post(f"/canvas/builds/{build.pk}/register/", {"name": "churn-model"}, follow=True)
    html = r.content.decode()
    assert "Registered churn-model v1 in the Model Registry, pending approval" in html
    assert 'id="registered-versions"' in html and "/registry/" in html  # links to the registry's version page
    r = client.post(f"/canvas/builds/{build.pk}/select/", {"candidate": "nope"}, follow=True)
    assert "No candidate &#x27;nope&#x27;" in r.content.decode()


@pytest.mark.parametrize("n", [1, 5])
def test_list_page_query_count_is_pinned(client_for, ds_user, project_a, media, n) -> None:
    version = make_version(project_a, ds_user, binary_frame())
    for i in range(n):
        job = Job.objects.create(kind="automl.build", project=project_a, status="running")
        AutomlBuild.objects.create(project=project_a, dataset_version=version, target="churn", name=f"b{i}", job=job)
    client = client_for(ds_user)
    client.get("/canvas/")
    with CaptureQueriesContext(connection) as queries:
        r = client.get("/canvas/")
    assert r.status_code == 200 and r.content.decode().count('class="badge running"') == n
    assert len(queries) == 11, [q["sql"] for q in queries]


def _target_options(html: str) -> list[str]:
    select = re.search(r'<select name="target".*?</select>', html, re.S)
    assert select is not None
    return [v for v in re.findall(r'<option value="([^"]*)"', select.group(0)) if v]


def test_target_select_lists_only_the_chosen_versions_columns(client_for, ds_user, project_a, media) -> None:
    churn = make_version(project_a, ds_user, binary_frame(60), name="customers")
    houses = make_version(project_a, ds_user, regression_frame(60), name="houses")
    client = client_for(ds_user)
    for url in ("/canvas/", "/canvas/tuning/"):
        html = client.get(url).content.decode()
        assert "{#" not in html and "#}" not in html, "no template comment leaks into the page"
        # the versions are listed by dataset name: customers first, so its columns only
        assert _target_options(html) == churn.column_names, url
        found = re.search(r'<script id="version-columns" type="application/json">(.*?)</script>', html, re.S)
        columns = json.loads(found.group(1))  # what the script refills the select from
        assert [c["name"] for c in columns[str(houses.pk)]] == houses.column_names
    html = client.get(f"/canvas/?dataset_version={houses.pk}").content.decode()
    assert _target_options(html) == houses.column_names, "?dataset_version= preselects the version and its columns"


def test_target_of_another_version_is_refused_naming_it(client_for, ds_user, project_a, media) -> None:
    churn = make_version(project_a, ds_user, binary_frame(60), name="customers")
    make_version(project_a, ds_user, regression_frame(60), name="houses")
    client = client_for(ds_user)
    form = {"dataset_version": churn.pk, "target": "price", "mode": "quick", "seed": 0, "action": "start"}
    r = client.post("/canvas/", form)
    html = r.content.decode()
    assert r.status_code == 400 and AutomlBuild.objects.count() == 0
    assert "&#x27;price&#x27; is not a column of customers v1; choose one of that version&#x27;s columns." in html
    assert _target_options(html) == churn.column_names, "the page shows the posted version's columns again"
    tuning = {"dataset_version": churn.pk, "target": "price", "algorithm": "random_forest", "strategy": "random"}
    r = client.post("/canvas/tuning/", {**tuning, "max_trials": 2, "max_parallel": 1, "seed": 0})
    assert r.status_code == 400 and "&#x27;price&#x27; is not a column of customers v1" in r.content.decode()


def test_dataset_page_offers_build_a_model(client_for, ds_user, project_a, media) -> None:
    version = make_version(project_a, ds_user, regression_frame(60), name="houses")
    html = client_for(ds_user).get(reverse("datasets:detail", args=[version.dataset_id])).content.decode()
    link = re.search(r'<a class="btn" href="([^"]+)" id="build-model">Build a model</a>', html)
    assert link is not None and link.group(1) == f"/canvas/?dataset_version={version.pk}#build-setup"
    canvas = client_for(ds_user).get(link.group(1).split("#")[0]).content.decode()
    assert re.search(rf'<option value="{version.pk}" selected>houses v1', canvas)
    assert _target_options(canvas) == version.column_names


def test_build_a_model_opens_canvas_in_the_datasets_project(client_for, ds_user, project_a, project_b, media) -> None:
    from apps.accounts.services import membership_add

    membership_add(project=project_b, user=ds_user)
    version = make_version(project_b, ds_user, regression_frame(60), name="houses")
    client = client_for(ds_user)
    client.post(reverse("accounts:project_switch"), {"project": project_a.pk})
    canvas = client.get(reverse("automl:list"), {"dataset_version": version.pk}).content.decode()
    assert re.search(rf'<option value="{version.pk}" selected>houses v1', canvas)
    assert client.session["project_id"] == project_b.pk


def test_a_tuning_jobs_exported_build_page_renders(client_for, ds_user, project_a, media) -> None:
    """A build exported by a tuning job ran no time budget of its own (mode "tuned"): its page still draws."""
    build = trained_build(project_a, ds_user, binary_frame(80), "churn")
    AutomlBuild.objects.filter(pk=build.pk).update(mode="tuned", time_budget_s=None)
    response = client_for(ds_user).get(reverse("automl:detail", args=[build.pk]))
    assert response.status_code == 200
    assert re.search(r'<tr class="candidate', response.content.decode())
