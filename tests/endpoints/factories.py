"""Approved model versions for endpoint tests without a Canvas build: a small fitted engine model (AtelierModel
around a scikit-learn pipeline), signed into project storage and registered, then approved by an MLOps user."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from apps.automl.engine import AtelierModel, save_model
from apps.automl.engine.model import Member
from apps.core.artifacts import artifact_store
from apps.registry.services import version_approval_update, version_create

FEATURES = [
    {"name": "x1", "kind": "numeric", "dtype": "float64"},
    {"name": "x2", "kind": "numeric", "dtype": "float64"},
    {"name": "colour", "kind": "categorical", "dtype": "string"},
]
SIGNATURE_BINARY = {
    "inputs": [
        {"name": "x1", "type": "double"},
        {"name": "x2", "type": "double"},
        {"name": "colour", "type": "string"},
    ],
    "outputs": [{"name": "prediction", "type": "string"}],
}


def training_frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    churn = np.where(x1 + 0.5 * x2 + (colour == "red") > 0.3, "yes", "no")
    return pd.DataFrame({"x1": x1, "x2": x2, "colour": colour, "churn": churn})


def _pipeline(estimator: Any) -> Pipeline:
    pre = ColumnTransformer(
        [("num", "passthrough", ["x1", "x2"]), ("cat", OneHotEncoder(handle_unknown="ignore"), ["colour"])]
    )
    return Pipeline([("pre", pre), ("model", estimator)])


def binary_model(seed: int = 0, flip: bool = False) -> AtelierModel:
    """A logistic regression on x1, x2, colour; `flip` swaps what it learns (a distinguishable second model)."""
    df = training_frame(seed=seed)
    y = (df["churn"] == ("no" if flip else "yes")).astype(int)
    pipe = _pipeline(LogisticRegression(max_iter=200)).fit(df[["x1", "x2", "colour"]], y)
    return AtelierModel(
        problem_type="binary",
        target="churn",
        objective="roc_auc",
        classes=["no", "yes"],
        features=list(FEATURES),
        ignored_columns=["churn"],
        members=[Member("linear-0", "linear", 1.0, pipe)],
    )


def regression_model(offset: float = 0.0) -> AtelierModel:
    df = training_frame()
    y = 2 * df["x1"] - df["x2"] + offset
    pipe = _pipeline(LinearRegression()).fit(df[["x1", "x2", "colour"]], y)
    return AtelierModel(
        problem_type="regression",
        target="score",
        objective="rmse",
        classes=[],
        features=list(FEATURES),
        ignored_columns=[],
        members=[Member("linear-0", "linear", 1.0, pipe)],
    )


def register(
    project: Any,
    user: Any,
    model: AtelierModel | None = None,
    *,
    group: str = "churn",
    approve_by: Any = None,
    dataset_version: Any = None,
) -> Any:
    """The model as the next version of `group` in `project`; approved when `approve_by` (an MLOps user) is given."""
    model = model or binary_model()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.joblib"
        save_model(model, path)
        artifact = artifact_store(
            project_id=project.pk, kind="automl.model", local_path=path, filename="model.joblib", created_by_id=user.pk
        )
    regression = model.problem_type == "regression"
    signature = {
        "inputs": SIGNATURE_BINARY["inputs"],
        "outputs": [{"name": "prediction", "type": "double" if regression else "string"}],
    }
    version = version_create(
        project=project,
        created_by=user,
        group_name=group,
        artifact=artifact,
        fmt="atelier",
        source_kind="automl",
        signature=signature,
        classes=list(model.classes),
        problem_type=model.problem_type,
        target=model.target,
        dataset_version=dataset_version,
    )
    if approve_by is not None:
        version = version_approval_update(
            version=version, user=approve_by, status="Approved", description="ok for tests"
        )
    return version


ROWS = [
    {"x1": 1.5, "x2": 0.2, "colour": "red"},
    {"x1": -2.0, "x2": -1.0, "colour": "blue"},
    {"x1": 0.1, "x2": 0.3, "colour": "green"},
]
