"""Clarify pages: the list with its empty states and the start form (pickers from the version's schema, errors next
to their field, values kept as written), the report page (metrics per facet with meaning and flags, what kind of
bias, charts, downloads), thresholds and mitigation with Post/Redirect/Get, the "Check bias" box on the dataset,
build and registry version pages, and who may see what (labeler 403, another project 404)."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pandas as pd
from django.utils.html import escape

from apps.clarify import services
from apps.clarify.engine.bias import METRICS
from apps.clarify.models import ClarifyReport
from tests.factories import make_version

HOSTILE = "<script>alert(1)</script>"


def loans_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """A loan dataset biased against gender "F": approval "Yes"/"No", a numeric age, a region group."""
    rng = np.random.default_rng(seed)
    gender = rng.choice(["M", "F"], size=n, p=[0.7, 0.3])
    age = rng.integers(18, 70, size=n)
    income = rng.normal(50, 15, size=n).round(2)
    region = rng.choice(["north", "south"], size=n)
    p = np.where(gender == "F", 0.3, 0.6)
    approved = np.where(rng.random(n) < p, "Yes", "No")
    return pd.DataFrame({"gender": gender, "age": age, "income": income, "region": region, "approved": approved})


CONFIG = {
    "label": "approved",
    "positive_label_values": ["Yes"],
    "label_threshold": None,
    "facets": [{"name": "gender", "values": ["F"], "threshold": None}],
    "group": None,
    "reference": None,
    "probability_threshold": 0.5,
    "explain": {"shap": False, "pdp_features": 0, "pdp_pairs": []},
}


def _report(project: Any, user: Any, version: Any, run_job: Any = None, **extra: Any) -> ClarifyReport:
    """A report started by the service; its job run here when `run_job` is given (else it stays queued)."""
    config = {**CONFIG, **extra.pop("config", {})}
    report = services.report_start(project=project, created_by=user, dataset_version=version, config=config, **extra)
    if run_job is not None:
        job = run_job(report.job)
        assert job.status == "succeeded", (job.message, job.error)
        report.refresh_from_db()
    return report


def _figure(html: str, name: str) -> dict:
    match = re.search(rf'<script id="fig-{name}" type="application/json">(.*?)</script>', html, re.S)
    assert match, f"no figure {name}"
    return json.loads(match.group(1))


def _start_data(version: Any, **over: Any) -> dict[str, Any]:
    data = {
        "dataset_version": version.pk,
        "label": "approved",
        "label_values": ["Yes"],
        "facet_1": "gender",
        "facet_1_values": ["F"],
        "explain": "on",
        "pdp_features": "5",
        "probability_threshold": "0.5",
    }
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


# --- the list and the start form ---------------------------------------------------------------------------------


def test_empty_states_and_the_nav_entry(client_for, ds_user, project_a, media) -> None:
    html = client_for(ds_user).get("/clarify/").content.decode()
    assert "No data yet" in html and "No bias reports yet" in html and 'id="report-form"' not in html
    assert 'href="/clarify/"' in html  # the sidebar entry under Build
    make_version(project_a, ds_user, loans_frame(), name="loans")
    html = client_for(ds_user).get("/clarify/").content.decode()
    assert 'id="report-form"' in html and "No bias reports yet" in html


def test_pickers_come_from_the_schema(client_for, ds_user, project_a, media) -> None:
    version = make_version(project_a, ds_user, loans_frame(), name="loans")
    html = client_for(ds_user).get(f"/clarify/?version={version.pk}").content.decode()
    label = re.search(r'<select name="label"[^>]*>(.*?)</select>', html, re.S).group(1)  # type: ignore[union-attr]
    assert re.findall(r'<option value="([^"]*)"', label) == ["", "gender", "age", "income", "region", "approved"]
    # a column with few values: its whole list in the value picker, as written in the data
    values = re.search(r'<select name="label_values"[^>]*>(.*?)</select>', html, re.S).group(1)  # type: ignore[union-attr]
    assert '<optgroup label="approved" data-column="approved">' in values
    assert '<option value="Yes">Yes</option>' in values and '<option value="No">No</option>' in values
    assert 'data-column="age"' not in values  # a numeric column with many values: a threshold instead
    assert 'name="facet_1_threshold"' in html and 'name="facet_3"' in html


def test_start_keeps_values_as_written_and_redirects(client_for, ds_user, project_a, media) -> None:
    version = make_version(project_a, ds_user, loans_frame(), name="loans")
    r = client_for(ds_user).post(
        "/clarify/",
        _start_data(
            version,
            facet_2="age",
            facet_2_threshold="40",
            group="region",
            pair_1_a="income",  # a 2-feature partial dependence needs a model: not sent without one
            pair_1_b="age",
            name="Loans by gender",
        ),
    )
    assert r.status_code == 302
    report = ClarifyReport.objects.get()
    assert r["Location"] == f"/clarify/{report.pk}/"
    assert report.name == "Loans by gender" and report.dataset_version == version
    c = report.config
    assert c["label"] == "approved" and c["positive_label_values"] == ["Yes"] and c["label_threshold"] is None
    assert c["facets"] == [
        {"name": "gender", "values": ["F"], "threshold": None},
        {"name": "age", "values": [], "threshold": 40.0},
    ]
    assert c["group"] == "region" and c["reference"] is None
    assert c["explain"]["pdp_pairs"] == []


def test_the_form_shows_errors_next_to_their_field(client_for, ds_user, project_a, media) -> None:
    version = make_version(project_a, ds_user, loans_frame(), name="loans")
    client = client_for(ds_user)
    r = client.post("/clarify/", _start_data(version, label="", facet_1=""))
    assert r.status_code == 400
    html = r.content.decode()
    assert re.search(r'id="label-error"[^>]*>Choose the label column\.', html)
    assert re.search(r'id="facet_1-error"[^>]*>Choose at least one facet column\.', html)
    r = client.post("/clarify/", _start_data(version, label_values=None))
    assert re.search(
        r'id="label_values-error"[^>]*>Pick the positive label value\(s\) or give a threshold', r.content.decode()
    )
    r = client.post("/clarify/", _start_data(version, facet_1_threshold="abc", facet_2="gender"))
    html = r.content.decode()
    assert r.status_code == 400
    assert re.search(r'id="facet_1_threshold-error"[^>]*>&#x27;abc&#x27; is not a number', html)
    assert re.search(r'id="facet_2-error"[^>]*>&#x27;gender&#x27; is already a facet', html)
    assert '<option value="F" selected>F</option>' in html  # the choice is kept
    r = client.post("/clarify/", _start_data(version, pair_1_a="income"))
    assert re.search(r'id="pair_1_a-error"[^>]*>Choose both features of the pair', r.content.decode())
    # the service's check of the data comes back next to the field it names
    r = client.post("/clarify/", _start_data(version, label="ghost"))
    assert r.status_code == 400 and 'id="label-error"' in r.content.decode()
    assert ClarifyReport.objects.count() == 0


def test_a_check_bias_link_prefills_the_form(client_for, ds_user, mlops_user, project_a, media) -> None:
    from tests.factories import binary_model, register

    version = make_version(project_a, ds_user, loans_frame(), name="loans")
    html = client_for(ds_user).get(f"/clarify/?version={version.pk}").content.decode()
    assert f'<option value="{version.pk}" selected>loans v1' in html
    mv = register(project_a, mlops_user, binary_model(), approve_by=mlops_user)
    html = client_for(ds_user).get(f"/clarify/?model_version={mv.pk}").content.decode()
    assert 'id="picked-model"' in html
    assert f'<option value="mv:{mv.pk}" selected>' in html


# --- the report page -------------------------------------------------------------------------------------------


def test_report_page_shows_metrics_meaning_flags_and_bias_kinds(client_for, ds_user, project_a, media, run_job) -> None:
    frame = loans_frame()
    version = make_version(project_a, ds_user, frame, name="loans")
    report = _report(project_a, ds_user, version, run_job)
    html = client_for(ds_user).get(f"/clarify/{report.pk}/").content.decode()
    table = re.search(r'<table class="metric-table" data-facet="gender" data-value="F">(.*?)</table>', html, re.S)
    assert table, "no table for gender = F"
    expected = {
        m["name"]: m["value"] for m in report.analysis["pre_training_bias_metrics"]["facets"]["gender"][0]["metrics"]
    }
    for name in ("CI", "DPL", "KL", "JS", "LP", "TVD", "KS"):
        assert f'data-metric="{name}"' in table.group(1)
    dpl = re.search(r'data-metric="DPL"(.*?)</tr>', table.group(1), re.S).group(1)  # type: ignore[union-attr]
    assert f"{expected['DPL']:.4g}" in dpl and "flagged" in dpl  # 0.6 vs 0.3 approval: far past its default
    meaning = METRICS["DPL"].meaning
    assert meaning and escape(meaning) in dpl
    assert "pre-training" in dpl
    rates = _figure(html, "rates-0")
    assert rates["data"][0]["x"] == ["M", "F"] or rates["data"][0]["x"] == ["F", "M"]
    by_value = dict(zip(rates["data"][0]["x"], rates["data"][0]["y"], strict=True))
    observed = frame.groupby("gender")["approved"].apply(lambda s: (s == "Yes").mean())
    assert abs(by_value["F"] - observed["F"]) < 1e-12 and abs(by_value["M"] - observed["M"]) < 1e-12
    assert 'id="download-analysis"' in html and f"/api/clarify/reports/{report.pk}/analysis.json" in html
    assert 'id="bias-kinds"' in html and "Out of scope for automated checks" in html
    assert "the report has no trusted reference column" in html
    assert 'id="thresholds-form"' in html and 'id="mitigation-form"' in html


def test_thresholds_are_set_with_post_redirect_get(client_for, ds_user, project_a, media, run_job) -> None:
    version = make_version(project_a, ds_user, loans_frame(), name="loans")
    report = _report(project_a, ds_user, version, run_job)
    client = client_for(ds_user)
    r = client.post(f"/clarify/{report.pk}/thresholds/", {"t_DPL": "0.9", "t_CI": ""})
    assert r.status_code == 302 and r["Location"] == f"/clarify/{report.pk}/#thresholds"
    report.refresh_from_db()
    assert report.thresholds.get("DPL") == 0.9 and "CI" not in report.thresholds
    html = client.get(r["Location"]).content.decode()
    dpl = re.search(r'data-metric="DPL"(.*?)</tr>', html, re.S).group(1)  # type: ignore[union-attr]
    assert "passes" in dpl and "flagged" not in dpl  # the user's threshold in force
    assert 'name="t_DPL" id="id_t_DPL" value="0.9"' in html
    r = client.post(f"/clarify/{report.pk}/thresholds/", {"t_DPL": "lots"})
    assert r.status_code == 400
    assert re.search(r'id="t_DPL-error"[^>]*>&#x27;lots&#x27; is not a number', r.content.decode())
    r = client.post(f"/clarify/{report.pk}/thresholds/", {"t_DPL": "-1"})  # the service's rule, shown on the page
    assert r.status_code == 400 and "DPL: the threshold must be a number of 0 or more" in r.content.decode()
    r = client.post(f"/clarify/{report.pk}/thresholds/", {"t_DPL": ""})  # emptied: back to the default
    assert r.status_code == 302
    report.refresh_from_db()
    assert "DPL" not in report.thresholds


def test_mitigation_starts_an_after_report(client_for, ds_user, project_a, media, run_job) -> None:
    version = make_version(project_a, ds_user, loans_frame(), name="loans")
    report = _report(project_a, ds_user, version, run_job)
    client = client_for(ds_user)
    html = client.get(f"/clarify/{report.pk}/").content.decode()
    kinds = re.search(r'<select name="kind"[^>]*>(.*?)</select>', html, re.S).group(1)  # type: ignore[union-attr]
    assert re.findall(r'value="([^"]+)"', kinds) == ["reweigh", "resample"]  # no model: only the data can change
    r = client.post(f"/clarify/{report.pk}/mitigate/", {"kind": "exponentiated_gradient", "facet": "gender"})
    assert r.status_code == 400  # not offered without a model
    r = client.post(f"/clarify/{report.pk}/mitigate/", {"kind": "reweigh", "facet": "gender"})
    assert r.status_code == 302
    after = ClarifyReport.objects.get(parent=report)
    assert r["Location"] == f"/clarify/{after.pk}/" and after.mitigation == "reweigh"
    html = client.get(f"/clarify/{report.pk}/").content.decode()
    assert 'id="after-reports"' in html and f'href="/clarify/{after.pk}/"' in html


def test_running_report_shows_live_progress(client_for, ds_user, project_a, media) -> None:
    version = make_version(project_a, ds_user, loans_frame(), name="loans")
    report = _report(project_a, ds_user, version)  # its job queued, not run
    job = report.job
    html = client_for(ds_user).get(f"/clarify/{report.pk}/").content.decode()
    assert f'data-live-jobs="job:{job.pk}"' in html and f'data-job-final-reload="{job.pk}"' in html
    assert 'id="metrics"' not in html and 'id="download-analysis"' not in html


def test_hostile_names_are_escaped(client_for, ds_user, project_a, media, run_job) -> None:
    frame = loans_frame().rename(columns={"gender": HOSTILE})
    version = make_version(project_a, ds_user, frame, name="loans")
    config = {"facets": [{"name": HOSTILE, "values": ["F"], "threshold": None}]}
    report = _report(project_a, ds_user, version, run_job, config=config, name=HOSTILE)
    for url in ("/clarify/", f"/clarify/?version={version.pk}", f"/clarify/{report.pk}/"):
        html = client_for(ds_user).get(url).content.decode()
        assert HOSTILE not in html
    assert "&lt;script&gt;" in _figure(html, "rates-0")["layout"]["title"]["text"]


# --- who may see what ------------------------------------------------------------------------------------------


def test_mlops_reads_labeler_is_refused_another_project_is_404(
    client_for, ds_user, mlops_user, labeler_user, outsider, project_a, media, run_job
) -> None:
    version = make_version(project_a, ds_user, loans_frame(), name="loans")
    report = _report(project_a, ds_user, version, run_job)
    assert client_for(mlops_user).get(f"/clarify/{report.pk}/").status_code == 200
    assert client_for(mlops_user).get("/clarify/").status_code == 200
    labeler = client_for(labeler_user)
    for url in ("/clarify/", f"/clarify/{report.pk}/"):
        assert labeler.get(url).status_code == 403
    assert labeler.post(f"/clarify/{report.pk}/thresholds/", {"t_DPL": "1"}).status_code == 403
    assert labeler.post(f"/clarify/{report.pk}/mitigate/", {"kind": "reweigh", "facet": "gender"}).status_code == 403
    other = client_for(outsider)
    assert other.get(f"/clarify/{report.pk}/").status_code == 404
    assert other.post(f"/clarify/{report.pk}/thresholds/", {"t_DPL": "1"}).status_code == 404
    assert other.get(f"/clarify/?version={version.pk}").status_code == 404
    report.refresh_from_db()
    assert report.thresholds == {}


# --- "Check bias" on the dataset, build and registry version pages ---------------------------------------------


def test_check_bias_on_the_dataset_and_registry_pages(client_for, ds_user, mlops_user, project_a, media) -> None:
    from tests.factories import binary_model, register

    version = make_version(project_a, ds_user, loans_frame(), name="loans")
    report = _report(project_a, ds_user, version, name="Gender check")
    html = client_for(ds_user).get(f"/data/datasets/{version.dataset_id}/").content.decode()
    assert f'href="/clarify/?version={version.pk}#report-setup"' in html
    assert f'href="/clarify/{report.pk}/">Gender check</a>' in html
    mv = register(project_a, mlops_user, binary_model(), approve_by=mlops_user)
    html = client_for(mlops_user).get(f"/registry/versions/{mv.pk}/").content.decode()
    assert f'href="/clarify/?model_version={mv.pk}#report-setup"' in html and "No bias report yet" in html


def test_check_bias_on_the_build_page(client_for, ds_user, project_a, media) -> None:
    from tests.factories import binary_frame, trained_build

    build = trained_build(project_a, ds_user, binary_frame(60), "churn", budget=15.0)
    html = client_for(ds_user).get(f"/canvas/builds/{build.pk}/").content.decode()
    assert f'href="/clarify/?build={build.pk}#report-setup"' in html
    html = client_for(ds_user).get(f"/clarify/?build={build.pk}").content.decode()
    assert f'value="build:{build.pk}:{build.best_candidate}" selected' in html
    assert '<option value="churn" selected>churn</option>' in html  # the build's target as the label
