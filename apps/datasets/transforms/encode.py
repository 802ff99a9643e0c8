"""Encode categorical columns: one-hot, ordinal, count encoding and rare-category grouping (all fitted)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .base import (
    Operator,
    Param,
    ParameterError,
    Params,
    Trained,
    column_kind_ok,
    place_columns,
    quote_list,
    register,
    script_function,
    to_json_value,
)

GROUP = "Encode categorical"


def category_counts(s: pd.Series) -> list[tuple[Any, int]]:
    """``(value, count)`` for the non-missing values, most frequent first, ties by value."""
    counts = s.value_counts(dropna=True)
    counts = counts[counts > 0]
    pairs = [(to_json_value(v), int(c)) for v, c in zip(counts.index, counts.to_numpy(), strict=True)]
    return sorted(pairs, key=lambda pair: (-pair[1], _sort_key(pair[0])))


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, (int, float)):
        return (1, value)
    return (2, str(value))


def sorted_values(values: Sequence[Any]) -> list[Any]:
    return sorted(values, key=_sort_key)


@script_function()
def category_positions(s: pd.Series, categories: list[Any]) -> np.ndarray:
    """Position of each value of ``s`` in ``categories``; -1 for missing or unknown values."""
    values = s.astype(object) if isinstance(s.dtype, pd.CategoricalDtype) else s
    return pd.Index(categories, dtype=object).get_indexer(values.astype(object))


@script_function(category_positions, place_columns)
def one_hot_encode(
    df: pd.DataFrame,
    categories: dict[str, list[Any]],
    unknown: str = "ignore",
    separator: str = "_",
    drop_original: bool = True,
) -> pd.DataFrame:
    """One 0/1 column per fitted category. Missing values give all zeros."""
    out = df
    for name, cats in categories.items():
        s = df[name]
        positions = category_positions(s, cats)
        unseen = (positions == -1) & s.notna().to_numpy()
        if unknown == "error" and unseen.any():
            examples = ", ".join(repr(v) for v in s[unseen].drop_duplicates().head(3).tolist())
            raise ValueError(f"Column {name!r} has values not seen when the step was fitted: {examples}")
        values = (positions[:, None] == np.arange(len(cats))).astype("int8")
        new = pd.DataFrame(values, columns=[f"{name}{separator}{c}" for c in cats], index=df.index)
        if unknown == "indicator":
            new[f"{name}{separator}other"] = unseen.astype("int8")
        out = place_columns(out, name, new, drop_anchor=drop_original)
    return out


@script_function(category_positions)
def ordinal_encode(df: pd.DataFrame, categories: dict[str, list[Any]], unknown_value: int | None = -1) -> pd.DataFrame:
    """Replace each value with its position in the fitted category list (nullable integers)."""
    out = df.copy(deep=False)
    for name, cats in categories.items():
        s = df[name]
        positions = category_positions(s, cats)
        codes = pd.Series(positions, index=df.index, dtype="Int64")
        codes = codes.mask(positions == -1, unknown_value if unknown_value is not None else pd.NA)
        out[name] = codes.mask(s.isna().to_numpy(), pd.NA)
    return out


@script_function()
def group_rare_categories(df: pd.DataFrame, keep: dict[str, list[Any]], other_label: str = "Other") -> pd.DataFrame:
    """Replace values outside the fitted frequent categories with ``other_label``."""
    out = df.copy(deep=False)
    for name, kept in keep.items():
        s = df[name]
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype("str")
        out[name] = s.where(s.isin(kept) | s.isna(), other_label)
    return out


@script_function(category_positions, place_columns)
def count_encode(df: pd.DataFrame, counts: dict[str, list[list[Any]]], suffix: str = "_count") -> pd.DataFrame:
    """Add a column with the fitted frequency of each value (0 for unseen or missing values)."""
    out = df
    for name, pairs in counts.items():
        positions = category_positions(df[name], [p[0] for p in pairs])
        numbers = np.append(np.asarray([p[1] for p in pairs], dtype="float64"), 0.0)
        result = numbers[positions]  # position -1 picks the trailing 0
        if all(isinstance(p[1], int) for p in pairs):
            result = result.astype("int64")
        out = place_columns(out, name, pd.DataFrame({name + suffix: result}, index=df.index))
    return out


@register
class OneHotEncode(Operator):
    name = "one_hot_encode"
    title = "One-hot encode"
    group = GROUP
    description = (
        "Replace a categorical column with one 0/1 column per category (the most frequent ones, learnt when "
        "the flow is fitted). Values not seen then are ignored (all zeros), flagged in an 'other' column, "
        "or stop the flow."
    )
    params = (
        Param("columns", "columns", required=True, kind="categorical"),
        Param(
            "max_categories",
            "integer",
            default=50,
            minimum=1,
            maximum=1000,
            description="Keep at most this many categories per column (most frequent first).",
        ),
        Param("unknown", "choice", default="ignore", choices=("ignore", "indicator", "error")),
        Param("separator", "string", default="_", description="Between column name and category."),
        Param("drop_original", "boolean", default=True),
    )
    stateful = True
    kernel = one_hot_encode

    def _fit(self, df: pd.DataFrame, params: Params) -> Mapping[str, Any]:
        categories = {}
        for name in params["columns"]:
            top = [value for value, _ in category_counts(df[name])[: params["max_categories"]]]
            categories[name] = sorted_values(top)
        return {"categories": categories}

    def kernel_args(self, params: Params, trained: Trained | None) -> dict[str, Any]:
        return {
            "categories": trained["categories"] if trained is not None else {},
            "unknown": params["unknown"],
            "separator": params["separator"],
            "drop_original": params["drop_original"],
        }


@register
class OrdinalEncode(Operator):
    name = "ordinal_encode"
    title = "Ordinal encode"
    group = GROUP
    description = (
        "Replace each category with an integer code (its position in the category list learnt when fitted, "
        "sorted by value or by frequency). Unseen values get 'unknown_value'; missing values stay missing."
    )
    params = (
        Param("columns", "columns", required=True, kind="categorical"),
        Param("order", "choice", default="value", choices=("value", "frequency")),
        Param("unknown_value", "integer", default=-1, description="Code for unseen values; empty: missing."),
    )
    stateful = True
    kernel = ordinal_encode

    def _fit(self, df: pd.DataFrame, params: Params) -> Mapping[str, Any]:
        categories = {}
        for name in params["columns"]:
            values = [value for value, _ in category_counts(df[name])]
            categories[name] = values if params["order"] == "frequency" else sorted_values(values)
        return {"categories": categories}

    def kernel_args(self, params: Params, trained: Trained | None) -> dict[str, Any]:
        return {
            "categories": trained["categories"] if trained is not None else {},
            "unknown_value": params["unknown_value"],
        }


@register
class GroupRareCategories(Operator):
    name = "group_rare_categories"
    title = "Group rare categories"
    group = GROUP
    description = (
        "Replace categories seen fewer than 'min_count' times or in less than 'min_fraction' of the rows "
        "(when fitted) with a single label such as 'Other'."
    )
    params = (
        Param("columns", "columns", required=True, description="Text or category columns."),
        Param("min_count", "integer", minimum=1),
        Param("min_fraction", "number", minimum=0, maximum=1),
        Param("other_label", "string", default="Other"),
    )
    stateful = True
    kernel = group_rare_categories

    def check_params(self, params: Params) -> None:
        if params["min_count"] is None and params["min_fraction"] is None:
            raise ParameterError("Set 'min_count' or 'min_fraction' (or both).", param="min_count")

    def check_data(self, params: Params, inputs: Sequence[pd.DataFrame]) -> None:
        df = inputs[0]
        wrong = [
            c
            for c in params["columns"]
            if not (column_kind_ok(df[c].dtype, "string") or isinstance(df[c].dtype, pd.CategoricalDtype))
        ]
        if wrong:
            raise ParameterError(
                f"Parameter 'columns': {quote_list(wrong)} must be text or category columns "
                "(the rare values become the text label).",
                param="columns",
                columns=wrong,
            )

    def _fit(self, df: pd.DataFrame, params: Params) -> Mapping[str, Any]:
        keep = {}
        for name in params["columns"]:
            total = max(len(df), 1)
            kept = [
                value
                for value, count in category_counts(df[name])
                if count >= (params["min_count"] or 0) and count / total >= (params["min_fraction"] or 0.0)
            ]
            keep[name] = kept
        return {"keep": keep}

    def kernel_args(self, params: Params, trained: Trained | None) -> dict[str, Any]:
        return {"keep": trained["keep"] if trained is not None else {}, "other_label": params["other_label"]}


@register
class CountEncode(Operator):
    name = "count_encode"
    title = "Count (frequency) encode"
    group = GROUP
    description = "Add a column with how often each value occurred when fitted (count or fraction of rows)."
    params = (
        Param("columns", "columns", required=True, kind="categorical"),
        Param("normalize", "boolean", default=False, description="Fractions of rows instead of counts."),
        Param("suffix", "string", default="_count"),
    )
    stateful = True
    kernel = count_encode

    def check_data(self, params: Params, inputs: Sequence[pd.DataFrame]) -> None:
        clash = [c + params["suffix"] for c in params["columns"] if c + params["suffix"] in inputs[0].columns]
        if not params["suffix"] or clash:
            raise ParameterError(f"Parameter 'suffix': column(s) {quote_list(clash)} already exist.", param="suffix")

    def _fit(self, df: pd.DataFrame, params: Params) -> Mapping[str, Any]:
        total = max(len(df), 1)
        counts = {}
        for name in params["columns"]:
            pairs = category_counts(df[name])
            counts[name] = [[v, c / total if params["normalize"] else c] for v, c in pairs]
        return {"counts": counts}

    def kernel_args(self, params: Params, trained: Trained | None) -> dict[str, Any]:
        return {"counts": trained["counts"] if trained is not None else {}, "suffix": params["suffix"]}
