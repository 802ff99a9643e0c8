"""Manage columns: drop, select, rename, duplicate, move, cast."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from .base import Operator, Param, ParameterError, Params, quote_list, register, require_columns, script_function

GROUP = "Manage columns"
CAST_TYPES = ("numeric", "float", "integer", "boolean", "datetime", "string", "category")


@script_function()
def drop_columns(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return df.drop(columns=columns)


@script_function()
def select_columns(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return df[list(columns)]


@script_function()
def rename_columns(df: pd.DataFrame, mapping: dict[str, str]) -> pd.DataFrame:
    return df.rename(columns=mapping)


@script_function()
def duplicate_column(df: pd.DataFrame, column: str, new_column: str) -> pd.DataFrame:
    out = df.copy(deep=False)
    out.insert(df.columns.get_loc(column) + 1, new_column, df[column])
    return out


@script_function()
def move_column(df: pd.DataFrame, column: str, position: int) -> pd.DataFrame:
    """Move ``column`` so that it ends at index ``position`` (negative counts from the end)."""
    others = [c for c in df.columns if c != column]
    index = position if position >= 0 else len(df.columns) + position
    others.insert(index, column)
    return df[others]


@script_function()
def parse_datetime(s: pd.Series, date_format: str | None) -> pd.Series:
    """Parse with ``date_format``; without one, ISO 8601 (dates with or without times) when every value
    fits it, otherwise the format pandas infers from the first value. Unparsable values become missing."""
    if date_format or pd.api.types.is_datetime64_any_dtype(s.dtype):
        return pd.to_datetime(s, format=date_format or None, errors="coerce")
    try:
        iso = pd.to_datetime(s, format="ISO8601", errors="coerce")
        if not bool((iso.isna() & s.notna()).any()):
            return iso
    except (ValueError, TypeError):
        pass
    return pd.to_datetime(s, errors="coerce")


@script_function(parse_datetime)
def cast_series(s: pd.Series, to: str, date_format: str | None, errors: str) -> pd.Series:
    """Convert one column; values that cannot be converted become missing or raise (``errors='fail'``)."""
    if to in ("numeric", "float", "integer"):
        result = pd.to_numeric(s, errors="coerce")
        if to == "float":
            result = result.astype("float64")
        elif to == "integer":
            whole = result.isna() | (result % 1 == 0)
            result = result.where(whole).astype("Int64")
    elif to == "boolean":
        words = {
            "true": True,
            "t": True,
            "yes": True,
            "y": True,
            "1": True,
            "false": False,
            "f": False,
            "no": False,
            "n": False,
            "0": False,
        }
        if pd.api.types.is_bool_dtype(s.dtype):
            result = s.astype("boolean")
        elif pd.api.types.is_numeric_dtype(s.dtype):
            result = s.map({1: True, 0: False}).astype("boolean")
        else:
            result = s.astype("str").str.strip().str.lower().map(words).astype("boolean")
    elif to == "datetime":
        result = parse_datetime(s, date_format)
    elif to == "string":
        result = s.astype("str")
    else:
        result = s.astype("category")
    bad = result.isna() & s.notna()
    if errors == "fail" and bool(bad.any()):
        examples = ", ".join(repr(v) for v in s[bad].drop_duplicates().head(3).tolist())
        raise ValueError(
            f"Column {s.name!r}: {int(bad.sum())} value(s) cannot be converted to {to}, for example {examples}. "
            "Fix them first or choose errors='coerce' to turn them into missing values."
        )
    return result


@script_function(cast_series)
def cast_columns(
    df: pd.DataFrame,
    columns: list[str],
    to: str,
    date_format: str | None = None,
    errors: str = "coerce",
) -> pd.DataFrame:
    out = df.copy(deep=False)
    for name in columns:
        out[name] = cast_series(df[name], to, date_format, errors)
    return out


@register
class DropColumns(Operator):
    name = "drop_columns"
    title = "Drop columns"
    group = GROUP
    description = "Remove the chosen columns."
    params = (Param("columns", "columns", required=True, description="Columns to remove."),)
    kernel = drop_columns


@register
class SelectColumns(Operator):
    name = "select_columns"
    title = "Keep columns"
    group = GROUP
    description = "Keep only the chosen columns, in the order given."
    params = (Param("columns", "columns", required=True, description="Columns to keep, in order."),)
    kernel = select_columns


@register
class RenameColumns(Operator):
    name = "rename_columns"
    title = "Rename columns"
    group = GROUP
    description = "Rename columns with a mapping {old name: new name}."
    params = (Param("mapping", "json", required=True, description='Object {"old name": "new name"}.'),)
    kernel = rename_columns

    def check_params(self, params: Params) -> None:
        mapping = params["mapping"]
        if not isinstance(mapping, dict) or not mapping:
            raise ParameterError(
                "Parameter 'mapping' must be a non-empty object {old name: new name}.", param="mapping"
            )
        bad = [k for k, v in mapping.items() if not isinstance(v, str) or not v]
        if bad:
            raise ParameterError(
                f"Parameter 'mapping': the new name of {quote_list(bad)} must be non-empty text.", param="mapping"
            )
        targets = list(mapping.values())
        repeated = sorted({t for t in targets if targets.count(t) > 1})
        if repeated:
            raise ParameterError(
                f"Parameter 'mapping': several columns would be named {quote_list(repeated)}.", param="mapping"
            )

    def check_data(self, params: Params, inputs: Sequence[pd.DataFrame]) -> None:
        df = inputs[0]
        mapping = params["mapping"]
        require_columns("mapping", list(mapping), df)
        clash = [new for old, new in mapping.items() if new in df.columns and new not in mapping and new != old]
        if clash:
            raise ParameterError(
                f"Parameter 'mapping': column(s) {quote_list(clash)} already exist; rename or drop them first.",
                param="mapping",
                columns=clash,
            )


@register
class DuplicateColumn(Operator):
    name = "duplicate_column"
    title = "Duplicate column"
    group = GROUP
    description = "Copy a column under a new name, right after the original."
    params = (
        Param("column", "column", required=True),
        Param("new_column", "string", required=True, description="Name of the copy."),
    )
    kernel = duplicate_column

    def check_data(self, params: Params, inputs: Sequence[pd.DataFrame]) -> None:
        if not params["new_column"]:
            raise ParameterError("Parameter 'new_column' must not be empty.", param="new_column")
        if params["new_column"] in inputs[0].columns:
            raise ParameterError(
                f"Parameter 'new_column': a column named {params['new_column']!r} already exists.", param="new_column"
            )


@register
class MoveColumn(Operator):
    name = "move_column"
    title = "Move column"
    group = GROUP
    description = "Move a column to a position (0 = first, -1 = last)."
    params = (
        Param("column", "column", required=True),
        Param("position", "integer", required=True, description="Target index; negative counts from the end."),
    )
    kernel = move_column

    def check_data(self, params: Params, inputs: Sequence[pd.DataFrame]) -> None:
        width = len(inputs[0].columns)
        if not -width <= params["position"] < width:
            raise ParameterError(
                f"Parameter 'position' must be between {-width} and {width - 1} for {width} columns, "
                f"got {params['position']}.",
                param="position",
            )


@register
class CastColumns(Operator):
    name = "cast_columns"
    title = "Cast column type"
    group = GROUP
    description = (
        "Parse or convert columns to another type: numeric (integer or float as found), float, integer "
        "(nullable), boolean (true/false, yes/no, 1/0...), datetime (optional format such as %Y-%m-%d), "
        "string or category. Values that do not convert become missing (coerce) or stop the flow (fail)."
    )
    params = (
        Param("columns", "columns", required=True),
        Param("to", "choice", required=True, choices=CAST_TYPES),
        Param("date_format", "string", description="strftime format for datetime, e.g. %d/%m/%Y. Empty: infer."),
        Param("errors", "choice", default="coerce", choices=("coerce", "fail")),
    )
    kernel = cast_columns

    def check_params(self, params: Params) -> None:
        if params["date_format"] and params["to"] != "datetime":
            raise ParameterError("Parameter 'date_format' applies only when 'to' is 'datetime'.", param="date_format")
