"""Bias metrics of a dataset (pre-training) and of a model's predictions (post-training), with SageMaker Clarify's
definitions, sign conventions, edge rules and analysis.json shape (its open-source library smclarify is the
reference; tests/clarify/test_bias_parity.py compares every value within 1e-9).

    pre = pre_training_bias(df, label=LabelSpec("income", positive_values=(">50K",)),
                            facets=[FacetSpec("sex", values=("Female",))], group="education")
    post = post_training_bias(df, label=..., predicted=model_predictions, facets=[...], group=...)
    text = dumps_analysis(analysis_document(pre, post))     # analysis.json

How SageMaker decides (and so how Atelier decides):
* label: positive when the value is one of `positive_values` (each compared as written; if it matches nothing, as
  text, so "1" finds 1, then as a number), or, with `threshold`, when value > threshold. A missing label counts as
  negative.
* facet: the sensitive group d is the rows with one of `values`, or value > `threshold`; the rest (a) is every other
  row, missing values included. With neither, every distinct value is compared with the rest in turn (one result
  each, in order of first appearance). `value_or_threshold` is written as SageMaker writes it: the values joined by
  "," or the interval "(threshold, max]".
* predicted label: the model's predictions, binarised with `predicted_label` or else with the label's own rule.
* KL, JS, LP, TVD and KS compare the distributions of the binarised label (positive / negative) of d and a.
* CDDL and CDDPL need the group variable; without one they are reported as errors, as SageMaker does. Rows with a
  missing group value are left out of the subgroup average (as SageMaker does for a numeric group; it fails on a
  text group with missing values).
* Differences from SageMaker, all on input it refuses or mishandles: a one-vs-all facet lists no entry for missing
  values (SageMaker adds a "nan" entry whose metrics all fail); a numeric facet without a threshold is compared value
  by value when it has at most MAX_FACET_VALUES values (SageMaker demands a threshold); FT accepts text columns.
* GE is not per group: every facet shows the same value.
* FT: a k-NN on the other columns (every column but the label and this facet, unless `features` is given).
  SageMaker refuses text columns; Atelier one-hot encodes them (each category a 0/1 column, a missing value its
  own category; columns with more than FT_MAX_CATEGORIES categories are left out) and says so in the metric's
  "feature_encoding" field. With `ft_max_rows` it runs on a stated random sample ("sample" field).

The metrics are computed from counts gathered with one `np.bincount` per facet column (every facet value at once);
only FT reads the rows again (a k-NN whose votes are scikit-learn's, see bias_formulas.knn_majority). Input
problems raise BiasInputError naming the field; a metric that cannot be computed for the data (an empty group, no
group variable) is written as SageMaker writes it: `"value": null, "error": "<why>"`.
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
    BIAS_KIND_TITLES,
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
    "BIAS_KIND_TITLES",
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
    "check_config",
    "dumps_analysis",
    "facet_breakdown",
    "flag_rows",
    "label_disagreement",
    "metric_info",
    "post_training_bias",
    "pre_training_bias",
    "specs_from_config",
    "to_jsonable",
]

MAX_FACET_VALUES = 50  # a facet without values or threshold: at most this many distinct values (one result each)
FT_MAX_CATEGORIES = 50  # FlipTest one-hot encodes text columns up to this many categories; wider ones are left out


class BiasInputError(ValueError):
    """Bad input, with the field it is about ("label", "positive_label_values", "label_threshold", "facets",
    "group", "predicted", "predicted_label", "metrics", "features", "ft_max_rows")."""

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
    """Which of the column's distinct values are wanted. Each wanted value matches as written; if it matches nothing
    it is compared as text (a form sends "1" for the integer 1), then as a number ("1.0" for 1)."""
    index = pd.Index(list(uniques), dtype=object)
    found = np.zeros(len(index), dtype=bool)
    as_text: pd.Index | None = None
    as_number: np.ndarray | None = None
    for value in wanted:
        hit = np.asarray(index.isin([value]))
        if not hit.any():
            as_text = index.astype(str) if as_text is None else as_text
            hit = np.asarray(as_text.isin([str(value)]))
        if not hit.any():
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = math.nan
            if not math.isnan(number):
                if as_number is None:
                    as_number = pd.to_numeric(pd.Series(index), errors="coerce").to_numpy(dtype=np.float64)
                hit = as_number == number
        found |= hit
    return found


def _factorize(series: pd.Series, sort: bool = False) -> tuple[np.ndarray, list[Any]]:
    codes, uniques = pd.factorize(series, sort=sort, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.intp), list(uniques)


def _label_rows(df: pd.DataFrame, spec: LabelSpec) -> tuple[np.ndarray, str]:
    if spec.column not in df.columns:
        raise BiasInputError("label", f"unknown column {spec.column!r}.")
    series = df[spec.column]
    factorized = None
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        numbers = series.to_numpy(dtype=np.float64, na_value=np.nan)
        numbers = numbers[~np.isnan(numbers)]
        distinct = [] if len(numbers) == 0 else [series.dropna().iloc[0]] if numbers.min() == numbers.max() else [0, 1]
    else:
        factorized = _factorize(series)
        distinct = factorized[1]
    if len(distinct) < 2:
        seen = "no value"
        if distinct:
            only = distinct[0].item() if isinstance(distinct[0], np.generic) else distinct[0]
            seen = f"only the value {only!r}"
        raise BiasInputError("label", f"column {spec.column!r} has {seen}: bias metrics need two classes.")
    positive, text = _binarise(series, spec, "label", factorized)
    n_pos = int(positive.sum())
    field = "label_threshold" if spec.threshold is not None else "positive_label_values"
    if n_pos == 0:
        raise BiasInputError(field, f"no row of {spec.column!r} is positive ({text}): the metrics need two classes.")
    if n_pos == len(positive):
        raise BiasInputError(field, f"every row of {spec.column!r} is positive ({text}): the metrics need two classes.")
    return positive, text


def _binarise(
    series: pd.Series, spec: LabelSpec, field: str, factorized: tuple[np.ndarray, list[Any]] | None = None
) -> tuple[np.ndarray, str]:
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
    codes, uniques = factorized or _factorize(series)
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
    ft_max_rows: int | None = None,
    ft_seed: int = 0,
) -> dict[str, Any]:
    """SageMaker's "post_training_bias_metrics" object (the shape of pre_training_bias). `predicted` holds the model's
    predicted labels row by row (position, not index, aligns them with df); they are binarised with
    `predicted_label` if given, else with the label's values or threshold. FT reads `features` (default: every
    column of df but the label), always without the facet column; when text columns are one-hot encoded the FT
    entry carries "feature_encoding". FT is a k-NN search, by far the slowest metric: with `ft_max_rows` it runs on
    that many rows drawn at random (seed `ft_seed`) and its entry says so in "sample": {"rows", "of", "seed"}; the
    other metrics always use every row."""
    names = _metric_names(metrics, POST_TRAINING, "post-training")
    facet_list = _facet_list(facets)
    positive, label_text = _label_rows(df, label)
    pred = _predicted_rows(df, label, predicted, predicted_label)
    resolved = [_facet_rows(df, spec) for spec in facet_list]
    groups, n_groups = _group_codes(df, group)
    if features is not None and len(features) != len(df):
        raise BiasInputError("features", f"{len(features)} feature rows for {len(df)} rows.")
    if ft_max_rows is not None and ft_max_rows < 2:
        raise BiasInputError("ft_max_rows", "FlipTest needs at least 2 rows.")
    sample = None
    if "FT" in names and ft_max_rows is not None and len(df) > ft_max_rows:
        sample = np.sort(np.random.default_rng(ft_seed).choice(len(df), ft_max_rows, replace=False))
    y = positive.astype(np.intp)
    p = pred.astype(np.intp)
    out_facets: dict[str, list[dict[str, Any]]] = {}
    for facet in resolved:
        cells = _facet_cells(facet, y, p, groups, n_groups)
        matrix, encoding = None, None
        if "FT" in names:
            base = df.drop(columns=[label.column]) if features is None else features
            base = base.drop(columns=[c for c in (facet.column,) if c in base.columns])
            matrix, encoding = _feature_matrix(base if sample is None else base.iloc[sample])
        for text, bucket in facet.entries:
            sensitive = facet.codes == bucket
            rows_sensitive, rows_predicted = (sensitive, pred) if sample is None else (sensitive[sample], pred[sample])
            values = formulas.compute(
                names, cells[bucket], features=matrix, sensitive=rows_sensitive, predicted=rows_predicted
            )
            entries = [_metric_entry(n, values[n]) for n in names]
            for entry in entries:
                if entry["name"] == "FT":
                    if encoding is not None:
                        entry["feature_encoding"] = encoding
                    if sample is not None:
                        entry["sample"] = {"rows": len(sample), "of": len(df), "seed": ft_seed}
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


def specs_from_config(config: dict[str, Any]) -> tuple[LabelSpec, list[FacetSpec], str | None]:
    """The specs from a report config as the app stores it: {"label", "positive_label_values", "label_threshold",
    "facets": [{"name", "values", "threshold"}], "group"}. Shape problems raise BiasInputError keyed by the field;
    whether the columns and values exist is checked when the metrics run (or by `check_config`)."""
    label = config.get("label")
    if not label or not isinstance(label, str):
        raise BiasInputError("label", "choose the label column.")
    values = config.get("positive_label_values") or ()
    if isinstance(values, str | int | float | bool):
        values = (values,)
    threshold = config.get("label_threshold")
    if threshold is not None and not isinstance(threshold, int | float):
        raise BiasInputError("label_threshold", f"{threshold!r} is not a number.")
    if not values and threshold is None:
        raise BiasInputError("positive_label_values", "give the positive label value(s) or a threshold.")
    raw_facets = config.get("facets")
    if not isinstance(raw_facets, list) or not raw_facets:
        raise BiasInputError("facets", "choose at least one facet column.")
    facets = []
    for item in raw_facets:
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise BiasInputError("facets", f"{item!r} is not a facet (a column name, values or a threshold).")
        facet_threshold = item.get("threshold")
        if facet_threshold is not None and not isinstance(facet_threshold, int | float):
            raise BiasInputError("facets", f"facet {item['name']!r}: threshold {facet_threshold!r} is not a number.")
        facet_values = item.get("values") or ()
        if isinstance(facet_values, str | int | float | bool):
            facet_values = (facet_values,)
        facets.append(FacetSpec(item["name"], tuple(facet_values), facet_threshold))
    group = config.get("group") or None
    if group is not None and not isinstance(group, str):
        raise BiasInputError("group", f"{group!r} is not a column name.")
    return LabelSpec(label, tuple(values), threshold), facets, group


def check_config(df: pd.DataFrame, config: dict[str, Any]) -> None:
    """Everything the metrics would refuse about this data, without computing them: unknown columns, a facet value
    that never occurs, a label with one class, a threshold on text. Raises BiasInputError (field, message)."""
    label, facets, group = specs_from_config(config)
    _label_rows(df, label)
    for spec in facets:
        _facet_rows(df, spec)
    _group_codes(df, group)


def flag_rows(analysis: dict[str, Any], thresholds: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """One row per metric value of an analysis document (analysis_document / analysis.json, values possibly written
    as "Infinity"): facet, value_or_threshold, stage, name, value, ideal, threshold, flagged, meaning, bias_kinds,
    error. `thresholds` overrides the default per metric name (DCAcc counts as DCA)."""
    chosen = {ALIASES.get(k, k): float(v) for k, v in (thresholds or {}).items()}
    rows = []
    for stage in ("pre_training", "post_training"):
        block = analysis.get(f"{stage}_bias_metrics")
        if not block:
            continue
        for facet, entries in block.get("facets", {}).items():
            for entry in entries:
                for metric in entry["metrics"]:
                    info = METRICS.get(metric["name"])
                    if info is None:
                        continue
                    value = metric.get("value")
                    number = float(value.replace("Infinity", "inf")) if isinstance(value, str) else value
                    limit = chosen.get(info.name, info.threshold)
                    rows.append(
                        {
                            "facet": facet,
                            "value_or_threshold": entry["value_or_threshold"],
                            "stage": stage,
                            "name": info.name,
                            "description": info.description,
                            "value": value,
                            "ideal": info.ideal,
                            "threshold": limit,
                            "flagged": info.flagged(number, limit),
                            "meaning": info.meaning,
                            "bias_kinds": list(info.bias_kinds),
                            "error": metric.get("error"),
                        }
                    )
    return rows


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
