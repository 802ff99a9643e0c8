"""Bias metrics of a dataset (pre-training) and of a model's predictions (post-training), with SageMaker Clarify's
definitions, sign conventions, edge rules and analysis.json shape (its open-source library smclarify is the
reference; tests/clarify/test_bias_parity.py compares every value within 1e-9).

    pre = pre_training_bias(df, label=LabelSpec("income", positive_values=(">50K",)),
                            facets=[FacetSpec("sex", values=("Female",))], group="education")
    post = post_training_bias(df, label=..., predicted=model_predictions, facets=[...], group=...)
    text = dumps_analysis(analysis_document(pre, post))     # analysis.json

How SageMaker decides (and so how Atelier decides):
* label: positive when the value is one of `positive_values` (compared as written; if none matches exactly, compared
  as text, so "1" finds 1), or, with `threshold`, when value > threshold. A missing label counts as negative.
* facet: the sensitive group d is the rows with one of `values`, or value > `threshold`; the rest (a) is every other
  row, missing values included. With neither, every distinct value is compared with the rest in turn (one result
  each, in order of first appearance). `value_or_threshold` is written as SageMaker writes it: the values joined by
  "," or the interval "(threshold, max]".
* predicted label: the model's predictions, binarised with `predicted_label` or else with the label's own rule.
* KL, JS, LP, TVD and KS compare the distributions of the binarised label (positive / negative) of d and a.
* CDDL and CDDPL need the group variable; without one they are reported as errors, as SageMaker does.
* GE is not per group: every facet shows the same value.
* FT: a k-NN on the other columns (every column but the label and this facet, unless `features` is given).
  SageMaker refuses text columns; Atelier one-hot encodes them (each category a 0/1 column, a missing value its
  own category; columns with more than FT_MAX_CATEGORIES categories are left out) and says so in the metric's
  "feature_encoding" field.

The metrics are computed from counts gathered with one `np.bincount` per facet column (every facet value at once);
only FT reads the rows again (scikit-learn's k-NN). Input problems raise BiasInputError naming the field; a metric
that cannot be computed for the data (an empty group, no group variable) is written as SageMaker writes it:
`"value": null, "error": "<why>"`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from apps.clarify.engine import bias_formulas as formulas
from apps.clarify.engine.bias_info import (
    ALIASES,
    BIAS_KINDS,
    METRICS,
    POST_TRAINING,
    PRE_TRAINING,
    MetricInfo,
    metric_info,
)

__all__ = [
    "ALIASES",
    "BIAS_KINDS",
    "FT_MAX_CATEGORIES",
    "MAX_FACET_VALUES",
    "METRICS",
    "POST_TRAINING",
    "PRE_TRAINING",
    "BiasInputError",
    "FacetSpec",
    "LabelSpec",
    "MetricInfo",
    "analysis_document",
    "dumps_analysis",
    "facet_breakdown",
    "label_disagreement",
    "metric_info",
    "post_training_bias",
    "pre_training_bias",
    "to_jsonable",
]

MAX_FACET_VALUES = 50  # a facet without values or threshold: at most this many distinct values (one result each)
FT_MAX_CATEGORIES = 50  # FlipTest one-hot encodes text columns up to this many categories; wider ones are left out


class BiasInputError(ValueError):
    """Bad input, with the field it is about ("label", "positive_label_values", "label_threshold", "facets",
    "group", "predicted", "predicted_label", "metrics", "features")."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class LabelSpec:
    """The label (or predicted label): positive when the value is one of positive_values, or, for a numeric column,
    when value > threshold (SageMaker's rule)."""

    column: str
    positive_values: tuple[Any, ...] = ()
    threshold: float | None = None


@dataclass(frozen=True)
class FacetSpec:
    """A facet: the sensitive group is the rows with one of `values`, or value > `threshold`; with neither, each
    distinct value in turn."""

    column: str
    values: tuple[Any, ...] = ()
    threshold: float | None = None


# ---------------------------------------------------------------------------------------------------------------
# Turning columns into 0/1 rows


def _interval_text(series: pd.Series, threshold: Any) -> str:
    """How SageMaker writes a threshold: the interval (threshold, max of the column], e.g. "(40, 90]"."""
    top = series.max()
    if pd.isna(top):
        return ""
    breaks = [threshold]
    if abs(top) not in breaks:
        breaks.append(top)
    return ",".join(str(interval) for interval in pd.IntervalIndex.from_breaks(sorted(breaks)))


