"""Preprocessing per algorithm family: a ColumnTransformer built from the column kinds.

Output column order is fixed: categorical (ordinal codes, one per column, so their indices are known before
fitting) → numeric → boolean → datetime parts → text. Tree boosters (LightGBM, HistGradientBoosting) get raw
numbers with NaN and ordinal categoricals they split on natively; the others get imputation (+ missing
indicators), one-hot encoding with rare levels pooled, and scaling where the algorithm needs it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from .columns import BOOLEAN, CATEGORICAL, DATETIME, NUMERIC, TEXT

MISSING_LABEL = "__missing__"
_TRUE = {"true", "yes", "y", "t", "1", "1.0"}
_FALSE = {"false", "no", "n", "f", "0", "0.0"}


# --------------------------------------------------------------------------------------------------- converters
class ToFloat(BaseEstimator, TransformerMixin):
    """Numeric columns as float64 (anything unparsable becomes NaN; the schema check catches it earlier)."""

    def fit(self, X: pd.DataFrame, y: Any = None) -> ToFloat:
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        if not X.shape[1]:
            return np.zeros((len(X), 0))
        out = np.column_stack(
            [pd.to_numeric(X[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan) for c in X.columns]
        )
        out[~np.isfinite(out)] = np.nan  # ±inf is treated as missing
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(input_features, dtype=object)


def bool_to_float(s: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        return s.astype("float64").to_numpy(dtype=float, na_value=np.nan)
    text = s.astype("string").str.strip().str.lower()
    out = np.full(len(s), np.nan)
    out[text.isin(_TRUE).fillna(False).to_numpy(dtype=bool)] = 1.0
    out[text.isin(_FALSE).fillna(False).to_numpy(dtype=bool)] = 0.0
    return out


class ToBool(ToFloat):
    """Boolean columns (True/False, yes/no, 1/0) as 1.0 / 0.0 / NaN."""

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        return np.column_stack([bool_to_float(X[c]) for c in X.columns]) if X.shape[1] else np.zeros((len(X), 0))


class ToLabel(BaseEstimator, TransformerMixin):
    """Categorical columns as an object array of strings; missing as NaN (ordinal) or a label (one-hot)."""

    def __init__(self, missing: Any = np.nan) -> None:
        self.missing = missing

    def fit(self, X: pd.DataFrame, y: Any = None) -> ToLabel:
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        cols = []
        for c in X.columns:
            s = X[c]
            mask = s.isna().to_numpy()
            arr = s.astype(str).to_numpy(dtype=object)
            arr[mask] = self.missing
            cols.append(arr)
        return np.column_stack(cols) if cols else np.zeros((len(X), 0), dtype=object)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(input_features, dtype=object)


class DatetimeParts(BaseEstimator, TransformerMixin):
    """Datetime columns → year, month, day, day of week, hour (when times vary) and days since 1970."""

    def fit(self, X: pd.DataFrame, y: Any = None) -> DatetimeParts:
        self.columns_ = list(X.columns)
        self.with_time_ = {}
        for c in X.columns:
            d = self._parse(X[c])
            self.with_time_[c] = bool(((d.dt.hour.fillna(0) != 0) | (d.dt.minute.fillna(0) != 0)).any())
        return self

    @staticmethod
    def _parse(s: pd.Series) -> pd.Series:
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            d = s
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                d = pd.to_datetime(s, errors="coerce", format="mixed")
        if getattr(d.dt, "tz", None) is not None:
            d = d.dt.tz_convert("UTC").dt.tz_localize(None)
        return d

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        parts: list[np.ndarray] = []
        for c in self.columns_:
            d = self._parse(X[c])
            cols = [d.dt.year, d.dt.month, d.dt.day, d.dt.day_of_week]
            if self.with_time_[c]:
                cols.append(d.dt.hour + d.dt.minute / 60.0)
            days = (d - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)
            cols.append(days)
            parts.extend(np.asarray(x.astype("float64").to_numpy(dtype=float, na_value=np.nan)) for x in cols)
        return np.column_stack(parts) if parts else np.zeros((len(X), 0))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        names = []
        for c in self.columns_:
            names += [f"{c}__year", f"{c}__month", f"{c}__day", f"{c}__dayofweek"]
            names += [f"{c}__hour"] if self.with_time_[c] else []
            names.append(f"{c}__days")
        return np.asarray(names, dtype=object)


class ToText(BaseEstimator, TransformerMixin):
    """One text column (a 1-d selection) as a list of strings for the vectoriser."""

    def fit(self, X: Any, y: Any = None) -> ToText:
        return self

    def transform(self, X: Any) -> list[str]:
        s = pd.Series(X) if not isinstance(X, pd.Series) else X
        return s.fillna("").astype(str).tolist()


class MedianImputer(BaseEstimator, TransformerMixin):
    """Median imputation plus a missing-value indicator for each column missing often enough in training to
    learn from (an indicator fitted on one or two rows is noise that a model may trust blindly)."""

    def __init__(self, min_missing: int = 5) -> None:
        self.min_missing = min_missing

    def fit(self, X: np.ndarray, y: Any = None) -> MedianImputer:
        X = np.asarray(X, dtype=float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            med = np.nanmedian(X, axis=0) if X.size else np.zeros(X.shape[1])
        self.medians_ = np.where(np.isfinite(med), med, 0.0)
        self.indicators_ = np.flatnonzero(np.isnan(X).sum(axis=0) >= self.min_missing)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        missing = np.isnan(X)
        out = np.where(missing, self.medians_, X)
        if len(self.indicators_):
            out = np.hstack([out, missing[:, self.indicators_].astype(float)])
        return out


class CappedSVD(BaseEstimator, TransformerMixin):
    """TruncatedSVD that never asks for more components than the matrix allows (dense passthrough if tiny)."""

    def __init__(self, n_components: int = 32, random_state: int = 0) -> None:
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> CappedSVD:
        k = min(self.n_components, X.shape[1] - 1, X.shape[0] - 1)
        self.svd_ = TruncatedSVD(n_components=k, random_state=self.random_state).fit(X) if k >= 2 else None
        return self

    def transform(self, X: Any) -> np.ndarray:
        if self.svd_ is None:
            return np.asarray(X.todense()) if hasattr(X, "todense") else np.asarray(X)
        return self.svd_.transform(X)


class SafeTfidf(TfidfVectorizer):
    """TF-IDF that falls back to min_df=1 when a tiny training set leaves no term seen twice."""

    def fit_transform(self, raw_documents: Any, y: Any = None) -> Any:
        try:
            return super().fit_transform(raw_documents, y)
        except ValueError:
            self.min_df = 1
            return super().fit_transform(raw_documents, y)


# --------------------------------------------------------------------------------------------------- builder
@dataclass(frozen=True)
class PrepSpec:
    """What the algorithm family needs from preprocessing."""

    native_trees: bool = False  # NaN and ordinal categoricals passed through (LightGBM, HGB)
    scale: bool = False  # standardise numbers (linear, kNN)
    one_hot: bool = True  # one-hot categoricals (else ordinal codes)
    max_one_hot: int = 32  # levels kept per column; the rest pooled as 'infrequent'
    sparse_text: bool = True  # TF-IDF kept sparse (linear, LightGBM); else reduced with TruncatedSVD
    text_features: int = 2000
    text_components: int = 32


def rare_min_frequency(n_rows: int) -> int:
    """Levels seen fewer times than this are pooled into one 'infrequent' level."""
    return int(max(2, min(10, n_rows // 200)))


def build_preprocessor(kinds: dict[str, str], spec: PrepSpec, n_rows: int) -> ColumnTransformer:
    by_kind: dict[str, list[str]] = {
        k: [c for c, v in kinds.items() if v == k] for k in (NUMERIC, CATEGORICAL, BOOLEAN, DATETIME, TEXT)
    }
    min_freq = rare_min_frequency(n_rows)
    transformers: list[tuple[str, Any, Any]] = []
    if by_kind[CATEGORICAL]:
        if spec.one_hot:
            enc: Any = Pipeline(
                [
                    ("label", ToLabel(missing=MISSING_LABEL)),
                    (
                        "onehot",
                        OneHotEncoder(
                            handle_unknown="infrequent_if_exist",
                            min_frequency=min_freq,
                            max_categories=spec.max_one_hot,
                            sparse_output=False,
                            dtype=np.float64,
                        ),
                    ),
                ]
            )
        else:
            enc = Pipeline(
                [
                    ("label", ToLabel(missing=np.nan)),
                    (
                        "ordinal",
                        OrdinalEncoder(
                            handle_unknown="use_encoded_value",
                            unknown_value=np.nan,
                            encoded_missing_value=np.nan,
                            min_frequency=min_freq,
                            max_categories=200,
                            dtype=np.float64,
                        ),
                    ),
                ]
            )
        transformers.append(("categorical", enc, by_kind[CATEGORICAL]))

    def numeric_tail() -> list[tuple[str, Any]]:
        if spec.native_trees:
            return []
        steps: list[tuple[str, Any]] = [("impute", MedianImputer(min_missing=max(5, n_rows // 200)))]
        if spec.scale:
            steps.append(("scale", StandardScaler()))
        return steps

    if by_kind[NUMERIC]:
        transformers.append(("numeric", Pipeline([("float", ToFloat()), *numeric_tail()]), by_kind[NUMERIC]))
    if by_kind[BOOLEAN]:
        transformers.append(("boolean", Pipeline([("bool", ToBool()), *numeric_tail()]), by_kind[BOOLEAN]))
    if by_kind[DATETIME]:
        transformers.append(("datetime", Pipeline([("parts", DatetimeParts()), *numeric_tail()]), by_kind[DATETIME]))
    for i, col in enumerate(by_kind[TEXT]):
        steps: list[tuple[str, Any]] = [
            ("text", ToText()),
            (
                "tfidf",
                SafeTfidf(
                    max_features=spec.text_features, min_df=2, sublinear_tf=True, ngram_range=(1, 2), dtype=np.float64
                ),
            ),
        ]
        if not spec.sparse_text:
            steps.append(("svd", CappedSVD(n_components=spec.text_components)))
        transformers.append((f"text{i}", Pipeline(steps), col))
    if not transformers:
        raise ValueError("No usable feature columns.")
    sparse = bool(by_kind[TEXT]) and spec.sparse_text
    return ColumnTransformer(
        transformers, remainder="drop", sparse_threshold=0.3 if sparse else 0.0, verbose_feature_names_out=False
    )


def categorical_indices(kinds: dict[str, str]) -> list[int]:
    """Positions of the ordinal categorical codes in the transformed matrix (they come first)."""
    return list(range(sum(1 for v in kinds.values() if v == CATEGORICAL)))
