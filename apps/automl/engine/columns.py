"""Column typing from a DataFrame, and problem type detection from the target column."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .metrics import BINARY, MULTICLASS, PROBLEM_TYPES, REGRESSION

NUMERIC = "numeric"
CATEGORICAL = "categorical"
BOOLEAN = "boolean"
DATETIME = "datetime"
TEXT = "text"
IDENTIFIER = "identifier"
CONSTANT = "constant"
UNSUPPORTED = "unsupported"
FEATURE_KINDS = (NUMERIC, CATEGORICAL, BOOLEAN, DATETIME, TEXT)

_ID_NAME = re.compile(r"(^|[_\W])(id|uuid|guid|key|index|idx)$|^id[_\W]", re.IGNORECASE)
_BOOL_STRINGS = {"true", "false", "yes", "no", "y", "n", "t", "f"}
TEXT_MIN_MEAN_LENGTH = 30
TEXT_MIN_MEAN_WORDS = 4


@dataclass
class ColumnInfo:
    name: str
    kind: str
    dtype: str
    reason: str = ""
    n_unique: int = 0
    n_missing: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "dtype": self.dtype,
            "reason": self.reason,
            "n_unique": self.n_unique,
            "n_missing": self.n_missing,
        }


def _is_stringish(s: pd.Series) -> bool:
    return bool(pd.api.types.is_string_dtype(s.dtype) or s.dtype == object or isinstance(s.dtype, pd.CategoricalDtype))


def _looks_datetime(values: pd.Series) -> bool:
    sample = values.dropna().astype(str).head(200)
    if sample.empty or not sample.str.contains(r"\d", regex=True).all():
        return False
    if sample.str.fullmatch(r"[-+]?\d+(\.\d+)?").mean() > 0.5:  # plain numbers are not dates
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= 0.95)


def _object_kind(s: pd.Series) -> str:
    """Kind of a column with object dtype: mixed Python objects, lists and bytes are unsupported."""
    sample = s.dropna().head(500)
    if sample.empty:
        return CATEGORICAL
    types = {type(v) for v in sample}
    if types <= {bool, np.bool_}:
        return BOOLEAN
    if types & {list, dict, tuple, set, bytes, bytearray, complex}:
        return UNSUPPORTED
    if all(issubclass(t, (int, float, np.integer, np.floating)) and not issubclass(t, bool) for t in types):
        return NUMERIC
    return CATEGORICAL


def infer_column(s: pd.Series, n_rows: int) -> ColumnInfo:
    """The kind of one feature column: numeric, categorical, boolean, datetime, text, identifier, constant or
    unsupported (with the reason shown in the checklist)."""
    name = str(s.name)
    dtype = str(s.dtype)
    n_missing = int(s.isna().sum())
    try:
        n_unique = int(s.nunique(dropna=True))
    except TypeError:  # unhashable values
        return ColumnInfo(name, UNSUPPORTED, dtype, "values are not scalars (lists, dicts …)", 0, n_missing)
    info = ColumnInfo(name, NUMERIC, dtype, "", n_unique, n_missing)
    if n_unique <= 1:
        info.kind, info.reason = CONSTANT, ("every value is missing" if n_unique == 0 else "a single value")
        return info
    non_null = n_rows - n_missing
    if pd.api.types.is_bool_dtype(s.dtype):
        info.kind = BOOLEAN
    elif isinstance(s.dtype, pd.CategoricalDtype):
        info.kind = CATEGORICAL
    elif pd.api.types.is_datetime64_any_dtype(s.dtype):
        info.kind = DATETIME
    elif pd.api.types.is_timedelta64_dtype(s.dtype) or pd.api.types.is_complex_dtype(s.dtype):
        info.kind, info.reason = UNSUPPORTED, f"{dtype} columns are not supported"
    elif pd.api.types.is_numeric_dtype(s.dtype):
        info.kind = NUMERIC
        integral = pd.api.types.is_integer_dtype(s.dtype)
        if integral and n_unique == non_null and n_rows >= 20:
            vals = s.dropna().to_numpy()
            consecutive = int(vals.max()) - int(vals.min()) + 1 == n_unique
            if consecutive or _ID_NAME.search(name):
                info.kind, info.reason = IDENTIFIER, "a different whole number on every row"
    elif _is_stringish(s) or s.dtype == object:
        kind = _object_kind(s) if s.dtype == object else CATEGORICAL
        if kind != CATEGORICAL:
            info.kind = kind
            if kind == UNSUPPORTED:
                info.reason = "values are not scalars (lists, dicts, bytes …)"
            return info
        text = s.dropna().astype(str)
        lowered = set(text.str.lower().unique()[:3])
        if n_unique == 2 and lowered <= _BOOL_STRINGS:
            info.kind = BOOLEAN
        elif _looks_datetime(s):
            info.kind = DATETIME
        else:
            sample = text.head(2000)
            mean_len = float(sample.str.len().mean())
            mean_words = float(sample.str.count(r"\s+").mean()) + 1.0
            if mean_len >= TEXT_MIN_MEAN_LENGTH and mean_words >= TEXT_MIN_MEAN_WORDS and n_unique > 0.3 * non_null:
                info.kind = TEXT
            elif n_unique == non_null and n_rows >= 20:
                info.kind, info.reason = IDENTIFIER, "a different value on every row"
            else:
                info.kind = CATEGORICAL
    else:
        info.kind, info.reason = UNSUPPORTED, f"{dtype} columns are not supported"
    return info


def infer_columns(df: pd.DataFrame, target: str | None = None) -> dict[str, ColumnInfo]:
    n = len(df)
    return {str(c): infer_column(df[c], n) for c in df.columns if c != target}


# --------------------------------------------------------------------------------------------------- target
def detect_problem_type(y: pd.Series) -> str:
    """binary for two distinct values; multiclass for labels or a few whole numbers; regression otherwise."""
    values = y.dropna()
    n_unique = int(values.nunique())
    if n_unique <= 2:
        return BINARY
    if pd.api.types.is_bool_dtype(values.dtype):
        return BINARY
    if pd.api.types.is_numeric_dtype(values.dtype):
        arr = values.to_numpy(dtype=float)
        integral = bool(np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)))
        limit = min(30, max(3, len(values) // 20))
        if integral and n_unique <= limit:
            return MULTICLASS
        return REGRESSION
    return MULTICLASS


def validate_problem_type(problem_type: str | None, y: pd.Series) -> str:
    if problem_type is None:
        return detect_problem_type(y)
    if problem_type not in PROBLEM_TYPES:
        raise ValueError(f"Unknown problem type {problem_type!r}; expected one of {', '.join(PROBLEM_TYPES)}.")
    return problem_type


def to_python(value: Any) -> Any:
    """A numpy / pandas scalar as a plain JSON-able Python value."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


