"""The fitted model a build returns, its input schema checks, predictions and typical values."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from .algorithms import predict_raw
from .columns import BOOLEAN, CATEGORICAL, DATETIME, NUMERIC, TEXT, to_python
from .ensemble import apply_temperature
from .metrics import BINARY, REGRESSION
from .preprocess import bool_to_float

MODEL_FORMAT = 1


class SchemaError(ValueError):
    """Rows that do not fit the model's input schema. ``message`` says it once for all columns ("Missing column(s):
    a, b. ..."); ``errors`` maps each column at fault to its own short reason ("missing", "expects numeric values,
    got 'x' (row 3)"), and ``columns`` lists them in order."""

    def __init__(self, message: str, columns: list[str] | None = None, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.columns = list(columns or errors or [])
        self.errors = dict(errors) if errors is not None else {c: message for c in self.columns}


def missing_columns_error(missing: list[str], needed: list[str]) -> SchemaError:
    """One error for every missing column: the message names them all once, each column's reason is "missing"."""
    return SchemaError(
        f"Missing column(s): {', '.join(missing)}. The model needs: {', '.join(needed)}.",
        errors={c: "missing" for c in missing},
    )


@dataclass
class Member:
    name: str
    algorithm: str
    weight: float
    pipeline: Pipeline


@dataclass
class AtelierModel:
    problem_type: str
    target: str
    objective: str
    classes: list[Any]  # original labels, in encoded order (binary: positive second)
    features: list[dict[str, Any]]  # [{name, kind, dtype}] the columns the model reads
    ignored_columns: list[str]  # known training columns the model does not read (ids, constants, target …)
    members: list[Member]
    temperature: float = 1.0
    typical: dict[str, Any] = field(default_factory=dict)
    floor: float = 0.0  # uniform mix of the probabilities (see ensemble.min_floor)
    format: int = MODEL_FORMAT

    @property
    def feature_names(self) -> list[str]:
        return [f["name"] for f in self.features]

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def raw(self, X: pd.DataFrame) -> np.ndarray:
        """Blended probabilities (n, K) or values (n,) for rows already checked against the schema."""
        out: np.ndarray | None = None
        for m in self.members:
            p = predict_raw(m.pipeline, X, self.problem_type, self.n_classes) * m.weight
            out = p if out is None else out + p
        assert out is not None
        if self.problem_type != REGRESSION:
            out = apply_temperature(out / out.sum(axis=1, keepdims=True), self.temperature, self.floor)
        return out

    def schema(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "problem_type": self.problem_type,
            "classes": [to_python(c) for c in self.classes],
            "features": list(self.features),
            "ignored_columns": list(self.ignored_columns),
        }


# --------------------------------------------------------------------------------------------------- schema check
# what pandas.api.types.infer_dtype calls an object column that holds only scalars (no lists, dicts or bytes)
SCALAR_INFERRED = frozenset(
    {
        "string",
        "integer",
        "floating",
        "mixed-integer-float",
        "boolean",
        "empty",
        "decimal",
        "datetime",
        "datetime64",
        "date",
        "time",
        "timedelta",
        "timedelta64",
    }
)


def _bad_values(rows: pd.DataFrame, name: str, kind: str, dtype: Any) -> pd.Series | None:
    """Mask of present values of column `name` that cannot be read as `kind`; None when the column's dtype already
    shows that every value fits (then the check costs no pass over the rows)."""
    if kind == NUMERIC and pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return None
    if kind == DATETIME and pd.api.types.is_datetime64_any_dtype(dtype):
        return None
    if kind in (CATEGORICAL, TEXT) and (
        not pd.api.types.is_object_dtype(dtype) or pd.api.types.infer_dtype(rows[name], skipna=True) in SCALAR_INFERRED
    ):
        return None
    s = rows[name]
    present = s.notna()
    if kind == NUMERIC:
        if pd.api.types.is_bool_dtype(dtype):
            return present
        return present & pd.to_numeric(s, errors="coerce").isna()
    if kind == BOOLEAN:
        return present & pd.Series(np.isnan(bool_to_float(s)), index=s.index)
    if kind == DATETIME:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(s.astype("string"), errors="coerce", format="mixed")
        return present & parsed.isna()
    if kind in (CATEGORICAL, TEXT):  # anything scalar reads as a label; lists or dicts do not
        return present & s.map(lambda v: isinstance(v, (list, dict, set, tuple, bytes))).astype(bool)
    return None


def check_rows(model: AtelierModel, rows: pd.DataFrame, *, allow_extra: bool = False) -> pd.DataFrame:
    """The rows restricted to the model's features, or SchemaError naming missing, unknown or mistyped columns."""
    if not isinstance(rows, pd.DataFrame):
        raise SchemaError("Rows must be a table (a DataFrame or a list of {column: value} objects).")
    names = model.feature_names
    missing = [c for c in names if c not in rows.columns]
    if missing:
        raise missing_columns_error(missing, names)
    if rows.columns.has_duplicates:
        twice = sorted({str(c) for c in rows.columns[rows.columns.duplicated()]})
        raise SchemaError(
            f"Duplicate column(s): {', '.join(twice)}. Send each column once.", errors={c: "sent twice" for c in twice}
        )
    known = set(names) | set(model.ignored_columns)
    extra = [str(c) for c in rows.columns if c not in known]
    if extra and not allow_extra:
        raise SchemaError(
            f"Unknown column(s): {', '.join(extra)}. The model reads only: {', '.join(names)}.",
            errors={c: "not an input of the model" for c in extra},
        )
    wrong: dict[str, str] = {}
    details: list[str] = []
    dtypes = rows.dtypes
    for f in model.features:
        name = f["name"]
        bad = _bad_values(rows, name, f["kind"], dtypes[name])
        if bad is not None and bool(bad.any()):
            example = rows[name][bad].iloc[0]
            wrong[name] = f"expects {f['kind']} values, got {example!r} (row {int(np.flatnonzero(bad.to_numpy())[0])})"
            details.append(f"{name} {wrong[name]}")
    if wrong:
        raise SchemaError("Wrong value type(s): " + "; ".join(details) + ".", errors=wrong)
    return rows[names]


def predict(
    model: AtelierModel, rows: pd.DataFrame | list[dict[str, Any]], *, allow_extra: bool = False
) -> dict[str, Any]:
    """{predictions: [...], probabilities?: [{class: p}]} for JSON; SchemaError when the rows do not fit."""
    if isinstance(rows, list):
        rows = pd.DataFrame.from_records(rows)
    X = check_rows(model, rows, allow_extra=allow_extra)
    if len(X) == 0:
        return {"predictions": []} if model.problem_type == REGRESSION else {"predictions": [], "probabilities": []}
    raw = model.raw(X)
    if model.problem_type == REGRESSION:
        return {"predictions": [float(v) for v in raw]}
    labels = [to_python(model.classes[i]) for i in raw.argmax(axis=1)]
    keys = [str(c) for c in model.classes]
    probs = [{k: round(float(p), 6) for k, p in zip(keys, row, strict=True)} for row in raw]
    return {"predictions": labels, "probabilities": probs}


def positive_class(model: AtelierModel) -> Any:
    return model.classes[1] if model.problem_type == BINARY else None


# --------------------------------------------------------------------------------------------------- typical values
MAX_CHOICES = 100  # a categorical feature with more distinct values gets a free text input in the what-if form


def feature_specs(df: pd.DataFrame, X: pd.DataFrame, kinds: dict[str, str]) -> list[dict[str, Any]]:
    """``[{name, kind, dtype, choices?}]``: ``choices`` are the values seen in training (most frequent first, as the
    user wrote them) for categorical and boolean features with at most MAX_CHOICES of them: a what-if form's
    options."""
    out = []
    for name, kind in kinds.items():
        spec: dict[str, Any] = {"name": name, "kind": kind, "dtype": str(df[name].dtype)}
        if kind in (CATEGORICAL, BOOLEAN):
            counts = X[name].dropna().value_counts(sort=True)
            counts = counts[counts > 0]
            if 0 < len(counts) <= MAX_CHOICES:
                spec["choices"] = [to_python(v) for v in counts.index]
        out.append(spec)
    return out


def typical_values(X: pd.DataFrame, kinds: dict[str, str]) -> dict[str, Any]:
    """Median for numbers and dates, most frequent value for labels and booleans: a what-if form's defaults."""
    out: dict[str, Any] = {}
    for name, kind in kinds.items():
        s = X[name].dropna()
        if s.empty:
            out[name] = None
        elif kind == NUMERIC:
            v = float(pd.to_numeric(s, errors="coerce").median())
            integral = pd.api.types.is_integer_dtype(s.dtype)
            out[name] = round(v) if integral else v
        elif kind == DATETIME:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                d = pd.to_datetime(s, errors="coerce", format="mixed").dropna()
            out[name] = d.sort_values().iloc[len(d) // 2].isoformat() if len(d) else None
        elif kind == TEXT:
            out[name] = str(s.iloc[0])
        else:
            out[name] = to_python(s.mode().iloc[0])
    return out


# --------------------------------------------------------------------------------------------------- persistence
def save_model(model: AtelierModel, path: str | Path) -> int:
    """Write the model with joblib; returns the byte size. Only load files our own workers wrote (the Django side
    signs them): unpickling runs code."""
    joblib.dump(model, path, compress=3)
    return Path(path).stat().st_size


def load_model(path: str | Path) -> AtelierModel:
    model = joblib.load(path)
    if not isinstance(model, AtelierModel):
        raise TypeError(f"{path} does not hold an Atelier model.")
    return model
