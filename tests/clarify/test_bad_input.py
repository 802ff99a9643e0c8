"""Bad input to a Clarify report: each case a clear error naming the field and the problem, and nothing stored (no
report, no job). Values checked in the job for long versions fail the job with the same message and leave no
analysis behind."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile

from apps.clarify import services
from apps.clarify.models import ClarifyReport
from apps.jobs.choices import JobStatus
from apps.jobs.models import Job
from tests.clarify.data import CONFIG, churn_frame, churn_version
from tests.factories import ModelVersionFactory, make_version


def _refused(project, user, version, config, **kw: Any) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    before = (ClarifyReport.objects.count(), Job.objects.count())
    with pytest.raises(ValidationError) as err:
        services.report_start(project=project, created_by=user, dataset_version=version, config=config, **kw)
    assert (ClarifyReport.objects.count(), Job.objects.count()) == before
    return err.value.message_dict


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"label": "churned"}, "label", ["'churned' is not in churn v1", "churn_true"]),
        ({"facets": [{"name": "sex", "values": ["F"]}]}, "facets", ["'sex' is not in churn v1"]),
        ({"group": "county"}, "group", ["'county' is not in churn v1"]),
        ({"reference": "truth"}, "reference", ["'truth' is not in churn v1"]),
        ({"reference": "churn"}, "reference", ["another column than the label"]),
        ({"facets": [{"name": "gender", "values": ["X", "F"]}]}, "facets", ["'X' never occur", "F, M"]),
        ({"positive_label_values": ["Yes"]}, "positive_label_values", ["'Yes' never occur in 'churn'", "no, yes"]),
        ({"positive_label_values": ["yes", "no"]}, "positive_label_values", ["one class", "positive"]),
        ({"positive_label_values": []}, "positive_label_values", ["Give the positive label value"]),
        ({"label_threshold": 3}, "label_threshold", ["not numeric"]),
        ({"facets": [{"name": "gender", "threshold": 1}]}, "facets", ["'gender' is not numeric"]),
        ({"facets": [{"name": "churn"}]}, "facets", ["is the label column"]),
        ({"facets": []}, "facets", ["at least one facet"]),
        ({"probability_threshold": 1.5}, "probability_threshold", ["between 0 and 1"]),
    ],
)
def test_each_bad_config_is_refused_naming_the_field(ds_user, project_a, media, change, field, words) -> None:
    version = churn_version(project_a, ds_user, n=100)
    errors = _refused(project_a, ds_user, version, {**CONFIG, **change})
    assert field in errors, errors
    text = " ".join(errors[field])
    for word in words:
        assert word in text, text


def test_a_label_with_one_class_is_refused(ds_user, project_a, media) -> None:
    frame = churn_frame(100)
    frame["churn"] = "no"
    version = make_version(project_a, ds_user, frame, name="flat")
    errors = _refused(project_a, ds_user, version, {**CONFIG, "positive_label_values": ["no"]})
    assert errors["label"] == ["Label column 'churn' has one class ('no'); bias metrics need two or more."]


def test_a_numeric_label_and_facet_take_thresholds_and_values_as_written(ds_user, project_a, media, run_job) -> None:
    frame = churn_frame(200)
    frame["score"] = frame["x1"] * 10
    frame["approved"] = frame["churn"].map({"yes": "Yes", "no": "No"})
    version = make_version(project_a, ds_user, frame, name="scores")
    errors = _refused(
        project_a, ds_user, version, {**CONFIG, "label": "score", "positive_label_values": [], "label_threshold": 1e9}
    )
    assert "label_threshold" in errors and "one class" in errors["label_threshold"][0]
    config = {
        "label": "approved",
        "positive_label_values": "Yes",  # one value, as a form sends it
        "facets": [{"name": "age", "threshold": "40"}],
    }
    report = services.report_start(project=project_a, created_by=ds_user, dataset_version=version, config=config)
    assert report.config["positive_label_values"] == ["Yes"] and report.config["facets"][0]["threshold"] == 40.0
    assert run_job(report.job).status == JobStatus.SUCCEEDED
    report.refresh_from_db()
    pre = report.analysis["pre_training_bias_metrics"]
    assert pre["label_value_or_threshold"] == "Yes"
    assert list(pre["facets"]) == ["age"]


def test_a_model_whose_inputs_are_not_in_the_dataset_is_refused_naming_them(ds_user, project_a, media) -> None:
    frame = churn_frame(100).drop(columns=["x2", "colour"])
    version = make_version(project_a, ds_user, frame, name="narrow")
    model_version = ModelVersionFactory(project=project_a, created_by=ds_user)
    errors = _refused(project_a, ds_user, version, CONFIG, model_version=model_version)
    assert errors["model_version"] == [
        "The model's inputs do not match narrow v1: missing column(s) x2, colour. The model reads: x1, x2, colour."
    ]


def test_a_model_that_predicts_other_labels_is_refused(ds_user, project_a, media) -> None:
    frame = churn_frame(100)
    frame["churn"] = frame["churn"].map({"yes": "Y", "no": "N"})
    version = make_version(project_a, ds_user, frame, name="coded")
    model_version = ModelVersionFactory(project=project_a, created_by=ds_user)
    errors = _refused(
        project_a, ds_user, version, {**CONFIG, "positive_label_values": ["Y"]}, model_version=model_version
    )
    assert "The model predicts 'no', 'yes'; none of them is a positive label value ('Y')" in errors["model_version"][0]


def test_a_model_or_version_of_another_project_is_refused(ds_user, project_a, project_b, outsider, media) -> None:
    version = churn_version(project_a, ds_user, n=100)
    foreign_model = ModelVersionFactory(project=project_b, created_by=outsider)
    errors = _refused(project_a, ds_user, version, CONFIG, model_version=foreign_model)
    assert errors == {"model_version": ["The model belongs to another project."]}
    foreign_version = churn_version(project_b, outsider, n=100)
    errors = _refused(project_a, ds_user, foreign_version, CONFIG)
    assert errors == {"dataset_version": ["The dataset version belongs to another project."]}


def test_values_of_a_long_version_are_checked_in_the_job_and_nothing_is_half_written(
    ds_user, project_a, media, run_job, settings
) -> None:
    settings.CLARIFY_SYNC_CHECK_ROWS = 10  # this version counts as long: its values are read by the job
    version = churn_version(project_a, ds_user, n=100)
    config = {**CONFIG, "facets": [{"name": "gender", "values": ["X"]}]}
    report = services.report_start(project=project_a, created_by=ds_user, dataset_version=version, config=config)
    job = run_job(report.job)
    assert job.status == JobStatus.FAILED
    assert "Facet 'gender': value(s) 'X' never occur; its values are: " in job.error
    report.refresh_from_db()
    assert report.analysis is None and report.details == {}


def test_a_job_that_fails_midway_leaves_no_partial_analysis(ds_user, project_a, media, run_job) -> None:
    """The model part fails after the pre-training metrics were computed: neither is stored."""
    version = churn_version(project_a, ds_user, n=100)
    model_version = ModelVersionFactory(project=project_a, created_by=ds_user)
    report = services.report_start(
        project=project_a, created_by=ds_user, dataset_version=version, config=CONFIG, model_version=model_version
    )
    from apps.core.storage import storage

    storage().delete(model_version.artifact.path)  # the stored model no longer matches its digest
    storage().save(model_version.artifact.path, ContentFile(b"tampered"))
    job = run_job(report.job)
    assert job.status == JobStatus.FAILED and "could not be loaded" in job.error
    report.refresh_from_db()
    assert report.analysis is None and report.details == {}