def _numeric(series: pd.Series, field: str, what: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    if not pd.api.types.is_numeric_dtype(series.dtype):
        converted = pd.to_numeric(series, errors="coerce")
        if int(converted.notna().sum()) < int(series.notna().sum()):
            raise BiasInputError(field, f"{what} {series.name!r} is not numeric: a threshold needs numbers.")
        series = converted
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def _match(uniques: Sequence[Any], wanted: Iterable[Any]) -> np.ndarray:
    """Which of the column's distinct values are wanted: exact matches; if there are none, matches as text (a form
    sends "1" for the integer 1), or as numbers ("1.0" for 1)."""
    wanted = list(wanted)
    exact = np.array([_in(u, wanted) for u in uniques], dtype=bool)
    if exact.any():
        return exact
    texts = {str(w) for w in wanted}
    found = np.array([str(u) in texts for u in uniques], dtype=bool)
    if found.any():
        return found
    numbers = set()
    for w in wanted:
        try:
            numbers.add(float(w))
        except (TypeError, ValueError):
            pass
    out = []
    for u in uniques:
        try:
            out.append(float(u) in numbers)
        except (TypeError, ValueError):
            out.append(False)
    return np.array(out, dtype=bool)


def _in(value: Any, wanted: list[Any]) -> bool:
    for w in wanted:
        try:
            if bool(value == w):
                return True
        except (TypeError, ValueError):
            continue
    return False


def _factorize(series: pd.Series, sort: bool = False) -> tuple[np.ndarray, list[Any]]:
    codes, uniques = pd.factorize(series, sort=sort, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.intp), list(uniques)


def _label_rows(df: pd.DataFrame, spec: LabelSpec) -> tuple[np.ndarray, str]:
    if spec.column not in df.columns:
        raise BiasInputError("label", f"unknown column {spec.column!r}.")
    series = df[spec.column]
    if series.nunique(dropna=True) < 2:
        values = series.dropna().unique()
        seen = f"only the value {values[0]!r}" if len(values) else "no value"
        raise BiasInputError("label", f"column {spec.column!r} has {seen}: bias metrics need two classes.")
    positive, text = _binarise(series, spec, "label")
    n_pos = int(positive.sum())
    field = "label_threshold" if spec.threshold is not None else "positive_label_values"
    if n_pos == 0:
        raise BiasInputError(field, f"no row of {spec.column!r} is positive ({text}): the metrics need two classes.")
    if n_pos == len(positive):
        raise BiasInputError(field, f"every row of {spec.column!r} is positive ({text}): the metrics need two classes.")
    return positive, text


def _binarise(series: pd.Series, spec: LabelSpec, field: str) -> tuple[np.ndarray, str]:
    if spec.threshold is not None and spec.positive_values:
        raise BiasInputError(f"{field}_threshold", "give positive values or a threshold, not both.")
    if spec.threshold is not None:
        values = _numeric(series, f"{field}_threshold", "column")
        with np.errstate(invalid="ignore"):
            positive = values > float(spec.threshold)
        return positive, _interval_text(_as_numbers(series), spec.threshold)
    if not spec.positive_values:
        raise BiasInputError(
            "positive_label_values" if field == "label" else f"{field}_values",
            "give the positive label value(s) or a threshold.",
        )
    codes, uniques = _factorize(series)
    chosen = _match(uniques, spec.positive_values)
    if not chosen.any() and field == "label":
        raise BiasInputError(
            "positive_label_values" if field == "label" else f"{field}_values",
            f"none of {list(spec.positive_values)!r} occurs in column {series.name!r}.",
        )
    table = np.append(chosen, False)  # code -1 (missing) -> last entry -> negative
    return table[codes], ",".join(map(str, spec.positive_values))


def _as_numbers(series: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return series
    return pd.to_numeric(series, errors="coerce")


@dataclass
class _Facet:
    """One facet column turned into buckets: codes[row] in 0..K-1; each entry (text, bucket) is one comparison of
    that bucket (d) against every other row (a)."""

    column: str
    codes: np.ndarray
    n_buckets: int
    entries: list[tuple[str, int]]


def _facet_rows(df: pd.DataFrame, spec: FacetSpec) -> _Facet:
    if spec.column not in df.columns:
        raise BiasInputError("facets", f"unknown column {spec.column!r}.")
    series = df[spec.column]
    if spec.values and spec.threshold is not None:
        raise BiasInputError("facets", f"facet {spec.column!r}: give sensitive values or a threshold, not both.")
    if spec.threshold is not None:
        values = _numeric(series, "facets", "facet column")
        with np.errstate(invalid="ignore"):
            sensitive = values > float(spec.threshold)
        return _Facet(
            spec.column, sensitive.astype(np.intp), 2, [(_interval_text(_as_numbers(series), spec.threshold), 1)]
        )
    codes, uniques = _factorize(series)
    if spec.values:
        missing = [v for v in spec.values if not _match(uniques, [v]).any()]
        if missing:
            raise BiasInputError(
                "facets", f"facet {spec.column!r}: {', '.join(map(repr, missing))} never occurs in the column."
            )
        table = np.append(_match(uniques, spec.values), False).astype(np.intp)
        return _Facet(spec.column, table[codes], 2, [(",".join(map(str, spec.values)), 1)])
    if len(uniques) > MAX_FACET_VALUES:
        raise BiasInputError(
            "facets",
            f"facet {spec.column!r} has {len(uniques)} distinct values: give the sensitive value(s) or a threshold "
            f"(one result per value is limited to {MAX_FACET_VALUES}).",
        )
    k = len(uniques)
    codes = np.where(codes < 0, k, codes)  # missing facet values belong to the rest
    return _Facet(spec.column, codes, k + 1, [(str(u), i) for i, u in enumerate(uniques)])


def _group_codes(df: pd.DataFrame, group: str | None) -> tuple[np.ndarray | None, int]:
    if group is None:
        return None, 0
    if group not in df.columns:
        raise BiasInputError("group", f"unknown column {group!r}.")
    codes, uniques = _factorize(df[group], sort=True)
    return codes, len(uniques)


def _facet_cells(
    facet: _Facet, y: np.ndarray, p: np.ndarray, groups: np.ndarray | None, n_groups: int
) -> dict[int, formulas.Cells]:
    """Cells for every entry of a facet from one bincount over the rows (two more with a group variable)."""
    k = facet.n_buckets
    codes = facet.codes
    table = np.bincount(codes * 4 + y * 2 + p, minlength=k * 4).reshape(k, 2, 2)
    total = table.sum(axis=0)
    group_tables: tuple[np.ndarray, np.ndarray] | None = None
    if groups is not None:
        keep = groups >= 0
        base = (groups[keep] * k + codes[keep]) * 2
        size = n_groups * k * 2
        by_label = np.bincount(base + y[keep], minlength=size).reshape(n_groups, k, 2)
        by_predicted = np.bincount(base + p[keep], minlength=size).reshape(n_groups, k, 2)
        group_tables = (by_label, by_predicted)
    out = {}
    for _, bucket in facet.entries:
        counts = np.stack([total - table[bucket], table[bucket]])
        gl = gp = None
        if group_tables is not None:
            by_label, by_predicted = group_tables
            gl = np.stack([by_label.sum(axis=1) - by_label[:, bucket], by_label[:, bucket]], axis=1)
            gp = np.stack([by_predicted.sum(axis=1) - by_predicted[:, bucket], by_predicted[:, bucket]], axis=1)
        out[bucket] = formulas.Cells(counts, gl, gp)
    return out


def _metric_names(metrics: Iterable[str], allowed: tuple[str, ...], stage: str) -> list[str]:
    if isinstance(metrics, str):
        metrics = [metrics]
    names = []
    for name in metrics:
        canonical = ALIASES.get(name, name)
        if canonical not in allowed:
            raise BiasInputError("metrics", f"{name!r} is not a {stage} metric (one of {', '.join(allowed)}).")
        names.append(canonical)
    return sorted(set(names))  # SageMaker lists the metrics in name order


def _metric_entry(name: str, outcome: float | Exception) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "description": METRICS[name].description}
    if isinstance(outcome, Exception):
        entry["value"] = None
        entry["error"] = str(outcome)
    else:
        entry["value"] = float(outcome)
    return entry


def _facet_list(facets: FacetSpec | Sequence[FacetSpec]) -> list[FacetSpec]:
    facet_list = [facets] if isinstance(facets, FacetSpec) else list(facets)
    if not facet_list:
        raise BiasInputError("facets", "give at least one facet.")
    return facet_list


# ---------------------------------------------------------------------------------------------------------------
# FlipTest features


def _feature_matrix(features: pd.DataFrame) -> tuple[np.ndarray, dict[str, Any] | None]:
    """Numbers as they are (booleans 0/1, datetimes in seconds), text one-hot (each category a 0/1 column; a missing
    value its own category). Returns the matrix and, when anything was encoded or left out, how."""
    blocks: list[np.ndarray] = []
    one_hot: list[dict[str, Any]] = []
    left_out: list[dict[str, Any]] = []
    for column in features.columns:
        series = features[column]
        dtype = series.dtype
        if pd.api.types.is_bool_dtype(dtype) or (
            pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype)
        ):
            blocks.append(series.to_numpy(dtype=np.float64, na_value=np.nan)[:, None])
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            seconds = (series - pd.Timestamp(0, tz=getattr(dtype, "tz", None))).dt.total_seconds()
            blocks.append(seconds.to_numpy(dtype=np.float64, na_value=np.nan)[:, None])
        else:
            codes, uniques = _factorize(series)
            width = len(uniques) + int((codes < 0).any())
            if width > FT_MAX_CATEGORIES:
                left_out.append({"column": str(column), "categories": width})
                continue
            codes = np.where(codes < 0, len(uniques), codes)
            block = np.zeros((len(series), width), dtype=np.float64)
            block[np.arange(len(series)), codes] = 1.0
            blocks.append(block)
            one_hot.append({"column": str(column), "categories": width})
    matrix = np.hstack(blocks) if blocks else np.zeros((len(features), 0))
    if not one_hot and not left_out:
        return matrix, None
    return matrix, {
        "method": "one-hot",
        "description": (
            "Text columns are one-hot encoded for the k-NN: each category becomes a 0/1 column (a missing value is "
            "its own category), so two rows that differ in one category are sqrt(2) apart; numeric columns are used "
            f"unscaled, as SageMaker does. Columns with more than {FT_MAX_CATEGORIES} categories are left out."
        ),
        "one_hot": one_hot,
        "left_out": left_out,
    }


