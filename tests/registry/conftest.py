"""Registry fixtures: versions of every format (a Canvas model trained here, a skops pipeline, an ONNX conversion),
model files of each kind, and a crafted pickle whose unpickling would write a canary file."""

from __future__ import annotations

import functools
import io
import os
import pickle
import tempfile
import uuid
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.automl import engine
from apps.core.artifacts import artifact_store
from apps.core.tempfiles import temp_dir
from apps.registry.models import ModelVersion
from apps.registry.services import version_from_canvas


@pytest.fixture(autouse=True)
def _media(media):  # type: ignore[no-untyped-def]
    """Every test here gets its own MEDIA_ROOT (tests/conftest.py)."""
    return media


# --- data and models ------------------------------------------------------------------------------------------


def churn_frame(n: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    y = np.where(x1 - x2 + (colour == "red") + rng.normal(scale=0.3, size=n) > 0, "yes", "no")
    return pd.DataFrame({"x1": x1, "x2": x2, "colour": pd.array(colour, "string"), "churn": y})


def numeric_frame(n: int = 200, seed: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "age": rng.uniform(18, 80, n),
            "income": rng.normal(50, 15, n),
            "tenure": rng.integers(0, 20, n).astype(float),
            "score": rng.normal(size=n),
        }
    )
    y = np.where(
        0.05 * X["age"] - 0.04 * X["income"] + X["score"] + rng.normal(scale=0.5, size=n) > 0.5, "churned", "stayed"
    )
    return X, y


@functools.cache
def canvas_model(seed: int = 0) -> tuple[bytes, dict[str, Any]]:
    """A Canvas model (bytes of its joblib file) and its report, trained once per test session."""
    result = engine.build(
        churn_frame(seed=seed),
        engine.BuildConfig(target="churn", time_budget_s=3, seed=seed, max_trials=2 + seed, algorithms=["linear"]),
    )
    fd, tmp = tempfile.mkstemp(suffix=".joblib")
    os.close(fd)
    try:
        engine.save_model(result.model, tmp)
        return Path(tmp).read_bytes(), result.report
    finally:
        os.unlink(tmp)


def store_bytes(project: Any, content: bytes, filename: str, kind: str = "automl.model") -> Any:
    fd, tmp = tempfile.mkstemp(dir=temp_dir())
    with os.fdopen(fd, "wb") as fh:
        fh.write(content)
    try:
        return artifact_store(project_id=project.pk, kind=kind, local_path=tmp, filename=filename)
    finally:
        os.unlink(tmp)


def canvas_version(project: Any, user: Any, group: str = "churn", seed: int = 0, **lineage: Any) -> ModelVersion:
    """A Canvas model registered as the next version of `group` (lineage: dataset_version, automl_build, ...)."""
    content, report = canvas_model(seed)
    artifact = store_bytes(project, content, "model.joblib")
    entry = next(e for e in report["leaderboard"] if e["name"] == report["best"])
    return version_from_canvas(
        project=project,
        created_by=user,
        group_name=group,
        artifact=artifact,
        report=report,
        entry=entry,
        candidate=report["best"],
        target="churn",
        library_versions={"scikit-learn": "test"},
        **lineage,
    )


@functools.cache
def logistic_pipeline() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = numeric_frame()
    return make_pipeline(StandardScaler(), LogisticRegression(C=0.5)).fit(X, y)


def skops_bytes(model: Any) -> bytes:
    import skops.io

    buffer = io.BytesIO()
    skops.io.dump(model, buffer)
    return buffer.getvalue()


@functools.cache
def logistic_skops() -> bytes:
    return skops_bytes(logistic_pipeline())


@functools.cache
def forest_skops() -> bytes:
    from sklearn.ensemble import RandomForestClassifier

    X, y = numeric_frame()
    return skops_bytes(RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y))


@functools.cache
def logistic_onnx() -> bytes:
    """The logistic pipeline as ONNX: one float tensor of the four columns (the file does not name them)."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    onx = to_onnx(
        logistic_pipeline(),
        initial_types=[("X", FloatTensorType([None, 4]))],
        options={"zipmap": False},
        target_opset=17,
    )
    return onx.SerializeToString()


@functools.cache
def per_column_onnx() -> bytes:
    """A ColumnTransformer pipeline converted with one named input per column (the file names its columns)."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = numeric_frame()
    pipe = Pipeline(
        [("prep", ColumnTransformer([("num", StandardScaler(), list(X.columns))])), ("clf", LogisticRegression())]
    ).fit(X, y)
    onx = to_onnx(pipe, initial_types=[(c, FloatTensorType([None, 1])) for c in X.columns], target_opset=17)
    return onx.SerializeToString()


SIGNATURE = {"inputs": [{"name": c, "type": "double"} for c in ("age", "income", "tenure", "score")]}


# --- hostile files -----------------------------------------------------------------------------------------


class Canary:
    """Unpickling this writes the canary file: the proof that a pickle was loaded."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path(self.path).write_text, ("pwned",))


@pytest.fixture
def canary() -> Any:
    path = Path(tempfile.gettempdir()) / f"atelier-canary-{uuid.uuid4().hex}"
    assert not path.exists()
    yield path
    path.unlink(missing_ok=True)


def crafted_pickles(canary_path: Path) -> dict[str, bytes]:
    """The same payload as a plain pickle, a joblib file, a cloudpickle and a torch-style ZIP holding a pickle."""
    import cloudpickle
    import joblib

    payload = Canary(str(canary_path))
    plain = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    buffer = io.BytesIO()
    joblib.dump(payload, buffer)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("archive/data.pkl", plain)
        zf.writestr("archive/version", "3")
    return {
        "model.pkl": plain,
        "model.joblib": buffer.getvalue(),
        "model.cloudpickle": cloudpickle.dumps(payload),
        "model.pt": archive.getvalue(),
        "model.skops": plain,
        "model.onnx": plain,
    }


def upload(content: bytes, name: str = "model.bin") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")
