"""Featurize date/time columns: calendar parts, cyclic sin/cos encodings, differences."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .base import Operator, Param, ParameterError, Params, place_columns, quote_list, register, script_function

GROUP = "Featurize date/time"
PARTS = ("year", "month", "day", "weekday", "hour", "minute", "second", "dayofyear", "quarter", "is_weekend")
CYCLIC_PARTS = ("month", "weekday", "hour", "minute", "dayofyear")
DATETIME_COLUMN = Param("column", "column", required=True, kind="datetime")


@script_function(place_columns)
def extract_datetime_parts(
    df: pd.DataFrame,
    column: str,
    parts: list[str],
    drop_original: bool = False,
) -> pd.DataFrame:
    """New columns ``<column>_<part>`` (nullable integers; ``is_weekend`` is a nullable boolean)."""
    s = df[column]
    new = {}
    accessors = {"weekday": "day_of_week", "dayofyear": "day_of_year"}
    for part in parts:
        if part == "is_weekend":
            values = (s.dt.day_of_week >= 5).astype("boolean").mask(s.isna())
        else:
            values = getattr(s.dt, accessors.get(part, part)).astype("Int64")
        new[f"{column}_{part}"] = values
    return place_columns(df, column, pd.DataFrame(new, index=df.index), drop_anchor=drop_original)


@script_function(place_columns)
def cyclic_encode_datetime(
    df: pd.DataFrame,
    column: str,
    parts: list[str],
    drop_original: bool = False,
) -> pd.DataFrame:
    """``<column>_<part>_sin`` / ``_cos``: positions on a circle, so December sits next to January."""
    s = df[column]
    new = {}
    for part in parts:
        if part == "month":
            fraction = (s.dt.month - 1) / 12
        elif part == "weekday":
            fraction = s.dt.day_of_week / 7
        elif part == "hour":
            fraction = s.dt.hour / 24
        elif part == "minute":
            fraction = s.dt.minute / 60
        else:
            fraction = (s.dt.day_of_year - 1) / 365.25
        angle = 2 * np.pi * fraction.astype("float64")
        new[f"{column}_{part}_sin"] = np.sin(angle)
        new[f"{column}_{part}_cos"] = np.cos(angle)
    return place_columns(df, column, pd.DataFrame(new, index=df.index), drop_anchor=drop_original)


@script_function()
def datetime_difference(df: pd.DataFrame, start: str, end: str, new_column: str, unit: str = "days") -> pd.DataFrame:
    """``end - start`` as a float number of ``unit`` (days, hours, minutes, seconds)."""
    out = df.copy(deep=False)
    out[new_column] = (df[end] - df[start]) / pd.Timedelta(
        1, unit={"days": "D", "hours": "h", "minutes": "min", "seconds": "s"}[unit]
    )
    return out


def _check_outputs(df: pd.DataFrame, names: list[str]) -> None:
    clash = [n for n in names if n in df.columns]
    if clash:
        raise ParameterError(f"Output column(s) {quote_list(clash)} already exist.", param="parts")


@register
class ExtractDatetimeParts(Operator):
    name = "extract_datetime_parts"
    title = "Extract date/time parts"
    group = GROUP
    description = "New columns with the year, month, day, weekday (0 = Monday), hour, ... of a datetime column."
    params = (
        DATETIME_COLUMN,
        Param("parts", "choice", required=True, choices=PARTS, multiple=True),
        Param("drop_original", "boolean", default=False),
    )
    kernel = extract_datetime_parts

    def check_data(self, params: Params, inputs: Sequence[pd.DataFrame]) -> None:
        _check_outputs(inputs[0], [f"{params['column']}_{p}" for p in params["parts"]])


@register
class CyclicEncodeDatetime(Operator):
    name = "cyclic_encode_datetime"
    title = "Cyclic encode date/time"
    group = GROUP
    description = "Sine and cosine of the month, weekday, hour, minute or day of year, so cycles wrap around."
    params = (
        DATETIME_COLUMN,
        Param("parts", "choice", required=True, choices=CYCLIC_PARTS, multiple=True),
        Param("drop_original", "boolean", default=False),
    )
    kernel = cyclic_encode_datetime

    def check_data(self, params: Params, inputs: Sequence[pd.DataFrame]) -> None:
        names = [f"{params['column']}_{p}_{f}" for p in params["parts"] for f in ("sin", "cos")]
        _check_outputs(inputs[0], names)


@register
class DatetimeDifference(Operator):
    name = "datetime_difference"
    title = "Date/time difference"
    group = GROUP
    description = "A new column with end - start in days, hours, minutes or seconds (decimal)."
    params = (
        Param("start", "column", required=True, kind="datetime"),
        Param("end", "column", required=True, kind="datetime"),
        Param("new_column", "string", required=True),
        Param("unit", "choice", default="days", choices=("days", "hours", "minutes", "seconds")),
    )
    kernel = datetime_difference

    def check_data(self, params: Params, inputs: Sequence[pd.DataFrame]) -> None:
        if not params["new_column"] or params["new_column"] in inputs[0].columns:
            raise ParameterError(
                f"Parameter 'new_column': {params['new_column']!r} is empty or already exists.", param="new_column"
            )