# ---------------------------------------------------------------------------------------------------------------
# Public API


def pre_training_bias(
    df: pd.DataFrame,
    *,
    label: LabelSpec,
    facets: FacetSpec | Sequence[FacetSpec],
    group: str | None = None,
    metrics: Iterable[str] = PRE_TRAINING,
) -> dict[str, Any]:
    """SageMaker's "pre_training_bias_metrics" object: {"label", "label_value_or_threshold", "facets": {column:
    [{"value_or_threshold", "metrics": [{"name", "description", "value"(, "error")}]}]}}."""
    names = _metric_names(metrics, PRE_TRAINING, "pre-training")
    facet_list = _facet_list(facets)
    positive, label_text = _label_rows(df, label)
    resolved = [_facet_rows(df, spec) for spec in facet_list]
    groups, n_groups = _group_codes(df, group)
    y = positive.astype(np.intp)
    p = np.zeros_like(y)
    out_facets: dict[str, list[dict[str, Any]]] = {}
    for facet in resolved:
        cells = _facet_cells(facet, y, p, groups, n_groups)
        for text, bucket in facet.entries:
            values = formulas.compute(names, cells[bucket])
            out_facets.setdefault(facet.column, []).append(
                {"value_or_threshold": text, "metrics": [_metric_entry(n, values[n]) for n in names]}
            )
    return {"label": label.column, "facets": out_facets, "label_value_or_threshold": label_text}


