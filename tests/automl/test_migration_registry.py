"""Model packages that Canvas recorded before the registry existed become registry versions when migrating."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("automl", "0002_tuning_and_candidates"), ("registry", "0001_initial")]
AFTER = [("automl", "0003_drop_model_package"), ("registry", "0002_adopt_automl_packages")]


@pytest.mark.django_db(transaction=True)
def test_packages_become_registry_versions() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    project = old.get_model("accounts", "Project").objects.create(name="Legacy", slug="legacy")
    artifact = old.get_model("core", "Artifact").objects.create(
        project=project,
        kind="automl.model",
        path="projects/9/artifacts/m/model.joblib",
        sha256="a" * 64,
        size=3,
        signature="b" * 64,
    )
    Package = old.get_model("automl", "AutomlModelPackage")
    schema = {
        "features": [{"name": "age", "kind": "numeric"}, {"name": "plan", "kind": "categorical"}],
        "classes": ["no", "yes"],
        "problem_type": "binary",
    }
    for n in (1, 2):
        Package.objects.create(
            project=project,
            name="churn model_v2!",
            version=n,
            candidate=f"lightgbm-{n}",
            artifact=artifact,
            problem_type="binary",
            objective="roc_auc",
            target="churn",
            metrics={"roc_auc": 0.9},
            parameters={"num_leaves": 31},
            schema=schema,
            library_versions={"scikit-learn": "1.9"},
        )
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    versions = list(new.get_model("registry", "ModelVersion").objects.order_by("version"))
    assert [(v.group.name, v.version, v.candidate) for v in versions] == [
        ("churn-model-v2", 1, "lightgbm-1"),
        ("churn-model-v2", 2, "lightgbm-2"),
    ]
    v = versions[0]
    assert v.approval_status == "PendingManualApproval" and v.format == "atelier" and v.artifact_id == artifact.pk
    assert v.signature["inputs"] == [{"name": "age", "type": "double"}, {"name": "plan", "type": "string"}]
    assert v.classes == ["no", "yes"] and v.hyperparameters == {"num_leaves": 31}
    assert new.get_model("registry", "ApprovalEvent").objects.count() == 2
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())  # leave the database at the latest state