@dataclass
class EncodedTarget:
    problem_type: str
    y: np.ndarray  # int codes 0..K-1 for classification, float for regression
    classes: list[Any]  # original labels (JSON-able), empty for regression
    rows: np.ndarray  # positions of the rows with a target value


def encode_target(y: pd.Series, problem_type: str, positive_class: Any = None) -> EncodedTarget:
    rows = np.flatnonzero(y.notna().to_numpy())
    values = y.iloc[rows]
    if problem_type == REGRESSION:
        numeric = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        if np.isnan(numeric).any():
            raise ValueError("The target has values that are not numbers, so it cannot be a regression target.")
        return EncodedTarget(problem_type, numeric, [], rows)
    labels = values.to_numpy()
    try:
        classes, codes = np.unique(labels, return_inverse=True)
    except TypeError:  # mixed types: compare as text
        classes, codes = np.unique(labels.astype(str), return_inverse=True)
    class_list = [to_python(c) for c in classes]
    if problem_type == BINARY and positive_class is not None and len(class_list) == 2:
        if positive_class not in class_list and str(positive_class) in [str(c) for c in class_list]:
            positive_class = class_list[[str(c) for c in class_list].index(str(positive_class))]
        if positive_class == class_list[0]:
            class_list = class_list[::-1]
            codes = 1 - codes
    return EncodedTarget(problem_type, codes.astype(np.int64), class_list, rows)