def _predicted_rows(
    df: pd.DataFrame, label: LabelSpec, predicted: pd.Series | np.ndarray, predicted_label: LabelSpec | None
) -> np.ndarray:
    series = predicted if isinstance(predicted, pd.Series) else pd.Series(np.asarray(predicted))
    if len(series) != len(df):
        raise BiasInputError("predicted", f"{len(series)} predictions for {len(df)} rows.")
    series = series.reset_index(drop=True).rename(predicted_label.column if predicted_label else "predicted label")
    spec = predicted_label or LabelSpec(series.name, label.positive_values, label.threshold)
    positive, _ = _binarise(series, spec, "predicted_label")
    if not positive.any():
        raise BiasInputError(
            "predicted", "the model predicts no positive label for any row: post-training metrics need some."
        )
    return positive


def post_training_bias(
    df: pd.DataFrame,
    *,
    label: LabelSpec,
    predicted: pd.Series | np.ndarray,
    predicted_label: LabelSpec | None = None,
    facets: FacetSpec | Sequence[FacetSpec],
    group: str | None = None,
    features: pd.DataFrame | None = None,
    metrics: Iterable[str] = POST_TRAINING,
) -> dict[str, Any]:
    """SageMaker's "post_training_bias_metrics" object (the shape of pre_training_bias). `predicted` holds the model's
    predicted labels row by row (position, not index, aligns them with df); they are binarised with
    `predicted_label` if given, else with the label's values or threshold. FT reads `features` (default: every
    column of df but the label), always without the facet column; when text columns are one-hot encoded the FT
    entry carries "feature_encoding"."""
    names = _metric_names(metrics, POST_TRAINING, "post-training")
    facet_list = _facet_list(facets)
    positive, label_text = _label_rows(df, label)
    pred = _predicted_rows(df, label, predicted, predicted_label)
    resolved = [_facet_rows(df, spec) for spec in facet_list]
    groups, n_groups = _group_codes(df, group)
    if features is not None and len(features) != len(df):
        raise BiasInputError("features", f"{len(features)} feature rows for {len(df)} rows.")
    y = positive.astype(np.intp)
    p = pred.astype(np.intp)
    out_facets: dict[str, list[dict[str, Any]]] = {}
    for facet in resolved:
        cells = _facet_cells(facet, y, p, groups, n_groups)
        matrix, encoding = None, None
        if "FT" in names:
            base = df.drop(columns=[label.column]) if features is None else features
            base = base.drop(columns=[c for c in (facet.column,) if c in base.columns])
            matrix, encoding = _feature_matrix(base)
        for text, bucket in facet.entries:
            sensitive = facet.codes == bucket
            values = formulas.compute(names, cells[bucket], features=matrix, sensitive=sensitive, predicted=pred)
            entries = [_metric_entry(n, values[n]) for n in names]
            if encoding is not None:
                for entry in entries:
                    if entry["name"] == "FT":
                        entry["feature_encoding"] = encoding
            out_facets.setdefault(facet.column, []).append({"value_or_threshold": text, "metrics": entries})
    return {"label": label.column, "facets": out_facets, "label_value_or_threshold": label_text}


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def facet_breakdown(
    df: pd.DataFrame,
    *,
    label: LabelSpec,
    facets: FacetSpec | Sequence[FacetSpec],
    predicted: pd.Series | np.ndarray | None = None,
    predicted_label: LabelSpec | None = None,
) -> dict[str, Any]:
    """Chart data per facet: one row per distinct value (for a threshold: "> t" and "<= t"; missing values as
    "(missing)"), each with n, the share of positive labels and, with predictions, the share of positive
    predictions and the confusion matrix [[tn, fp], [fn, tp]]. `sensitive` marks the rows of the sensitive group
    (with neither values nor threshold every value is compared in turn, so all are marked)."""
    positive, label_text = _label_rows(df, label)
    pred = None if predicted is None else _predicted_rows(df, label, predicted, predicted_label)
    y = positive.astype(np.intp)
    p = np.zeros_like(y) if pred is None else pred.astype(np.intp)
    out: dict[str, list[dict[str, Any]]] = {}
    for spec in _facet_list(facets):
        _facet_rows(df, spec)  # the same validation as the metrics
        series = df[spec.column]
        if spec.threshold is not None:
            values = _numeric(series, "facets", "facet column")
            with np.errstate(invalid="ignore"):
                above = values > float(spec.threshold)
            codes = np.where(np.isnan(values), 2, np.where(above, 0, 1))
            names = [f"> {spec.threshold}", f"<= {spec.threshold}", "(missing)"]
            sensitive = [True, False, False]
        else:
            raw, uniques = _factorize(series)
            codes = np.where(raw < 0, len(uniques), raw)
            if len(uniques) > MAX_FACET_VALUES:
                chosen = _match(uniques, spec.values)
                codes = np.where(codes < len(uniques), np.where(chosen[np.minimum(codes, len(uniques) - 1)], 0, 1), 2)
                names = [",".join(map(str, spec.values)), "(other values)", "(missing)"]
                sensitive = [True, False, False]
            else:
                names = [str(u) for u in uniques] + ["(missing)"]
                marks = list(_match(uniques, spec.values)) if spec.values else [True] * len(uniques)
                sensitive = [*marks, False]
        k = len(names)
        table = np.bincount(codes * 4 + y * 2 + p, minlength=k * 4).reshape(k, 2, 2)
        rows = []
        for i, name in enumerate(names):
            cell = table[i]
            n = int(cell.sum())
            if n == 0 and name == "(missing)":
                continue
            row: dict[str, Any] = {
                "value": name,
                "sensitive": bool(sensitive[i]),
                "n": n,
                "label_positive_rate": _rate(int(cell[1].sum()), n),
            }
            if pred is not None:
                row["predicted_positive_rate"] = _rate(int(cell[:, 1].sum()), n)
                row["confusion_matrix"] = [[int(cell[0, 0]), int(cell[0, 1])], [int(cell[1, 0]), int(cell[1, 1])]]
            rows.append(row)
        out.setdefault(spec.column, []).extend(rows)
    return {"label": label.column, "label_value_or_threshold": label_text, "facets": out}


