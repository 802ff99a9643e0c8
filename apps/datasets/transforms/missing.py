"""Handle missing values: drop rows, fill with a constant, impute (fitted), indicators, forward/back fill."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from .base import (
    Operator,
    Param,
    ParameterError,
    Params,
    Trained,
    check_kind,
    place_columns,
    quote_list,
    register,
    script_function,
)

GROUP = "Handle missing"


@script_function()
def fill_series(s: pd.Series, value: Any) -> pd.Series:
    """``s.fillna(value)``, adapting the column so the value fits (new category, non-integral number).

    Datetime columns accept the ISO text that trained parameters store."""
    if value is None or not s.hasnans:
        return s
    if isinstance(s.dtype, pd.CategoricalDtype):
        if value not in s.cat.categories:
            s = s.cat.add_categories([value])
    elif pd.api.types.is_integer_dtype(s.dtype) and not float(value).is_integer():
        s = s.astype("Float64")
    return s.fillna(value)


@script_function()
def drop_missing(df: pd.DataFrame, columns: list[str] | None = None, how: str = "any") -> pd.DataFrame:
    return df.dropna(subset=columns or None, how=how, ignore_index=True)


@script_function(fill_series)
def fill_missing(df: pd.DataFrame, columns: list[str], value: Any) -> pd.DataFrame:
    out = df.copy(deep=False)
    for name in columns:
        out[name] = fill_series(df[name], value)
    return out


@script_function(fill_series)
def impute_missing(df: pd.DataFrame, values: dict[str, Any]) -> pd.DataFrame:
    """Fill each column with its fitted value (mean, median or mode)."""
    out = df.copy(deep=False)
    for name, value in values.items():
        out[name] = fill_series(df[name], value)
    return out


@script_function(place_columns)
def add_missing_indicator(df: pd.DataFrame, columns: list[str], suffix: str = "_missing") -> pd.DataFrame:
    out = df
    for name in columns:
        out = place_columns(out, name, pd.DataFrame({name + suffix: df[name].isna()}))
    return out


@script_function()
def fill_adjacent(
    df: pd.DataFrame,
    columns: list[str] | None,
    direction: str,
    limit: int | None = None,
) -> pd.DataFrame:
    out = df.copy(deep=False)
    for name in columns or list(df.columns):
        out[name] = df[name].ffill(limit=limit) if direction == "forward" else df[name].bfill(limit=limit)
    return out


@register
class DropMissing(Operator):
    name = "drop_missing"
    title = "Drop rows with missing values"
    group = GROUP
    description = "Remove rows that have a missing value in any (or all) of the chosen columns."
    params = (
        Param("columns", "columns", description="Columns to check; empty: all columns."),
        Param(
            "how",
            "choice",
            default="any",
            choices=("any", "all"),
            description="any: a missing value in one column drops the row; all: only when all are missing.",
        ),
    )
    kernel = drop_missing


@register
class FillMissing(Operator):
    name = "fill_missing"
    title = "Fill missing with a value"
    group = GROUP
    description = "Replace missing values of the chosen columns with a constant."
    params = (
        Param("columns", "columns", required=True),
        Param("value", "json", required=True, description="A number, text or true/false matching the columns."),
    )
    kernel = fill_missing

    def check_params(self, params: Params) -> None:
        value = params["value"]
        if not isinstance(value, (str, int, float, bool)):
            raise ParameterError("Parameter 'value' must be a number, text or true/false.", param="value")

    def check_data(self, params: Params, inputs: Sequence[pd.DataFrame]) -> None:
        df, value = inputs[0], params["value"]
        for name in params["columns"]:
            dtype = df[name].dtype
            if pd.api.types.is_bool_dtype(dtype):
                ok = isinstance(value, bool)
            elif pd.api.types.is_numeric_dtype(dtype):
                ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            elif pd.api.types.is_datetime64_any_dtype(dtype):
                ok = isinstance(value, str) and _is_timestamp(value)
            elif isinstance(dtype, pd.StringDtype):
                ok = isinstance(value, str)
            else:
                ok = True
            if not ok:
                raise ParameterError(
                    f"Parameter 'value': {value!r} does not fit column {name!r} of type {dtype}.",
                    param="value",
                    columns=[name],
                )


def _is_timestamp(text: str) -> bool:
    try:
        pd.Timestamp(text)
    except (ValueError, TypeError):
        return False
    return True


@register
class ImputeMissing(Operator):
    name = "impute_missing"
    title = "Impute missing (mean, median, mode)"
    group = GROUP
    description = (
        "Fill missing values with the column mean, median or most frequent value, learnt when the flow is fitted."
    )
    params = (
        Param("columns", "columns", required=True),
        Param("strategy", "choice", default="mean", choices=("mean", "median", "mode")),
    )
    stateful = True
    kernel = impute_missing

    def check_data(self, params: Params, inputs: Sequence[pd.DataFrame]) -> None:
        if params["strategy"] != "mode":
            check_kind("columns", params["columns"], inputs[0], "numeric")

    def _fit(self, df: pd.DataFrame, params: Params) -> Mapping[str, Any]:
        values: dict[str, Any] = {}
        for name in params["columns"]:
            s = df[name]
            if params["strategy"] == "mean":
                values[name] = s.mean()
            elif params["strategy"] == "median":
                values[name] = s.median()
            else:
                modes = s.mode(dropna=True)
                values[name] = modes.iloc[0] if len(modes) else None
        return {"values": values}

    def kernel_args(self, params: Params, trained: Trained | None) -> dict[str, Any]:
        return {"values": trained["values"] if trained is not None else {}}


@register
class AddMissingIndicator(Operator):
    name = "add_missing_indicator"
    title = "Add missing indicator"
    group = GROUP
    description = "Add a true/false column next to each chosen column telling whether its value is missing."
    params = (
        Param("columns", "columns", required=True),
        Param("suffix", "string", default="_missing", description="Appended to the column name."),
    )
    kernel = add_missing_indicator

    def check_data(self, params: Params, inputs: Sequence[pd.DataFrame]) -> None:
        if not params["suffix"]:
            raise ParameterError("Parameter 'suffix' must not be empty.", param="suffix")
        clash = [c + params["suffix"] for c in params["columns"] if c + params["suffix"] in inputs[0].columns]
        if clash:
            raise ParameterError(f"Parameter 'suffix': column(s) {quote_list(clash)} already exist.", param="suffix")


class _FillAdjacent(Operator):
    direction = "forward"
    group = GROUP
    params = (
        Param("columns", "columns", description="Columns to fill; empty: all columns."),
        Param("limit", "integer", minimum=1, description="Fill at most this many consecutive missing values."),
    )
    kernel = fill_adjacent

    def kernel_args(self, params: Params, trained: Trained | None) -> dict[str, Any]:
        return {"columns": params["columns"], "direction": self.direction, "limit": params["limit"]}


@register
class ForwardFill(_FillAdjacent):
    name = "forward_fill"
    title = "Forward fill"
    description = "Replace missing values with the last value above them (in row order)."
    direction = "forward"


@register
class BackwardFill(_FillAdjacent):
    name = "backward_fill"
    title = "Backward fill"
    description = "Replace missing values with the next value below them (in row order)."
    direction = "backward"
