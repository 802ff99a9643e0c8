"""Canvas services against the database: the checklist, predictions with schema errors, registration with a
verified artifact (and a tampered one refused), candidate selection. Models are trained in-process here (tiny
budgets); tests/automl/test_jobs.py trains through a real worker."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from apps.automl import services
from apps.automl.models import AutomlBuild
from apps.core.artifacts import ArtifactTampered
from apps.core.storage import storage
from apps.datasets import storage as data_files
from apps.registry.models import ModelVersion
from tests.factories import binary_frame, make_version, regression_frame, trained_build


def test_check_catches_a_missing_target_column(project_a, ds_user, media) -> None:
    version = make_version(project_a, ds_user, binary_frame())
    with pytest.raises(ValidationError) as err:
        services.automl_check(version=version, target="nope")
    assert "nope" in err.value.message_dict["target"][0]
    assert "x1" in err.value.message_dict["target"][0]  # names the columns there are


def test_check_flags_single_class_and_too_few_rows(project_a, ds_user, media) -> None:
    frame = binary_frame(10)
    frame["churn"] = "yes"
    version = make_version(project_a, ds_user, frame)
    _, checks = services.automl_check(version=version, target="churn")
    codes = {c["code"]: c["severity"] for c in checks}
    assert codes["too_few_rows"] == "error"
    assert codes["target_single_class"] == "error"
    with pytest.raises(ValidationError) as err:
        services.automl_build_start(project=project_a, created_by=ds_user, version=version, target="churn")
    assert "single value" in " ".join(err.value.message_dict["churn"])
    assert AutomlBuild.objects.count() == 0  # nothing half-written


def test_check_includes_leakage_from_the_quality_report(project_a, ds_user, media) -> None:
    from apps.datasets.models import ProfileReport

    version = make_version(project_a, ds_user, binary_frame())
    name, size = data_files.write_json(
        {
            "leakage": {
                "features": [
                    {"column": "x2", "score": 0.99, "metric": "auc", "flag": True},
                    {"column": "x1", "score": 0.6, "metric": "auc", "flag": False},
                ]
            }
        },
        data_files.report_path(project_a.pk, version.dataset_id, 1, None),
    )
    ProfileReport.objects.create(project=project_a, version=version, target="churn", file=name, bytes=size)
    _, checks = services.automl_check(version=version, target="churn")
    leaks = [c for c in checks if c["code"] == "leakage" and c.get("source") == "profile"]
    assert [c["column"] for c in leaks] == ["x2"]
    assert leaks[0]["severity"] == "warning"


def test_objective_must_fit_the_problem_type(project_a, ds_user, media) -> None:
    version = make_version(project_a, ds_user, regression_frame())
    with pytest.raises(ValidationError) as err:
        services.automl_check(version=version, target="price", problem_type="regression", objective="roc_auc")
    assert "rmse" in err.value.message_dict["objective"][0]
    with pytest.raises(ValidationError) as err:
        services.automl_check(version=version, target="price", objective="roc_auc")  # detected: regression
    assert "regression" in err.value.message_dict["objective"][0]


def test_predict_and_its_schema_errors(project_a, ds_user, media) -> None:
    build = trained_build(project_a, ds_user, binary_frame(), "churn")
    row = {"x1": 2.0, "x2": -2.0, "colour": "red"}
    out = services.automl_predict(build=build, rows=[row])
    assert out["predictions"] == ["yes"]
    assert set(out["probabilities"][0]) == {"yes", "no"}
    assert out["probabilities"][0]["yes"] > 0.5
    with pytest.raises(ValidationError) as err:
        services.automl_predict(build=build, rows=[{"x1": 1.0, "colour": "red"}])
    assert set(err.value.message_dict) == {"x2"}
    with pytest.raises(ValidationError) as err:
        services.automl_predict(build=build, rows=[{**row, "surprise": 1}])
    assert set(err.value.message_dict) == {"surprise"}
    with pytest.raises(ValidationError) as err:
        services.automl_predict(build=build, rows=[{**row, "x1": "lots"}])
    assert set(err.value.message_dict) == {"x1"}
    assert "numeric" in err.value.message_dict["x1"][0]


def test_register_records_a_registry_version_and_refuses_a_tampered_artifact(project_a, ds_user, media) -> None:
    build = trained_build(project_a, ds_user, regression_frame(), "price")
    version = services.automl_register(build=build, created_by=ds_user)
    assert (version.group.name, version.version, version.candidate) == ("customers-price", 1, build.best_candidate)
    assert version.approval_status == "PendingManualApproval" and version.format == "atelier"
    assert version.artifact.sha256 == build.artifact.sha256 and len(version.artifact.sha256) == 64
    assert (
        version.metrics["rmse"]
        == next(e for e in build.leaderboard if e["name"] == build.best_candidate)["metrics"]["rmse"]
    )
    assert version.dataset_version == build.dataset_version and version.automl_build == build
    assert set(version.library_versions) >= {"scikit-learn", "lightgbm", "pandas", "numpy"}
    assert version.target == "price" and {i["name"] for i in version.signature["inputs"]} == {"a", "b"}
    assert version.signature["outputs"] == [{"name": "prediction", "type": "double"}]
    again = services.automl_register(build=build, created_by=ds_user)
    assert again.version == 2
    # Tamper with the bytes: loading and registering are refused.
    with storage().open(build.artifact.path, "rb") as handle:
        data = bytearray(handle.read())
    data[-1] ^= 0xFF
    with open(storage().path(build.artifact.path), "wb") as handle:
        handle.write(bytes(data))
    with pytest.raises(ArtifactTampered):
        services.load_build_model(build=build)
    with pytest.raises(ArtifactTampered):
        services.automl_register(build=build, created_by=ds_user)
    assert ModelVersion.objects.count() == 2


def test_select_takes_the_best_at_once_and_starts_a_fit_for_another(project_a, ds_user, media) -> None:
    build = trained_build(project_a, ds_user, binary_frame(), "churn")
    others = [e["name"] for e in build.leaderboard if not e["best"] and e["algorithm"] != "ensemble"]
    with pytest.raises(ValidationError) as err:
        services.automl_candidate_select(build=build, candidate="missing-9", created_by=ds_user)
    assert "missing-9" in err.value.message_dict["candidate"][0]
    assert others, build.leaderboard
    selection = services.automl_candidate_select(build=build, candidate=others[0], created_by=ds_user)
    assert selection.job is not None and selection.job.kind == "automl.fit_candidate"
    assert selection.job.params == {"build": build.pk, "candidate": others[0]}
    build.refresh_from_db()
    assert build.selected_candidate == ""  # selected only once the fit succeeds
    selection = services.automl_candidate_select(build=build, candidate=build.best_candidate, created_by=ds_user)
    assert selection.job is None
    build.refresh_from_db()
    assert build.selected_candidate == build.best_candidate
