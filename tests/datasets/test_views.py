"""Data Wrangler pages: upload form and live progress, dataset detail (versions, lineage, paginated table with
mini histograms), the quality report and its downloads, the SQL editor, the flow editor (forms generated from every
operator's spec, preview, add, edit, delete, run, export, analyses), and query counts on the list page."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.datasets import services
from apps.datasets.models import Dataset, DatasetVersion, Flow, FlowAnalysis, ProfileReport
from apps.datasets.transforms import operator_specs
from apps.jobs.choices import JobStatus
from apps.jobs.models import Job
from tests.datasets.conftest import csv_bytes, frame_sales, make_version, stored_files, upload

pytestmark = pytest.mark.usefixtures("media")


def html(response) -> str:
    return response.content.decode()


@pytest.fixture
def client(client_for, ds_user):
    return client_for(ds_user)


# --- datasets list and upload ------------------------------------------------------------------------------------


def test_empty_list_page_offers_the_upload_form_and_nav_entries(client):
    page = html(client.get(reverse("datasets:list")))
    assert "No datasets yet" in page
    assert 'id="upload-form"' in page and 'enctype="multipart/form-data"' in page
    for name in ("format", "delimiter", "encoding", "header", "sample_method", "sample_size", "sample_column", "seed"):
        assert f'name="{name}"' in page, name
    nav = re.findall(r'<a href="(/data/[^"]*)"[^>]*>([^<]+)</a>', page.split("</nav>")[0])
    assert nav == [("/data/datasets/", "Data Wrangler"), ("/data/sql/", "SQL"), ("/data/flows/", "Flows")]
    assert client.get("/data/").url == "/data/datasets/"


def test_upload_through_the_form_queues_an_import_and_shows_its_live_progress(client, project_a, run_job):
    response = client.post(
        reverse("datasets:list"),
        {
            "file": upload("orders.csv", csv_bytes(frame_sales(12))),
            "name": "",
            "sample_method": "first",
            "sample_size": "5",
        },
    )
    assert response.status_code == 302
    job = Job.objects.get(kind="datasets.import")
    assert response.url == f"/data/datasets/?job={job.pk}#imports"
    assert job.params["sampling"] == {"method": "first", "size": 5, "seed": 0, "column": None}
    page = html(client.get(response.url))
    assert f'data-live-jobs="project:{project_a.pk}"' in page
    assert f'class="job-progress" data-job-id="{job.pk}"' in page and f'data-job-final-reload="{job.pk}"' in page
    assert "Importing…" in page and ">orders<" in page
    assert run_job(job).status == JobStatus.SUCCEEDED
    page = html(client.get(response.url))
    dataset = Dataset.objects.get(name="orders")
    assert f'href="/data/datasets/{dataset.pk}/"' in page and "data-job-final-reload" not in page
    assert dataset.latest_version.row_count == 5


def test_upload_form_errors_are_shown(client):
    response = client.post(reverse("datasets:list"), {"name": "x", "sample_method": "random"})
    assert response.status_code == 400
    assert "This field is required." in html(response)
    response = client.post(
        reverse("datasets:list"), {"file": upload("a.csv", "a\n1\n"), "name": "x", "sample_method": "random"}
    )
    assert response.status_code == 400
    assert "Sampling &#x27;random&#x27; needs a sample size of at least 1." in html(response)
    assert Dataset.objects.count() == 0


def test_an_oversize_upload_is_refused_while_streaming(client, settings, tmp_path, project_a):
    settings.ATELIER_MAX_UPLOAD_BYTES = 10_000
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "spool")
    (tmp_path / "spool").mkdir()
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # every upload byte goes to a temp file on disk
    response = client.post(reverse("datasets:list"), {"file": upload("big.csv", "a\n" + "1\n" * 20_000), "name": "big"})
    assert response.status_code == 413
    assert "The upload is larger than the limit of 9.8 KB (10,000 bytes)" in html(response)
    assert list((tmp_path / "spool").iterdir()) == [], "the partial upload was deleted"
    assert Dataset.objects.count() == 0 and stored_files(project_a) == []


# --- dataset detail -------------------------------------------------------------------------------------------------


def test_dataset_page_shows_versions_lineage_and_a_paginated_table_with_histograms(client, project_a, ds_user):
    first = make_version(project_a, frame_sales(120), name="sales")
    child = make_version(project_a, frame_sales(5), name="derived", parents=(first,), kind="flow")
    page = html(client.get(reverse("datasets:detail", args=[first.dataset_id])))
    assert "Rows 1–50 of 120" in page
    assert page.count('<svg class="hist"') == 5
    assert re.search(r'<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="[\d.]+"><title>north: 40</title>', page)
    assert f'href="/data/datasets/{child.dataset_id}/?v={child.pk}">derived v1</a>' in page  # lineage: children
    assert 'id="next-page" href="?v=' in page and 'id="prev-page"' not in page
    rows = re.findall(r'<td class="rownum">(\d+)</td>', page)
    assert rows[0] == "1" and rows[-1] == "50"
    page = html(client.get(reverse("datasets:detail", args=[first.dataset_id]), {"v": first.pk, "offset": 100}))
    assert "Rows 101–120 of 120" in page
    assert re.findall(r'<td class="rownum">(\d+)</td>', page)[0] == "101"
    page = html(client.get(reverse("datasets:detail", args=[first.dataset_id]), {"v": first.pk, "row": 77}))
    assert "Rows 51–100 of 120" in page
    page = html(client.get(reverse("datasets:detail", args=[child.dataset_id])))
    assert f'href="/data/datasets/{first.dataset_id}/?v={first.pk}">sales v1</a>' in page  # lineage: parents
    assert f"/api/dataset-versions/{child.pk}/download/?format=csv" in page


def test_retype_form_starts_a_job_for_the_changed_columns_only(client, project_a):
    version = make_version(project_a, frame_sales(10), name="types")
    index = [c["name"] for c in version.schema].index("qty")
    data = {f"col_{i}": c["type"] for i, c in enumerate(version.schema)}
    data[f"col_{index}"] = "numeric"
    response = client.post(reverse("datasets:retype", args=[version.pk]), data)
    job = Job.objects.get(kind="datasets.retype")
    assert response.status_code == 302 and f"job={job.pk}" in response.url
    assert job.params == {"version": version.pk, "columns": {"qty": "numeric"}}
    page = html(client.get(response.url))
    assert f'data-job-final-reload="{job.pk}"' in page
    response = client.post(
        reverse("datasets:retype", args=[version.pk]), {f"col_{i}": c["type"] for i, c in enumerate(version.schema)}
    )
    assert response.status_code == 400 and "No column type was changed." in html(response)


# --- report ---------------------------------------------------------------------------------------------------------


def test_report_page_follows_the_job_then_shows_charts_warnings_and_downloads(client, project_a, run_job):
    frame = frame_sales(80)
    frame["constant"] = 1
    version = make_version(project_a, frame, name="quality")
    page = html(client.get(reverse("datasets:report", args=[version.pk])))
    assert "No report yet" in page
    response = client.post(reverse("datasets:profile_start", args=[version.pk]), {"target": "qty"})
    job = Job.objects.get(kind="datasets.profile")
    assert response.url == f"/data/datasets/versions/{version.pk}/report/?job={job.pk}#jobs"
    page = html(client.get(response.url))
    assert f'data-job-final-reload="{job.pk}"' in page and "Report job" in page
    assert run_job(job).status == JobStatus.SUCCEEDED
    page = html(client.get(response.url))
    report = ProfileReport.objects.get()
    assert '<span class="sev high">high</span>' in page and "constant has a single value" in page
    assert 'data-figure="fig-0" data-key="overview.missing"' in page
    assert 'id="fig-0" type="application/json"' in page
    assert '<script src="/static/vendor/plotly/plotly.min.js">' in page
    assert "Target: qty" in page and 'data-lazy-figure="col-2-h"' in page
    download = client.get(reverse("datasets:report_download", args=[report.pk]), {"format": "json"})
    assert download["Content-Disposition"] == 'attachment; filename="quality-v1-report.json"'
    assert download["X-Content-Type-Options"] == "nosniff"
    assert json.loads(download.content)["summary"]["rows"] == 80
    download = client.get(reverse("datasets:report_download", args=[report.pk]), {"format": "html"})
    assert download["Content-Disposition"] == 'attachment; filename="quality-v1-report.html"'
    assert download.content.startswith(b"<!DOCTYPE html>") or download.content.lower().startswith(b"<!doctype html")
    assert client.get(reverse("datasets:report_download", args=[report.pk]), {"format": "exe"}).status_code == 404


# --- SQL editor -----------------------------------------------------------------------------------------------------


def test_sql_editor_previews_refuses_writes_and_saves_as_a_job(client, project_a):
    make_version(project_a, frame_sales(30), name="sales")
    page = html(client.get(reverse("datasets:sql")))
    assert "<code>sales</code> = <code>sales_v1</code>" in page
    assert "SELECT *\nFROM sales\nLIMIT 100" in page
    response = client.post(
        reverse("datasets:sql"),
        {"query": "SELECT region, count(*) AS n FROM sales GROUP BY region ORDER BY region", "action": "run"},
        follow=True,  # Post/Redirect/Get: the result is on the page the POST redirects to
    )
    page = html(response)
    assert response.status_code == 200 and "3 rows" in page and "<td>east</td><td>10</td>" in page
    response = client.post(reverse("datasets:sql"), {"query": "COPY sales TO '/tmp/x.csv'", "action": "run"})
    assert response.status_code == 400
    assert "Only SELECT queries (optionally starting with WITH) are allowed, not COPY statements." in html(response)
    response = client.post(
        reverse("datasets:sql"), {"query": "SELECT * FROM sales", "action": "save", "name": "sales copy"}
    )
    job = Job.objects.get(kind="datasets.sql_save")
    assert response.status_code == 302 and f"job={job.pk}" in response.url
    page = html(client.get(response.url))
    assert f'data-live-jobs="job:{job.pk}"' in page and f'data-job-final-reload="{job.pk}"' in page


# --- flows ----------------------------------------------------------------------------------------------------------


@pytest.fixture
def flow(project_a, ds_user) -> Flow:
    version = make_version(project_a, frame_sales(60), name="raw")
    return services.flow_create(project=project_a, created_by=ds_user, name="Prep", sources=[version])


def test_create_a_flow_from_the_list_page(client, project_a):
    version = make_version(project_a, frame_sales(5), name="start")
    page = html(client.get(reverse("datasets:flow_list"), {"source": version.pk}))
    assert f'<option value="{version.pk}" selected>start v1</option>' in page
    response = client.post(reverse("datasets:flow_list"), {"name": "My flow", "sources": [version.pk]})
    flow = Flow.objects.get(name="My flow")
    assert response.url == f"/data/flows/{flow.pk}/"
    assert flow.sources == [{"id": "src1", "name": "start v1", "dataset_version": version.pk}]
    assert flow.output_name == "My flow output"


def test_every_operator_gets_a_form_built_from_its_spec(client, flow):
    url = reverse("datasets:flow_detail", args=[flow.pk])
    for spec in operator_specs():
        page = html(client.get(url, {"op": spec["name"]}))
        assert f'<input type="hidden" name="op" value="{spec["name"]}">' in page, spec["name"]
        for param in spec["parameters"]:
            assert f'name="p_{param["name"]}"' in page, (spec["name"], param["name"])
        if any(p["type"] == "columns" for p in spec["parameters"]):
            assert '<option value="region">region</option>' in page, spec["name"]


def test_preview_add_edit_and_delete_steps(client, flow):
    url = reverse("datasets:flow_step_add", args=[flow.pk])
    response = client.post(
        url, {"op": "fill_missing", "inputs": "src1", "p_columns": ["price"], "p_value": "0", "action": "preview"}
    )
    page = html(response)
    assert response.status_code == 200 and "Preview of the new step" in page
    assert "60 rows × 5 columns on a sample of 60 rows of src1" in page
    assert Flow.objects.get(pk=flow.pk).steps == [], "a preview saves nothing"
    response = client.post(
        url, {"op": "fill_missing", "inputs": "src1", "p_columns": ["price"], "p_value": "{bad", "action": "save"}
    )
    assert response.status_code == 400
    assert "Value is not valid JSON: Expecting property name enclosed in double quotes" in html(response)
    response = client.post(
        url,
        {
            "op": "fill_missing",
            "inputs": "src1",
            "p_columns": ["price"],
            "p_value": "0",
            "action": "save",
            "label": "zero prices",
        },
    )
    assert response.url == f"/data/flows/{flow.pk}/?step=s1"
    response = client.post(url, {"op": "drop_columns", "p_columns": ["when"], "action": "save"})
    flow.refresh_from_db()
    assert [(s["id"], s["op"], s["inputs"], s["parameters"], s["label"]) for s in flow.steps] == [
        ("s1", "fill_missing", ["src1"], {"columns": ["price"], "value": 0}, "zero prices"),
        ("s2", "drop_columns", ["s1"], {"columns": ["when"]}, None),
    ]
    page = html(client.get(response.url))
    assert "Preview of s2" in page and "<th>when</th>" not in page.split('id="preview-table"')[1]
    page = html(client.get(reverse("datasets:flow_detail", args=[flow.pk]), {"edit": "s1"}))
    assert "Edit step s1" in page and 'value="zero prices"' in page
    assert '<option value="price" selected>price</option>' in page
    response = client.post(
        reverse("datasets:flow_step_edit", args=[flow.pk, "s1"]),
        {"op": "fill_missing", "inputs": "src1", "p_columns": ["price"], "p_value": "-1", "action": "save"},
    )
    assert response.status_code == 302
    assert Flow.objects.get(pk=flow.pk).steps[0]["parameters"] == {"columns": ["price"], "value": -1}
    response = client.post(
        reverse("datasets:flow_step_edit", args=[flow.pk, "s2"]),
        {"op": "drop_columns", "inputs": "s1", "p_columns": ["nope"], "action": "save"},
    )
    assert response.status_code == 400 and "column &#x27;nope&#x27; not found" in html(response)
    client.post(reverse("datasets:flow_step_delete", args=[flow.pk, "s1"]))
    assert [(s["id"], s["inputs"]) for s in Flow.objects.get(pk=flow.pk).steps] == [("s2", ["src1"])]


def test_run_export_and_analyses_from_the_flow_page(client, flow, run_job):
    client.post(
        reverse("datasets:flow_step_add", args=[flow.pk]),
        {"op": "impute_missing", "p_columns": ["price"], "p_strategy": "median", "action": "save"},
    )
    response = client.post(reverse("datasets:flow_run", args=[flow.pk]), {"output_name": "prepared"})
    job = Job.objects.get(kind="datasets.flow_run")
    assert response.url == f"/data/flows/{flow.pk}/?job={job.pk}#run"
    page = html(client.get(response.url))
    assert f'data-live-jobs="job:{job.pk}"' in page and f'data-job-final-reload="{job.pk}"' in page
    assert run_job(job).status == JobStatus.SUCCEEDED
    output = DatasetVersion.objects.get(dataset__name="prepared")
    page = html(client.get(response.url))
    assert f'href="/data/datasets/{output.dataset_id}/?v={output.pk}">prepared v1</a>' in page
    script = client.get(reverse("datasets:flow_export", args=[flow.pk]))
    assert script["Content-Disposition"] == 'attachment; filename="prep.py"'
    assert b"def run(sources" in script.content

    url = reverse("datasets:flow_analysis_add", args=[flow.pk])
    cases = {
        "histogram": {"column": "price", "bins": "10"},
        "scatter": {"x": "price", "y": "qty", "color": "region"},
        "box": {"column": "price", "by": "region"},
        "correlation": {},
        "line": {"x": "when", "y": "price", "agg": "sum"},
    }
    for kind, params in cases.items():
        response = client.post(url, {"kind": kind, "step": "s1", **params})
        assert response.status_code == 302, (kind, html(response)[:2000])
    analyses = {a.kind: a for a in FlowAnalysis.objects.filter(flow=flow)}
    assert set(analyses) == set(cases)
    assert analyses["histogram"].sample_rows == 60 and sum(analyses["histogram"].figure["data"][0]["y"]) == 60
    assert len(analyses["scatter"].figure["data"]) == 3  # one trace per region
    assert analyses["correlation"].figure["data"][0]["type"] == "heatmap"
    page = html(client.get(reverse("datasets:flow_detail", args=[flow.pk])))
    assert page.count('<div class="chart" data-figure="analysis-fig-') == 5
    response = client.post(url, {"kind": "scatter", "step": "s1", "x": "region", "y": "qty"})
    assert response.status_code == 400
    assert "Column &#x27;region&#x27; is not numeric" in html(response)
    client.post(reverse("datasets:flow_analysis_delete", args=[analyses["box"].pk]))
    assert FlowAnalysis.objects.filter(flow=flow).count() == 4


# --- hostile strings ------------------------------------------------------------------------------------------------


def test_hostile_names_are_escaped_on_every_page(client, project_a, ds_user, run_job):
    evil = "<script>alert(1)</script>"
    frame = pd.DataFrame({evil: [1.5, 2.5, None, 4.0] * 5, "b<i>": ["<b>x</b>", "y", "x", "z"] * 5})
    version = make_version(project_a, frame, name=f"<b>Evil</b>{evil}")
    run_job(services.profile_start(version=version, created_by=ds_user, target=evil))
    flow = services.flow_create(project=project_a, created_by=ds_user, name=f"flow {evil}", sources=[version])
    flow, _, _ = services.flow_step_add(
        flow=flow, op="fill_missing", parameters={"columns": [evil], "value": 0}, label=evil
    )
    services.flow_analysis_add(flow=flow, created_by=ds_user, kind="histogram", step_id="s1", params={"column": evil})
    pages = {
        "list": client.get(reverse("datasets:list")),
        "detail": client.get(reverse("datasets:detail", args=[version.dataset_id])),
        "report": client.get(reverse("datasets:report", args=[version.pk])),
        "sql": client.post(reverse("datasets:sql"), {"query": f'SELECT 1 AS "{evil}"', "action": "run"}, follow=True),
        "flows": client.get(reverse("datasets:flow_list")),
        "flow": client.get(reverse("datasets:flow_detail", args=[flow.pk])),
        "flow edit": client.get(reverse("datasets:flow_detail", args=[flow.pk]), {"edit": "s1"}),
        "flow op form": client.get(reverse("datasets:flow_detail", args=[flow.pk]), {"op": "drop_columns"}),
    }
    for name, response in pages.items():
        assert response.status_code == 200, name
        text = html(response)
        assert evil not in text and "<b>Evil</b>" not in text and "<b>x</b>" not in text, name
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text or "\\u003Cscript\\u003E" in text, name


# --- query counts ---------------------------------------------------------------------------------------------------


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx)


def test_list_page_query_count_does_not_grow_with_datasets(client, project_a):
    url = reverse("datasets:list")
    for i in range(2):
        make_version(project_a, frame_sales(3), name=f"d{i}")
    client.get(url)
    few = count_queries(client, url)
    for i in range(2, 12):
        make_version(project_a, frame_sales(3), name=f"d{i}")
    assert count_queries(client, url) == few
    assert few <= 12, few


def test_a_join_of_two_sources_through_the_editor(client, project_a, ds_user):
    sales = make_version(project_a, frame_sales(12), name="orders")
    bosses = make_version(project_a, pd.DataFrame({"region": ["north", "south"], "boss": ["Ann", "Bo"]}), name="bosses")
    flow = services.flow_create(project=project_a, created_by=ds_user, name="joined", sources=[sales, bosses])
    page = html(
        client.get(reverse("datasets:flow_detail", args=[flow.pk]), {"op": "join", "input": "src1", "extra": "src2"})
    )
    assert '<input type="hidden" name="inputs" value="src1">' in page
    assert '<input type="hidden" name="inputs" value="src2">' in page
    right_on = page.split('name="p_right_on"')[1].split("</select>")[0]
    assert '<option value="boss">boss</option>' in right_on and "order_id" not in right_on
    response = client.post(
        reverse("datasets:flow_step_add", args=[flow.pk]),
        {"op": "join", "inputs": ["src1", "src2"], "p_how": "inner", "p_on": ["region"], "action": "save"},
    )
    assert response.status_code == 302, html(response)[:3000]
    flow.refresh_from_db()
    assert flow.steps[0]["inputs"] == ["src1", "src2"] and flow.steps[0]["parameters"]["on"] == ["region"]
    page = html(client.get(response.url))
    assert "8 rows × 6 columns" in page and "<th>boss</th>" in page


@pytest.mark.parametrize(
    "model", ["dataset", "datasetversion", "profilereport", "flow", "flowanalysis", "dataconnection"]
)
def test_admin_changelist_query_counts_do_not_grow(client_for, admin_user, project_a, ds_user, model: str):
    from apps.datasets.models import DataConnection

    def add(start: int, stop: int) -> None:
        for i in range(start, stop):
            version = make_version(project_a, frame_sales(3), name=f"a{i}", user=ds_user)
            ProfileReport.objects.create(project=project_a, version=version, file="x.json")
            flow = services.flow_create(project=project_a, created_by=ds_user, name=f"f{i}", sources=[version])
            FlowAnalysis.objects.create(flow=flow, kind="histogram", title=f"t{i}", step_id="src1")
            DataConnection.objects.create(name=f"c{i}", url="sqlite:////tmp/x.db").projects.set([project_a])

    client = client_for(admin_user)
    url = reverse(f"admin:datasets_{model}_changelist")
    add(0, 2)
    client.get(url)
    few = count_queries(client, url)
    add(2, 12)
    assert count_queries(client, url) == few
    assert "12 " in html(client.get(url))  # "12 datasets" etc. in the result count


def test_deleting_a_dataset_that_builds_or_reports_still_read_says_what_and_keeps_it(
    client_for, ds_user, project_a, media
) -> None:
    """Canvas builds and Clarify reports keep the versions they read (PROTECT): deleting the dataset is refused in
    words, naming what still uses it, and nothing is deleted (it was a 500 with the database's ProtectedError)."""
    from apps.automl.models import AutomlBuild
    from apps.clarify.models import ClarifyReport

    version = make_version(project_a, frame_sales(), user=ds_user)
    AutomlBuild.objects.create(project=project_a, created_by=ds_user, dataset_version=version, target="units")
    for n in range(2):
        ClarifyReport.objects.create(project=project_a, created_by=ds_user, dataset_version=version, name=f"r{n}")
    files_before = stored_files(project_a)
    client = client_for(ds_user)
    response = client.post(reverse("datasets:delete", args=[version.dataset_id]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("datasets:detail", args=[version.dataset_id])
    text = response.content.decode()
    assert "still used by 1 AutoML build, 2 clarify reports: delete those first" in text
    assert Dataset.objects.filter(pk=version.dataset_id).exists() and DatasetVersion.objects.filter(pk=version.pk)
    assert stored_files(project_a) == files_before