def label_disagreement(
    df: pd.DataFrame, *, label: LabelSpec, reference: LabelSpec, facets: FacetSpec | Sequence[FacetSpec]
) -> dict[str, Any]:
    """Measurement bias against a trusted reference label column: per facet comparison, the share of rows whose
    label disagrees with the reference in d and in a, and the share of positive labels vs positive reference labels.
    "difference" = disagreement in d - disagreement in a (0: the label is as reliable for both)."""
    positive, label_text = _label_rows(df, label)
    ref, _ = _label_rows(df, reference)
    disagree = positive != ref
    out: dict[str, list[dict[str, Any]]] = {}
    for spec in _facet_list(facets):
        facet = _facet_rows(df, spec)
        for text, bucket in facet.entries:
            d = facet.codes == bucket
            a = ~d
            nd, na = int(d.sum()), int(a.sum())
            rate_d = _rate(int(disagree[d].sum()), nd)
            rate_a = _rate(int(disagree[a].sum()), na)
            out.setdefault(facet.column, []).append(
                {
                    "value_or_threshold": text,
                    "disagreement_d": rate_d,
                    "disagreement_a": rate_a,
                    "difference": None if rate_d is None or rate_a is None else rate_d - rate_a,
                    "label_positive_rate_d": _rate(int(positive[d].sum()), nd),
                    "reference_positive_rate_d": _rate(int(ref[d].sum()), nd),
                    "label_positive_rate_a": _rate(int(positive[a].sum()), na),
                    "reference_positive_rate_a": _rate(int(ref[a].sum()), na),
                }
            )
    return {"label": label.column, "reference": reference.column, "label_value_or_threshold": label_text, "facets": out}


