"""Loading a registered version for prediction, whatever its format, behind one small interface.

* atelier: the engine's model, written by our own workers (joblib), loaded only from a copy whose SHA-256 and
  HMAC match (apps/core/artifacts.py).
* skops: imported; loaded with skops.io and only the types of the allowlist (settings.REGISTRY_SKOPS_TRUSTED_TYPES,
  checked again at every load, not only at import). Never a pickle.
* onnx: imported; served with onnxruntime (one tensor input of all features, or one input per column).

Every predictor checks rows against the version's input signature first: SchemaError names the missing or
mistyped columns (the endpoint turns it into a 400 naming them)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
from django.conf import settings

from apps.automl import engine
from apps.automl.engine.model import AtelierModel, SchemaError
from apps.core.artifacts import artifact_local_copy
from apps.registry import skopsfile
from apps.registry.acceleration import FastForest, accelerate
from apps.registry.choices import ModelFormat

NUMERIC_TYPES = ("double", "float", "integer", "long", "boolean")


class Predictor(Protocol):
    feature_names: list[str]
    classes: list[Any]

    def check(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows the model reads, in its column order; SchemaError names missing or mistyped columns."""
        ...

    def predict_checked(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        """(predictions (n,), class probabilities (n, K) or None) for rows that passed `check`."""
        ...

    def predict(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]: ...


class UnsafeModel(ValueError):
    """An imported file holds types outside the allowlist; ``types`` names them."""

    def __init__(self, types: list[str]) -> None:
        super().__init__(
            "The model file uses types that are not on the allowlist, so it is not loaded: " + ", ".join(types) + "."
        )
        self.types = types


# --- signature checks ----------------------------------------------------------------------------------------


def check_frame(frame: pd.DataFrame, inputs: list[dict[str, Any]]) -> pd.DataFrame:
    """The frame's signature columns in order (extra columns are dropped, as MLflow does), numbers coerced;
    SchemaError names missing columns and values of the wrong type."""
    names = [str(i["name"]) for i in inputs]
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise SchemaError(f"Missing column(s): {', '.join(missing)}. The model needs: {', '.join(names)}.", missing)
    out = frame[names]
    wrong, details = [], []
    for spec in inputs:
        name, kind = str(spec["name"]), str(spec.get("type") or "string")
        if kind not in NUMERIC_TYPES:
            continue
        s = out[name]
        if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            continue
        coerced = pd.to_numeric(s, errors="coerce")
        bad = s.notna() & coerced.isna()
        if bool(bad.any()):
            wrong.append(name)
            details.append(f"{name} expects {kind} values, got {s[bad].iloc[0]!r} (row {int(np.flatnonzero(bad)[0])})")
        else:
            out = out.assign(**{name: coerced})
    if wrong:
        raise SchemaError("Wrong value type(s): " + "; ".join(details) + ".", wrong)
    return out


# --- predictors ----------------------------------------------------------------------------------------------


class CheckedPredictor:
    """`predict` = `check`, then `predict_checked` (the serving path calls the two apart to batch checked rows)."""

    def predict(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        return self.predict_checked(self.check(frame))  # type: ignore[attr-defined]


@dataclass
class AtelierPredictor(CheckedPredictor):
    model: AtelierModel
    feature_names: list[str] = field(init=False)
    classes: list[Any] = field(init=False)

    def __post_init__(self) -> None:
        self.feature_names = list(self.model.feature_names)
        self.classes = list(self.model.classes)

    def check(self, frame: pd.DataFrame) -> pd.DataFrame:
        return engine.check_rows(self.model, frame, allow_extra=True)

    def predict_checked(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        raw = self.model.raw(X) if len(X) else np.empty((0, max(1, len(self.classes))))
        if self.model.problem_type == "regression":
            return np.asarray(raw, dtype=float).reshape(-1), None
        return np.asarray(self.classes, dtype=object)[raw.argmax(axis=1)], raw


@dataclass
class EstimatorPredictor(CheckedPredictor):
    """A scikit-learn estimator or pipeline imported from a skops file."""

    estimator: Any
    inputs: list[dict[str, Any]]
    classes: list[Any]
    feature_names: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.feature_names = [str(i["name"]) for i in self.inputs]

    def check(self, frame: pd.DataFrame) -> pd.DataFrame:
        return check_frame(frame, self.inputs)

    def predict_checked(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        if not len(X):
            return np.empty(0), None
        proba = self.estimator.predict_proba(X) if hasattr(self.estimator, "predict_proba") and self.classes else None
        if proba is not None:
            return np.asarray(self.estimator.classes_, dtype=object)[np.asarray(proba).argmax(axis=1)], proba
        return np.asarray(self.estimator.predict(X)), None


@dataclass
class OnnxPredictor(CheckedPredictor):
    session: Any
    inputs: list[dict[str, Any]]
    classes: list[Any]
    feature_names: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.feature_names = [str(i["name"]) for i in self.inputs]
        self._inputs = self.session.get_inputs()
        self._outputs = [o.name for o in self.session.get_outputs()]

    def _feed(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        if len(self._inputs) == 1:  # one tensor of every feature
            onnx_input = self._inputs[0]
            dtype = np.int64 if "int64" in onnx_input.type else np.float32
            return {onnx_input.name: X.to_numpy(dtype=dtype)}
        feed = {}
        for onnx_input in self._inputs:  # one input per column (skl2onnx with named columns)
            column = X[onnx_input.name]
            if "string" in onnx_input.type:
                feed[onnx_input.name] = column.astype(str).to_numpy(dtype=object).reshape(-1, 1)
            else:
                dtype = np.int64 if "int64" in onnx_input.type else np.float32
                feed[onnx_input.name] = column.to_numpy(dtype=dtype).reshape(-1, 1)
        return feed

    def check(self, frame: pd.DataFrame) -> pd.DataFrame:
        return check_frame(frame, self.inputs)

    def predict_checked(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        if not len(X):
            return np.empty(0), None
        outputs = self.session.run(None, self._feed(X))
        labels = np.asarray(outputs[0]).reshape(-1)
        proba = None
        if len(outputs) > 1:
            second = outputs[1]
            if isinstance(second, list) and second and isinstance(second[0], dict):  # ZipMap output
                keys = list(second[0])
                proba = np.array([[row[k] for k in keys] for row in second], dtype=float)
            else:
                proba = np.asarray(second, dtype=float)
        return labels, proba


# --- loading -------------------------------------------------------------------------------------------------


def skops_untrusted(path: str) -> list[str]:
    """Types in a skops file that neither skops trusts by default nor our allowlist admits (the file is read through
    apps/registry/skopsfile.py: ArchiveError or SkopsError for a file that is not safe to read)."""
    allowed = set(getattr(settings, "REGISTRY_SKOPS_TRUSTED_TYPES", []))
    return [t for t in skopsfile.untrusted_types(path) if t not in allowed]


def load_file(
    path: str, fmt: str, *, inputs: list[dict[str, Any]], classes: list[Any], native_code: bool = True
) -> Predictor:
    """A predictor from a local, already verified file (forests served by acceleration.FastForest, switched to native
    code where this process may run it, see native.mode(): same answers)."""
    from apps.registry import native as compiled

    threads = int(getattr(settings, "SERVING_THREADS_PER_MODEL", 1))
    native = native_code and compiled.mode() != "off"
    if fmt == ModelFormat.ATELIER:
        model = engine.load_model(path)
        members = [dataclasses.replace(m, pipeline=accelerate(m.pipeline, threads, native)) for m in model.members]
        return AtelierPredictor(dataclasses.replace(model, members=members))
    if fmt == ModelFormat.SKOPS:
        untrusted = skops_untrusted(path)
        if untrusted:
            raise UnsafeModel(untrusted)
        trusted = skopsfile.untrusted_types(path)
        return EstimatorPredictor(accelerate(skopsfile.load(path, trusted), threads, native), inputs, classes)
    if fmt == ModelFormat.ONNX:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle threads must not burn CPU
        session = onnxruntime.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])
        return OnnxPredictor(session, inputs, classes)
    raise ValueError(f"Unknown model format {fmt!r}.")


def forests_of(predictor: Predictor) -> list[FastForest]:
    """The accelerated forests a predictor serves with (to report or wait for their native code)."""
    if isinstance(predictor, AtelierPredictor):
        estimators = [m.pipeline for m in predictor.model.members]
    elif isinstance(predictor, EstimatorPredictor):
        estimators = [predictor.estimator]
    else:
        estimators = []
    found = [getattr(e, "last", e) for e in estimators]
    return [f for f in found if isinstance(f, FastForest)]


def load_version(version: Any, *, native_code: bool = True) -> Predictor:
    """The version's predictor, from a verified copy of its signed artifact (ArtifactTampered otherwise). A serving
    process that may run compiled forests but finds them not compiled asks a worker to compile them."""
    from apps.registry import native

    with artifact_local_copy(version.artifact) as path:
        predictor = load_file(
            str(path),
            version.format,
            inputs=list((version.signature or {}).get("inputs") or []),
            classes=list(version.classes or []),
            native_code=native_code,
        )
    if native_code and native.mode() == "load":
        pending = [f for f in forests_of(predictor) if native.needs_compile(f.trees, f.leaves, int(f.n_features_in_))]
        if pending:
            from apps.registry.services import version_forests_compile_request

            version_forests_compile_request(version=version)
    return predictor


def predictions_answer(
    predictor: Predictor, labels: np.ndarray, proba: np.ndarray | None, *, probabilities: bool = False
) -> dict[str, Any]:
    out: dict[str, Any] = {"predictions": labels.tolist()}
    if probabilities and proba is not None:
        keys = [str(c) for c in predictor.classes]
        out["probabilities"] = [dict(zip(keys, row, strict=False)) for row in np.round(proba, 6).tolist()]
    return out
