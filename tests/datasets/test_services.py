"""Data Wrangler services, with the job functions run in-process as a worker would run them: imports (versions,
schema, histograms, lineage, nothing half-made on failure, idempotent retries), retyping, profiles, flows (run,
trained parameters, export script equal to the job's output), SQL results, deletes and the asset counter."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from django.core.exceptions import ValidationError

from apps.core.assets import asset_counters
from apps.datasets import selectors, services
from apps.datasets import storage as files
from apps.datasets.models import Dataset, DatasetVersion, Flow, ProfileReport
from apps.jobs.choices import JobStatus
from apps.jobs.models import Job
from apps.jobs.runtime import JobContext
from tests.datasets.conftest import csv_bytes, frame_sales, make_version, stored_files, upload

pytestmark = pytest.mark.usefixtures("media")

ROOT = Path(__file__).resolve().parents[2]


def start_import(project, user, name: str, content: bytes | str, filename: str = "sales.csv", **options):
    return services.dataset_import_start(
        project=project,
        created_by=user,
        upload=upload(filename, content),
        name=name,
        options=services.ImportOptions(**options),
    )


# --- imports -----------------------------------------------------------------------------------------------------


def test_csv_import_job_writes_a_version_with_schema_histograms_and_lineage(project_a, ds_user, run_job):
    dataset, job = start_import(project_a, ds_user, "Sales", csv_bytes(frame_sales(40)))
    # Before the job runs: the dataset exists (the API shows it with no version), the upload is stored.
    assert dataset.latest_version is None and dataset.import_job_id == job.pk
    assert [p.split("/")[2] for p in stored_files(project_a)] == ["uploads"]
    assert job.params["filename"] == "sales.csv" and job.params["sampling"]["method"] == "all"

    job = run_job(job)
    assert job.status == JobStatus.SUCCEEDED, job.message
    dataset.refresh_from_db()
    version = dataset.latest_version
    assert (version.number, version.row_count, version.column_count, version.kind) == (1, 40, 5, "import")
    assert job.message == f"Imported 40 rows × 5 columns as Sales v{version.number}."
    assert job.result == {
        "dataset": dataset.pk,
        "dataset_version": version.pk,
        "number": 1,
        "rows": 40,
        "columns": 5,
        "warnings": [],
    }
    types = {c["name"]: c["type"] for c in version.schema}
    assert types == {
        "order_id": "identifier",
        "region": "categorical",
        "price": "numeric",
        "qty": "integer",
        "when": "datetime",
    }
    assert version.file == f"projects/{project_a.pk}/datasets/{dataset.pk}/v1.parquet"
    assert stored_files(project_a) == [f"datasets/{dataset.pk}/v1.parquet"], "the upload is removed once imported"
    assert version.bytes == files.file_size(version.file) > 0
    source = version.source
    assert (source["filename"], source["format"], source["delimiter"], source["header"], source["encoding"]) == (
        "sales.csv",
        "csv",
        ",",
        True,
        "utf-8",
    )
    assert source["sampling"]["rows_before"] == source["sampling"]["rows_after"] == 40
    # Mini histograms: bins for numbers and dates, top values for labels.
    hist = version.histograms
    assert hist["price"]["kind"] == "bins" and sum(hist["price"]["counts"]) == 34 and hist["price"]["missing"] == 6
    region = hist["region"]
    assert (region["kind"], region["distinct"], region["missing"]) == ("top", 3, 0)
    assert dict(zip(region["labels"], region["counts"], strict=True)) == {"north": 14, "east": 13, "south": 13}
    assert hist["when"]["kind"] == "bins" and hist["when"]["min"].startswith("2024-01-01")
    # The stored data is typed: what the rows API and the flows read.
    frame = files.read_frame(version.file)
    assert str(frame["when"].dtype).startswith("datetime64") and str(frame["qty"].dtype) == "Int64"
    assert frame["price"].isna().sum() == 6


def test_tsv_import_with_stratified_sampling_and_options(project_a, ds_user, run_job):
    frame = pd.DataFrame({"label": ["a"] * 80 + ["b"] * 20, "x": np.arange(100)})
    content = csv_bytes(frame, sep="\t")
    _, job = start_import(
        project_a,
        ds_user,
        "strat",
        content,
        filename="data.tsv",
        sample_method="stratified",
        sample_size=10,
        sample_column="label",
        seed=3,
    )
    job = run_job(job)
    assert job.status == JobStatus.SUCCEEDED, job.message
    version = DatasetVersion.objects.get(pk=job.result["dataset_version"])
    stored = files.read_frame(version.file)
    assert stored["label"].value_counts().to_dict() == {"a": 8, "b": 2}
    assert version.source["format"] == "tsv" and version.source["delimiter"] == "\t"
    assert version.source["sampling"] == {
        "method": "stratified",
        "size": 10,
        "seed": 3,
        "column": "label",
        "rows_before": 100,
        "rows_after": 10,
    }


def test_import_options_are_checked_before_anything_is_stored(project_a, ds_user):
    with pytest.raises(ValidationError) as exc:
        start_import(project_a, ds_user, "x", "a,b\n1,2\n", delimiter=";;", encoding="klingon", sample_method="random")
    assert set(exc.value.message_dict) == {"delimiter", "encoding", "sample_size"}
    assert "Unknown encoding 'klingon'" in exc.value.message_dict["encoding"][0]
    with pytest.raises(ValidationError) as exc:
        start_import(project_a, ds_user, "x", b"")
    assert exc.value.message_dict == {"file": ["The file is empty."]}
    assert Dataset.objects.count() == 0 and Job.objects.count() == 0 and stored_files(project_a) == []


def test_a_failed_first_import_leaves_no_dataset_and_no_file(project_a, ds_user, run_job):
    _, job = start_import(project_a, ds_user, "ragged", "a,b,c\n1,2,3\n4,5,6,7\n8,9,10\n")
    assert Dataset.objects.count() == 1 and len(stored_files(project_a)) == 1
    job = run_job(job)
    assert job.status == JobStatus.FAILED
    assert job.message == (
        "Line 3 has 4 fields; expected 3 like the first row. Check the delimiter and quoting on that line."
    )
    assert Dataset.objects.count() == 0 and DatasetVersion.objects.count() == 0
    assert stored_files(project_a) == []
    # The name is free again.
    _, job = start_import(project_a, ds_user, "ragged", "a,b,c\n1,2,3\n")
    assert run_job(job).status == JobStatus.SUCCEEDED


def test_a_failed_new_version_keeps_the_dataset_and_its_versions(project_a, ds_user, run_job):
    version = make_version(project_a, frame_sales(5), name="keep")
    job = services.dataset_version_import_start(
        dataset=version.dataset,
        created_by=ds_user,
        upload=upload("v2.csv", "a;b\n\xff\n".encode("latin-1")),
        options=services.ImportOptions(),
    )
    job = run_job(job)
    assert job.status == JobStatus.FAILED
    assert "not valid UTF-8" in job.message and "line 2" in job.message
    dataset = Dataset.objects.get(pk=version.dataset_id)
    assert dataset.latest_version_id == version.pk and dataset.versions.count() == 1
    assert stored_files(project_a) == [f"datasets/{dataset.pk}/v1.parquet"]


def test_a_new_version_import_is_numbered_and_becomes_latest(project_a, ds_user, run_job):
    first = make_version(project_a, frame_sales(5), name="grow")
    job = services.dataset_version_import_start(
        dataset=first.dataset,
        created_by=ds_user,
        upload=upload("more.csv", csv_bytes(frame_sales(9))),
        options=services.ImportOptions(),
    )
    job = run_job(job)
    second = DatasetVersion.objects.get(pk=job.result["dataset_version"])
    assert (second.number, second.row_count) == (2, 9)
    assert Dataset.objects.get(pk=first.dataset_id).latest_version_id == second.pk
    assert sorted(stored_files(project_a)) == [
        f"datasets/{first.dataset_id}/v1.parquet",
        f"datasets/{first.dataset_id}/v2.parquet",
    ]


def test_a_retried_import_finds_the_version_its_first_attempt_made(project_a, ds_user, run_job):
    _, job = start_import(project_a, ds_user, "once", "a,b\n1,2\n3,4\n")
    job = run_job(job)
    # A redelivered task after the first attempt wrote its version (its worker died before finishing the job).
    result = services.dataset_import_run(JobContext(job))
    assert result["dataset_version"] == job.result["dataset_version"]
    assert DatasetVersion.objects.count() == 1


def test_mixed_types_are_imported_and_the_bad_values_named(project_a, ds_user, run_job):
    values = [str(i) for i in range(60)] + ["twelve", "n/a?"]
    _, job = start_import(project_a, ds_user, "mixed", "amount,other\n" + "\n".join(f"{v},x" for v in values))
    job = run_job(job)
    assert job.status == JobStatus.SUCCEEDED
    assert (
        "Column 'amount': 2 value(s) are not integer (e.g. 'twelve', 'n/a?') and were stored as missing." in job.message
    )
    version = DatasetVersion.objects.get(pk=job.result["dataset_version"])
    amount = version.column("amount")
    assert (amount["type"], amount["invalid"], amount["invalid_examples"]) == ("integer", 2, ["twelve", "n/a?"])
    assert version.source["cast_report"]["amount"]["failed"] == 2


def test_dataset_names_are_unique_per_project_ignoring_case(project_a, project_b, ds_user, outsider):
    make_version(project_a, frame_sales(3), name="Orders")
    with pytest.raises(ValidationError) as exc:
        start_import(project_a, ds_user, "orders", "a\n1\n")
    assert exc.value.message_dict == {"name": ["A dataset named 'orders' already exists in this project."]}
    start_import(project_b, outsider, "orders", "a\n1\n")  # another project: fine


def test_an_import_whose_worker_died_for_good_is_hidden_and_its_name_reusable(project_a, ds_user):
    dataset, job = start_import(project_a, ds_user, "ghost", "a\n1\n")
    assert dataset in selectors.dataset_list_for_user(user=ds_user)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.FAILED)  # e.g. failed by the reaper
    assert dataset not in selectors.dataset_list_for_user(user=ds_user)
    again, _ = start_import(project_a, ds_user, "ghost", "a\n1\n")
    assert Dataset.objects.filter(name="ghost").get() == again


# --- retype, profile -------------------------------------------------------------------------------------------------


def test_retype_writes_a_new_version_with_lineage(project_a, ds_user, run_job):
    version = make_version(project_a, frame_sales(20), name="typed")
    with pytest.raises(ValidationError) as exc:
        services.version_retype_start(version=version, created_by=ds_user, columns={"nope": "text", "qty": "colour"})
    assert exc.value.message_dict == {
        "nope": ["No column 'nope' in typed v1."],
        "qty": [
            "Unknown type 'colour' for column 'qty'; use one of numeric, integer, boolean, categorical, "
            "datetime, text, identifier."
        ],
    }
    job = run_job(
        services.version_retype_start(version=version, created_by=ds_user, columns={"qty": "numeric", "region": "text"})
    )
    assert job.status == JobStatus.SUCCEEDED, job.message
    new = DatasetVersion.objects.get(pk=job.result["dataset_version"])
    assert (new.number, new.kind, list(new.parents.all())) == (2, "retype", [version])
    assert {c["name"]: c["type"] for c in new.schema}["qty"] == "numeric"
    assert new.column("region")["type"] == "text" and new.column("region")["reason"] == "set by hand"
    frame = files.read_frame(new.file)
    assert str(frame["qty"].dtype) == "float64" and str(frame["region"].dtype) == "str"
    assert new.source == {
        "kind": "retype",
        "from_version": version.pk,
        "from_number": 1,
        "columns": {"qty": "numeric", "region": "text"},
        "cast_report": {},
    }


def test_profile_job_stores_the_report_file_and_a_summary(project_a, ds_user, run_job):
    frame = frame_sales(60)
    frame["target"] = [i % 2 for i in range(60)]
    version = make_version(project_a, frame, name="prof")
    with pytest.raises(ValidationError) as exc:
        services.profile_start(version=version, created_by=ds_user, target="nope")
    assert list(exc.value.message_dict) == ["target"] and "No column 'nope'" in exc.value.message_dict["target"][0]
    job = run_job(services.profile_start(version=version, created_by=ds_user, target="target"))
    assert job.status == JobStatus.SUCCEEDED, job.message
    report = ProfileReport.objects.get()
    data = selectors.report_data(report=report)
    assert (report.target, data["summary"]["rows"], data["target"]["name"]) == ("target", 60, "target")
    assert report.summary["rows"] == 60 and report.summary["problem_type"] == "binary"
    assert sum(report.summary["warnings"].values()) == len(data["warnings"])
    assert report.file.startswith(f"projects/{project_a.pk}/datasets/{version.dataset_id}/reports/v1-profile-")
    assert report.bytes == files.file_size(report.file)


# --- flows ----------------------------------------------------------------------------------------------------------


def flow_with_steps(project, user, version):
    flow = services.flow_create(project=project, created_by=user, name="Clean sales", sources=[version])
    steps = [
        ("impute_missing", {"columns": ["price"], "strategy": "mean"}),
        ("filter_rows", {"expression": "qty > 1"}),
        ("custom_formula", {"new_column": "total", "expression": "price * qty"}),
        ("one_hot_encode", {"columns": ["region"]}),
    ]
    for op, params in steps:
        flow, _step, _preview = services.flow_step_add(flow=flow, op=op, parameters=params)
    return flow


def test_flow_run_writes_a_version_and_the_exported_script_reproduces_it(project_a, ds_user, run_job, tmp_path):
    source = make_version(project_a, frame_sales(300), name="raw sales")
    flow = flow_with_steps(project_a, ds_user, source)
    assert [s["id"] for s in flow.steps] == ["s1", "s2", "s3", "s4"]
    job = run_job(services.flow_run_start(flow=flow, created_by=ds_user))
    assert job.status == JobStatus.SUCCEEDED, job.message
    output = DatasetVersion.objects.get(pk=job.result["dataset_version"])
    assert output.dataset.name == "Clean sales output" and output.kind == "flow"
    assert list(output.parents.all()) == [source]
    assert output.source["flow"] == flow.pk and output.source["sources"] == {"src1": source.pk}
    result = files.read_frame(output.file)
    assert len(result) == 240 and "region_north" in result.columns and "total" in result.columns
    assert result["price"].isna().sum() == 0
    # The full-data fit went back into the flow, so the export needs no refit.
    flow.refresh_from_db()
    assert flow.steps[0]["trained_parameters"] == output.source["definition"]["steps"][0]["trained_parameters"]

    name, script = selectors.flow_script(flow=flow)
    assert name == "clean-sales.py" and '"src1": "raw-sales-v1.parquet"' in script
    (tmp_path / name).write_text(script)
    source_copy = tmp_path / "raw-sales-v1.parquet"
    source_copy.write_bytes(files.storage().open(source.file).read())
    out = tmp_path / "out.parquet"
    subprocess.run(
        [
            str(ROOT / ".venv/bin/python") if (ROOT / ".venv/bin/python").exists() else sys.executable,
            str(tmp_path / name),
            str(out),
            "--source",
            f"src1={source_copy}",
        ],
        check=True,
        capture_output=True,
        timeout=120,
        cwd=tmp_path,
    )
    pd.testing.assert_frame_equal(pd.read_parquet(out), result)


def test_flow_steps_are_checked_on_a_sample_before_they_are_saved(project_a, ds_user):
    source = make_version(project_a, frame_sales(20), name="checked")
    flow = services.flow_create(project=project_a, created_by=ds_user, name="f", sources=[source])
    with pytest.raises(ValidationError) as exc:
        services.flow_step_add(flow=flow, op="drop_columns", parameters={"columns": ["nope"]})
    assert list(exc.value.message_dict) == ["columns"]
    assert "column 'nope' not found" in exc.value.message_dict["columns"][0]
    with pytest.raises(ValidationError) as exc:
        services.flow_step_add(flow=flow, op="no_such_op", parameters={})
    assert exc.value.message_dict == {"op": ["Unknown operator 'no_such_op'."]}
    assert Flow.objects.get(pk=flow.pk).steps == []


def test_deleting_a_step_rewires_its_readers_and_forgets_stale_fits(project_a, ds_user, run_job):
    source = make_version(project_a, frame_sales(50), name="rewire")
    flow = flow_with_steps(project_a, ds_user, source)
    run_job(services.flow_run_start(flow=flow, created_by=ds_user))
    flow.refresh_from_db()
    assert flow.steps[3]["trained_parameters"] is not None
    flow = services.flow_step_delete(flow=flow, step_id="s2")
    flow.refresh_from_db()
    assert [(s["id"], s["inputs"]) for s in flow.steps] == [("s1", ["src1"]), ("s3", ["s1"]), ("s4", ["s3"])]
    assert flow.steps[0]["trained_parameters"] is not None, "steps before the deleted one keep their fit"
    assert flow.steps[2]["trained_parameters"] is None, "steps after it must be refitted"


def test_preview_of_50k_rows_is_fast(project_a, ds_user):
    rng = np.random.default_rng(0)
    n = 120_000
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.choice(["x", "y", "z"], n), "c": rng.integers(0, 9, n)})
    source = make_version(project_a, frame, name="big")
    flow = services.flow_create(project=project_a, created_by=ds_user, name="fast", sources=[source])
    flow, _, _ = services.flow_step_add(flow=flow, op="filter_rows", parameters={"expression": "c > 2"})
    flow, _, _ = services.flow_step_add(flow=flow, op="standard_scale", parameters={"columns": ["a"]})
    started = time.perf_counter()
    preview = selectors.flow_preview(flow=flow, step_id="s2")
    elapsed = time.perf_counter() - started
    assert preview.source_rows == {"src1": 50_000}
    assert 0 < preview.row_count < 50_000 and len(preview.rows) == 50
    assert [c["name"] for c in preview.schema] == ["a", "b", "c"]
    assert elapsed < 1.0, f"preview took {elapsed:.2f} s"


def test_sql_result_is_saved_as_a_version_with_its_parents(project_a, ds_user, run_job):
    sales = make_version(project_a, frame_sales(30), name="sales")
    regions = make_version(
        project_a, pd.DataFrame({"region": ["north", "south"], "boss": ["Ann", "Bo"]}), name="Regions 2024"
    )
    query = (
        "SELECT s.region, r.boss, sum(s.qty) AS qty FROM sales s JOIN regions_2024 r USING (region) "
        "GROUP BY ALL ORDER BY s.region"
    )
    job = run_job(services.sql_save_start(project=project_a, created_by=ds_user, query=query, name="by region"))
    assert job.status == JobStatus.SUCCEEDED, job.message
    version = DatasetVersion.objects.get(pk=job.result["dataset_version"])
    assert files.read_frame(version.file).to_dict("list") == {
        "region": ["north", "south"],
        "boss": ["Ann", "Bo"],
        "qty": [30, 30],
    }
    assert set(version.parents.all()) == {sales, regions}
    assert version.source == {"kind": "sql", "query": query, "tables": {"regions_2024": regions.pk, "sales": sales.pk}}


# --- deletes and the storage report -----------------------------------------------------------------------------


def test_asset_counter_counts_records_and_bytes(project_a, project_b, ds_user):
    v1 = make_version(project_a, frame_sales(10), name="one")
    v2 = make_version(project_a, frame_sales(20), name="one")
    make_version(project_b, frame_sales(5), name="other")
    services.flow_create(project=project_a, created_by=ds_user, name="f", sources=[v2])
    counts = {c.asset_type: (c.count, c.bytes) for c in asset_counters()["datasets"](project_a.pk)}
    assert counts == {"datasets": (1, 0), "dataset versions": (2, v1.bytes + v2.bytes), "flows": (1, 0)}
    assert asset_counters()["datasets"](project_b.pk + 1000) == []


def test_deleting_a_dataset_removes_every_file(project_a, ds_user, run_job):
    version = make_version(project_a, frame_sales(10), name="gone")
    run_job(services.profile_start(version=version, created_by=ds_user))
    assert len(stored_files(project_a)) == 2
    services.dataset_delete(dataset=version.dataset)
    assert stored_files(project_a) == []
    assert (Dataset.objects.count(), DatasetVersion.objects.count(), ProfileReport.objects.count()) == (0, 0, 0)
