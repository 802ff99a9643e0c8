"""Built-in algorithm services against the database: option and column validation with messages naming the field,
starting a run (a job), and the job's work run in this process (tests/unsupervised/test_jobs.py uses a real
worker): new columns appended, name clashes suffixed, redelivery reusing the stored version, engine errors."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from django.core.exceptions import ValidationError

from apps.datasets import selectors as data_selectors
from apps.datasets.models import Dataset, DatasetVersion
from apps.jobs.choices import JobStatus
from apps.jobs.models import Job
from apps.jobs.runtime import JobContext
from apps.unsupervised import services
from apps.unsupervised.models import UnsupervisedRun
from tests.unsupervised.data import blobs_frame, make_version


def _start(
    project: Any, user: Any, version: Any, algorithm: str = "kmeans", options: Any = None, columns: Any = None
) -> UnsupervisedRun:
    return services.unsupervised_run_start(
        project=project,
        created_by=user,
        version=version,
        algorithm=algorithm,
        options=options if options is not None else {},
        columns=columns or [],
    )


def _errors(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return exc.value.message_dict


# --- validation ---------------------------------------------------------------------------------------------


def test_an_unknown_column_is_named_in_the_error(project_a, ds_user, media) -> None:
    version = make_version(project_a, ds_user, blobs_frame())
    with pytest.raises(ValidationError) as exc:
        _start(project_a, ds_user, version, columns=["a", "nope"])
    message = _errors(exc)["columns"][0]
    assert message.startswith("Column 'nope' is not in points v1;") and "a, b, c, kind, row_id" in message
    with pytest.raises(ValidationError) as exc:
        _start(project_a, ds_user, version, columns=["zz", "a", "yy"])
    assert _errors(exc)["columns"][0].startswith("Columns 'zz', 'yy' are not in points v1")
    with pytest.raises(ValidationError) as exc:
        _start(project_a, ds_user, version, columns=[1, 2])
    assert "list of column names" in _errors(exc)["columns"][0]
    assert UnsupervisedRun.objects.count() == 0 and Job.objects.count() == 0


BAD_OPTIONS = [
    ("pca", {"n_components": 0}, "n_components", "at least 1"),
    ("pca", {"n_components": "two"}, "n_components", "whole number"),
    ("pca", {"n_components": 2.5}, "n_components", "whole number"),
    ("pca", {"n_components": True}, "n_components", "whole number"),
    ("pca", {"n_components": 500}, "n_components", "cannot exceed the number of rows of points v1 (150)"),
    ("pca", {"variance": 1}, "variance", "between 0 and 1"),
    ("pca", {"variance": 0}, "variance", "between 0 and 1"),
    ("pca", {"variance": "most"}, "variance", "between 0 and 1"),
    ("pca", {"variance": "nan"}, "variance", "between 0 and 1"),
    ("pca", {"n_components": 2, "variance": 0.9}, "variance", "not both"),
    ("kmeans", {"k": 1}, "k", "'auto' or a whole number of at least 2"),
    ("kmeans", {"k": "many"}, "k", "'auto' or a whole number"),
    ("kmeans", {"k": 151}, "k", "cannot exceed the number of rows"),
    ("kmeans", {"k_min": 1}, "k_min", "between 2 and 50"),
    ("kmeans", {"k_max": 51}, "k_max", "between 2 and 50"),
    ("kmeans", {"k_min": 6, "k_max": 4}, "k_max", "k_max (4) must be at least k_min (6)"),
    ("kmeans", {"method": "gap"}, "method", "'silhouette' or 'elbow'"),
    ("isolation_forest", {"contamination": 0}, "contamination", "'auto' or a number above 0 and at most 0.5"),
    ("isolation_forest", {"contamination": 0.6}, "contamination", "at most 0.5"),
    ("isolation_forest", {"contamination": "some"}, "contamination", "'auto' or a number"),
    ("isolation_forest", {"seed": -1}, "seed", "between 0 and 4294967295"),
    ("isolation_forest", {"contamination": 0.1, "k": 3}, "options", "Unknown option 'k' for Isolation forest"),
    ("kmeans", ["k", 3], "options", "object of {name: value}"),
]


@pytest.mark.parametrize(
    ("algorithm", "options", "field", "fragment"),
    BAD_OPTIONS,
    ids=[f"{a}-{f}-{i}" for i, (a, _, f, _) in enumerate(BAD_OPTIONS)],
)
def test_bad_options_are_refused_naming_the_option(
    project_a, ds_user, media, algorithm, options, field, fragment
) -> None:
    version = make_version(project_a, ds_user, blobs_frame())
    with pytest.raises(ValidationError) as exc:
        _start(project_a, ds_user, version, algorithm=algorithm, options=options)
    errors = _errors(exc)
    assert fragment in " ".join(errors[field]), errors
    assert UnsupervisedRun.objects.count() == 0


def test_unknown_algorithm_and_a_version_of_another_project(project_a, project_b, ds_user, media) -> None:
    version = make_version(project_a, ds_user, blobs_frame())
    with pytest.raises(ValidationError) as exc:
        _start(project_a, ds_user, version, algorithm="dbscan")
    assert _errors(exc)["algorithm"] == ["Unknown algorithm 'dbscan'; choose pca, kmeans or isolation_forest."]
    with pytest.raises(ValidationError) as exc:
        _start(project_b, ds_user, version)
    assert "another project" in _errors(exc)["dataset_version"][0]
    single = make_version(project_a, ds_user, blobs_frame(1), name="one row")
    with pytest.raises(ValidationError) as exc:
        _start(project_a, ds_user, single)
    assert "at least 2" in _errors(exc)["dataset_version"][0]


def test_every_error_is_reported_at_once(project_a, ds_user, media) -> None:
    version = make_version(project_a, ds_user, blobs_frame())
    with pytest.raises(ValidationError) as exc:
        _start(
            project_a,
            ds_user,
            version,
            options={"k": "auto", "k_min": 0, "method": "x", "seed": "s"},
            columns=["ghost"],
        )
    assert set(_errors(exc)) == {"k_min", "method", "seed", "columns"}


@pytest.mark.parametrize(
    ("algorithm", "options", "clean"),
    [
        ("pca", {}, {"variance": 0.9, "seed": 0}),
        ("pca", {"n_components": "2", "seed": "7"}, {"n_components": 2, "seed": 7}),
        ("pca", {"variance": "0.75"}, {"variance": 0.75, "seed": 0}),
        ("kmeans", {}, {"k": "auto", "k_min": 2, "k_max": 10, "method": "silhouette", "seed": 0}),
        (
            "kmeans",
            {"k": "AUTO", "k_min": 3, "k_max": "6", "method": "elbow"},
            {"k": "auto", "k_min": 3, "k_max": 6, "method": "elbow", "seed": 0},
        ),
        ("kmeans", {"k": 4.0, "k_min": "", "method": ""}, {"k": 4, "seed": 0}),
        ("isolation_forest", {}, {"contamination": "auto", "seed": 0}),
        ("isolation_forest", {"contamination": "0.05", "seed": 3}, {"contamination": 0.05, "seed": 3}),
        ("isolation_forest", {"contamination": 0.5}, {"contamination": 0.5, "seed": 0}),
    ],
)
def test_start_records_the_clean_options_and_starts_a_job(project_a, ds_user, media, algorithm, options, clean) -> None:
    version = make_version(project_a, ds_user, blobs_frame())
    run = _start(project_a, ds_user, version, algorithm=algorithm, options=options, columns=" a, b ,a")
    assert run.options == clean
    assert run.columns == ["a", "b"]
    assert (run.project, run.created_by, run.dataset_version, run.status) == (project_a, ds_user, version, "queued")
    assert run.job.kind == "unsupervised.run" and run.job.params == {"run": run.pk}
    assert run.job.title.endswith(": points v1") and run.job.project == project_a


def test_append_columns_suffixes_clashing_names() -> None:
    frame = pd.DataFrame({"a": [1, 2], "Cluster": [0, 0], "cluster_2": [5, 5]})
    new = pd.DataFrame({"cluster": [1, 0], "pc1": [0.1, 0.2]})
    out, names = services.append_columns(frame, new)
    assert names == ["cluster_3", "pc1"]
    assert list(out.columns) == ["a", "Cluster", "cluster_2", "cluster_3", "pc1"]
    assert out["cluster_3"].tolist() == [1, 0] and out["Cluster"].tolist() == [0, 0]


# --- the job, in this process ---------------------------------------------------------------------------------


def _output(run: UnsupervisedRun) -> pd.DataFrame:
    run.refresh_from_db()
    assert run.output_version is not None
    return data_selectors.version_frame(version=run.output_version)


def test_kmeans_job_appends_the_cluster_column_as_a_new_version(project_a, ds_user, media, run_job) -> None:
    frame = blobs_frame()
    frame["cluster"] = "already here"
    version = make_version(project_a, ds_user, frame)
    run = _start(project_a, ds_user, version, options={"k_max": 6}, columns=["a", "b", "c"])
    job = run_job(run.job)
    assert job.status == JobStatus.SUCCEEDED, (job.message, job.error)
    out = _output(run)
    new = run.output_version
    assert (new.kind, new.row_count, new.number) == ("model_output", 150, 1)
    assert new.dataset.name == "points kmeans" and list(new.parents.all()) == [version]
    assert new.source["algorithm"] == "kmeans" and new.source["run"] == run.pk
    assert list(out.columns) == [*frame.columns, "cluster_2"]
    assert out["cluster"].eq("already here").all() and out["cluster_2"].nunique() == 3
    assert run.info["k"] == 3 and run.info["new_columns"] == ["cluster_2"] and run.info["rows"] == 150
    assert run.info["columns_used"] == ["a", "b", "c"]
    assert run.chart["suggested_k"] == 3 and sum(run.chart["sizes"]) == 150
    assert job.message == "3 clusters; saved as points kmeans v1."
    assert job.result == {
        "run": run.pk,
        "dataset_version": new.pk,
        "dataset": new.dataset_id,
        "rows": 150,
        "columns": ["cluster_2"],
    }


def test_pca_job_adds_components(project_a, ds_user, media, run_job) -> None:
    version = make_version(project_a, ds_user, blobs_frame())
    run = _start(project_a, ds_user, version, algorithm="pca", options={"n_components": 2})
    job = run_job(run.job)
    assert job.status == JobStatus.SUCCEEDED, (job.message, job.error)
    out = _output(run)
    assert list(out.columns)[-2:] == ["pc1", "pc2"] and len(out) == 150
    assert run.info["n_components"] == 2 and 0.5 < run.info["variance_explained"] <= 1
    assert set(run.info["columns_used"]) == {"a", "b", "c", "kind"}  # the id column is not a feature
    assert len(run.chart["explained_variance_ratio"]) == 2
    assert "2 component(s) explain" in job.message


def test_isolation_forest_job_flags_the_outliers_and_keeps_their_values(project_a, ds_user, media, run_job) -> None:
    version = make_version(project_a, ds_user, blobs_frame(outliers=3))
    run = _start(
        project_a,
        ds_user,
        version,
        algorithm="isolation_forest",
        options={"contamination": 0.02},
        columns=["a", "b", "c"],
    )
    job = run_job(run.job)
    assert job.status == JobStatus.SUCCEEDED, (job.message, job.error)
    out = _output(run)
    assert list(out.columns)[-2:] == ["anomaly_score", "is_anomaly"] and len(out) == 150
    assert out["is_anomaly"].iloc[:3].all() and int(out["is_anomaly"].sum()) == run.info["n_flagged"]
    top = run.chart["top_rows"]
    assert {r["row"] for r in top[:3]} == {0, 1, 2} and len(top) == 20
    assert run.chart["top_columns"] == ["a", "b", "c"]
    assert top[0]["values"] == out.loc[top[0]["row"], ["a", "b", "c"]].tolist()
    assert f"{run.info['n_flagged']} of 150 rows flagged" in job.message


def test_a_redelivered_job_reuses_the_version_its_first_attempt_stored(project_a, ds_user, media, run_job) -> None:
    version = make_version(project_a, ds_user, blobs_frame())
    run = _start(project_a, ds_user, version, options={"k": 3})
    job = run_job(run.job)
    run.refresh_from_db()
    first = run.output_version_id
    # The worker died after storing the version but before recording the result on the run.
    UnsupervisedRun.objects.filter(pk=run.pk).update(output_version=None, info={}, chart={})
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    result = services.unsupervised_run_execute(JobContext(Job.objects.get(pk=job.pk)))
    assert result["dataset_version"] == first
    run.refresh_from_db()
    assert run.output_version_id == first and run.info["k"] == 3
    assert DatasetVersion.objects.filter(kind="model_output").count() == 1
    # And after success, nothing is redone.
    again = services.unsupervised_run_execute(JobContext(Job.objects.get(pk=job.pk)))
    assert again == {"run": run.pk, "dataset_version": first}


def test_engine_errors_fail_the_job_with_their_message(project_a, ds_user, media, run_job) -> None:
    version = make_version(project_a, ds_user, blobs_frame())
    run = _start(project_a, ds_user, version, algorithm="pca", options={"n_components": 5}, columns=["a", "b", "c"])
    job = run_job(run.job)
    assert job.status == JobStatus.FAILED
    assert job.message == "PCA failed: n_components must be between 1 and 3."
    run.refresh_from_db()
    assert run.output_version is None and run.info == {}
    text = make_version(project_a, ds_user, blobs_frame(), name="labels only")
    run = _start(project_a, ds_user, text, algorithm="kmeans", options={"k": 2}, columns=["row_id"])
    job = run_job(run.job)
    assert job.status == JobStatus.FAILED
    assert job.message == "k-means failed: No usable numeric, categorical, boolean or date column."
    assert DatasetVersion.objects.filter(kind="model_output").count() == 0


def test_a_long_dataset_name_is_shortened_to_fit(project_a, ds_user, media, run_job) -> None:
    name = "x" * 95
    version = make_version(project_a, ds_user, blobs_frame(), name=name)
    run = _start(project_a, ds_user, version, algorithm="isolation_forest")
    job = run_job(run.job)
    assert job.status == JobStatus.SUCCEEDED, job.message
    run.refresh_from_db()
    dataset = Dataset.objects.get(pk=run.output_version.dataset_id)
    assert dataset.name == "x" * 83 + " isolation_forest" and len(dataset.name) == 100
