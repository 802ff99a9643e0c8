"""MLflow `python_function` loader for model versions exported from Atelier.

Plain Python: no Django and no Atelier installation. The export copies this file into the model directory's
`code/` as `atelier_pyfunc.py` (MLmodel: `loader_module: atelier_pyfunc`), next to the Canvas engine package for
models trained in Atelier. `mlflow models serve -m <dir>` and `mlflow.pyfunc.load_model(<dir>)` call
`_load_pyfunc(<dir>/model)`, which reads `atelier.json`, checks the model file's SHA-256 against it and loads:

* atelier: the Canvas engine's model (joblib) — apps.automl.engine from `code/`;
* skops: with skops.io, trusting exactly the types that Atelier's allowlist admitted at export;
* onnx: with onnxruntime.

`predict(frame)` returns the predicted label (classification) or value (regression) per row, the same as Atelier's
endpoints. This mirrors apps/registry/loading.py's predictors; tests/registry/test_export.py checks that an exported
model predicts exactly what load_version does.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import numpy as np
import pandas as pd

META_FILE = "atelier.json"
NUMERIC_TYPES = ("double", "float", "integer", "long", "boolean")


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class AtelierPyfunc:
    """The loaded model behind MLflow's pyfunc interface: `predict(model_input, params=None)`."""

    def __init__(self, meta: dict[str, Any], model_path: str) -> None:
        self.meta = meta
        self.format = meta["format"]
        self.inputs = list(meta.get("inputs") or [])
        self.classes = list(meta.get("classes") or [])
        self.problem_type = meta.get("problem_type") or ""
        self.model: Any
        if self.format == "atelier":
            from apps.automl.engine.model import load_model

            self.model = load_model(model_path)
        elif self.format == "skops":
            import skops.io

            self.model = skops.io.load(model_path, trusted=list(meta.get("trusted_types") or []))
        elif self.format == "onnx":
            import onnxruntime

            self.model = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])
        else:
            raise ValueError(f"Unknown model format {self.format!r} in {META_FILE}.")

    # --- input -----------------------------------------------------------------------------------------------

    def _frame(self, model_input: Any) -> pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        names = [str(i["name"]) for i in self.inputs]
        missing = [n for n in names if n not in frame.columns]
        if missing:
            raise ValueError(f"Missing column(s): {', '.join(missing)}. The model needs: {', '.join(names)}.")
        out = frame[names]
        for spec in self.inputs:
            name = str(spec["name"])
            if str(spec.get("type") or "string") in NUMERIC_TYPES and not pd.api.types.is_numeric_dtype(out[name]):
                out = out.assign(**{name: pd.to_numeric(out[name], errors="raise")})
        return out

    def _onnx_feed(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        inputs = self.model.get_inputs()
        if len(inputs) == 1:
            dtype = np.int64 if "int64" in inputs[0].type else np.float32
            return {inputs[0].name: X.to_numpy(dtype=dtype)}
        feed = {}
        for onnx_input in inputs:
            column = X[onnx_input.name]
            if "string" in onnx_input.type:
                feed[onnx_input.name] = column.astype(str).to_numpy(dtype=object).reshape(-1, 1)
            else:
                dtype = np.int64 if "int64" in onnx_input.type else np.float32
                feed[onnx_input.name] = column.to_numpy(dtype=dtype).reshape(-1, 1)
        return feed

    # --- predict ---------------------------------------------------------------------------------------------

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> np.ndarray:
        if self.format == "atelier":
            from apps.automl.engine.model import check_rows

            frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
            X = check_rows(self.model, frame, allow_extra=True)
            if not len(X):
                return np.empty(0)
            raw = self.model.raw(X)
            if self.model.problem_type == "regression":
                return np.asarray(raw, dtype=float).reshape(-1)
            return np.asarray(self.model.classes, dtype=object)[raw.argmax(axis=1)]
        X = self._frame(model_input)
        if not len(X):
            return np.empty(0)
        if self.format == "skops":
            if hasattr(self.model, "predict_proba") and self.classes:
                proba = np.asarray(self.model.predict_proba(X))
                classes: Any = np.asarray(self.model.classes_, dtype=object)
                return classes[proba.argmax(axis=1)]
            return np.asarray(self.model.predict(X))
        outputs = self.model.run(None, self._onnx_feed(X))
        return np.asarray(outputs[0]).reshape(-1)


def _load_pyfunc(path: str) -> AtelierPyfunc:
    """MLflow's entry point: `path` is the model's data directory (MLmodel `data: model`)."""
    with open(os.path.join(path, META_FILE), encoding="utf-8") as handle:
        meta = json.load(handle)
    name = str(meta["model_file"])
    if os.path.basename(name) != name or name in ("", ".", ".."):
        raise ValueError(f"{META_FILE}: model_file must be a file name in {path}.")
    model_path = os.path.join(path, name)
    if _sha256(model_path) != meta["sha256"]:
        raise ValueError(f"{model_path}: its SHA-256 does not match {META_FILE}; the file changed after export.")
    return AtelierPyfunc(meta, model_path)