def analysis_document(pre: dict[str, Any] | None = None, post: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole analysis.json (bias part): {"version": "1.0", "pre_training_bias_metrics": ...,
    "post_training_bias_metrics": ...}, leaving out a stage that was not run."""
    doc: dict[str, Any] = {"version": "1.0"}
    if pre is not None:
        doc["pre_training_bias_metrics"] = pre
    if post is not None:
        doc["post_training_bias_metrics"] = post
    return doc


def _infinite_values_as_text(obj: Any) -> Any:
    # SageMaker (smclarify's report) turns a metric's infinite "value" into the string "Infinity" / "-Infinity";
    # every other float goes to Python's json as it is (NaN and infinities elsewhere as bare NaN / Infinity).
    if isinstance(obj, dict):
        out = {k: _infinite_values_as_text(v) for k, v in obj.items()}
        value = out.get("value")
        if isinstance(value, float) and math.isinf(value):
            out["value"] = "Infinity" if value > 0 else "-Infinity"
        return out
    if isinstance(obj, list | tuple):
        return [_infinite_values_as_text(v) for v in obj]
    return obj


def _plain(obj: Any) -> Any:
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def dumps_analysis(obj: Any, **kwargs: Any) -> str:
    """JSON text as SageMaker writes analysis.json: a metric's ±inf value as the strings "Infinity"/"-Infinity",
    anything else through Python's json (so a NaN is the bare token NaN)."""
    return json.dumps(_infinite_values_as_text(obj), default=_plain, **kwargs)


def _finite_or_none(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite_or_none(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def to_jsonable(obj: Any) -> Any:
    """The analysis as strict JSON data (for a database JSON column): what dumps_analysis writes, read back, with a
    metric's ±inf as "Infinity"/"-Infinity" (as SageMaker writes them) and any other non-finite float as null."""
    return _finite_or_none(json.loads(dumps_analysis(obj)))
