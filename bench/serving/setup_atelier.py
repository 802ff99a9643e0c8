"""Set up a throw-away Atelier for the serving benchmark (run by run.py with ATELIER_VAR_DIR pointing at a temp
directory, after `manage.py migrate`): train the two models on the same data, store them as signed Atelier models,
register, approve and deploy each to a real-time endpoint, export each as an MLflow model directory, and print
one JSON line: {"sample_csv", "models": {name: {endpoint, key, mlflow_dir}}}.

    python bench/serving/setup_atelier.py WORKDIR rf,lr
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import django

django.setup()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402

from apps.accounts.services import membership_add, project_create, user_create  # noqa: E402
from apps.automl.engine import save_model  # noqa: E402
from apps.automl.engine.algorithms import get_algorithm  # noqa: E402
from apps.automl.engine.model import AtelierModel, Member  # noqa: E402
from apps.automl.engine.preprocess import build_preprocessor  # noqa: E402
from apps.core.artifacts import artifact_store  # noqa: E402
from apps.endpoints.services import endpoint_create  # noqa: E402
from apps.registry.choices import ApprovalStatus, ModelFormat, SourceKind  # noqa: E402
from apps.registry.export import export_mlflow_dir  # noqa: E402
from apps.registry.services import version_approval_update, version_create  # noqa: E402

N_ROWS, N_FEATURES = 20_000, 20


def data() -> pd.DataFrame:
    X, y = make_classification(n_samples=N_ROWS, n_features=N_FEATURES, n_informative=10, random_state=0)
    frame = pd.DataFrame(X.round(5), columns=[f"f{i}" for i in range(N_FEATURES)])
    frame["label"] = np.where(y == 1, "yes", "no")
    return frame


def model(kind: str, frame: pd.DataFrame) -> AtelierModel:
    """A plain scikit-learn pipeline (the engine's preprocessing + the estimator) as an Atelier model."""
    features = [c for c in frame.columns if c != "label"]
    kinds = dict.fromkeys(features, "numeric")
    algorithm = "random_forest" if kind == "rf" else "linear"
    prep = build_preprocessor(kinds, get_algorithm(algorithm).prep, len(frame))
    estimator = (
        RandomForestClassifier(n_estimators=100, n_jobs=1, random_state=0)
        if kind == "rf"
        else LogisticRegression(max_iter=1000)
    )
    y = (frame["label"] == "yes").astype(int).to_numpy()
    pipe = Pipeline([("prep", prep), ("model", estimator)]).fit(frame[features], y)
    return AtelierModel(
        "binary",
        "label",
        "roc_auc",
        ["no", "yes"],
        [{"name": c, "kind": "numeric", "dtype": "float64"} for c in features],
        [],
        [Member(kind, algorithm, 1.0, pipe)],
    )


def main() -> None:
    work, kinds = Path(sys.argv[1]), sys.argv[2].split(",")
    frame = data()
    sample = work / "sample.csv"
    frame.drop(columns=["label"]).head(10_000).to_csv(sample, index=False)
    user = user_create(username="bench", personas=["mlops_engineer"], validate=False)
    project = project_create(name="Serving bench", created_by=user)
    membership_add(project=project, user=user)
    out: dict = {"sample_csv": str(sample), "models": {}}
    for kind in kinds:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.joblib"
            save_model(model(kind, frame), path)
            artifact = artifact_store(
                project_id=project.pk,
                kind="automl.model",
                local_path=path,
                filename="model.joblib",
                created_by_id=user.pk,
            )
        signature = {
            "inputs": [{"name": f"f{i}", "type": "double"} for i in range(N_FEATURES)],
            "outputs": [{"name": "prediction", "type": "string"}],
        }
        version = version_create(
            project=project,
            created_by=user,
            group_name=f"bench-{kind}",
            artifact=artifact,
            fmt=ModelFormat.ATELIER,
            source_kind=SourceKind.AUTOML,
            signature=signature,
            classes=["no", "yes"],
            problem_type="binary",
            target="label",
        )
        version = version_approval_update(
            version=version, user=user, status=ApprovalStatus.APPROVED, description="bench"
        )
        endpoint, key = endpoint_create(
            project=project, user=user, name=f"bench-{kind}", variants=[{"model_version": version, "weight": 1}]
        )
        mlflow_dir = export_mlflow_dir(version=version, target=work / f"mlflow-{kind}")
        out["models"][kind] = {"endpoint": endpoint.name, "key": key, "mlflow_dir": str(mlflow_dir)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
