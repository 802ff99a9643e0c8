"""Manage rows: filter by expression, sort, drop duplicates, sample, head."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .base import (
    ExpressionError,
    Operator,
    Param,
    ParameterError,
    Params,
    Snippet,
    Trained,
    comment,
    register,
    script_function,
)
from .expressions import parse_expression

GROUP = "Manage rows"


@script_function()
def filter_by_mask(df: pd.DataFrame, mask: Any, mode: str = "keep") -> pd.DataFrame:
    """Keep (or drop, ``mode='drop'``) the rows where ``mask`` is true; a missing mask value is not true."""
    if isinstance(mask, pd.Series):
        if not pd.api.types.is_bool_dtype(mask.dtype):
            raise ValueError(f"The filter expression must give true/false values, got {mask.dtype}")
        hit = mask.fillna(False).astype(bool).to_numpy()
    elif isinstance(mask, (bool, np.bool_)):
        hit = np.full(len(df), bool(mask))
    else:
        raise ValueError(f"The filter expression must give true/false values, got {type(mask).__name__}")
    return df[hit if mode == "keep" else ~hit].reset_index(drop=True)


@script_function()
def sort_rows(df: pd.DataFrame, columns: list[str], ascending: bool = True, na_position: str = "last") -> pd.DataFrame:
    return df.sort_values(list(columns), ascending=ascending, na_position=na_position, kind="stable", ignore_index=True)


@script_function()
def drop_duplicate_rows(df: pd.DataFrame, subset: list[str] | None = None, keep: str = "first") -> pd.DataFrame:
    return df.drop_duplicates(subset=subset or None, keep=False if keep == "none" else keep, ignore_index=True)


@script_function()
def sample_rows(
    df: pd.DataFrame,
    mode: str = "n",
    n: int | None = None,
    fraction: float | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """A random subset of rows, without replacement, kept in their original order."""
    size = int(n or 0) if mode == "n" else round(float(fraction or 0.0) * len(df))
    size = min(size, len(df))
    positions = np.sort(np.random.default_rng(seed).choice(len(df), size=size, replace=False))
    return df.iloc[positions].reset_index(drop=True)


@script_function()
def head_rows(df: pd.DataFrame, n: int, from_end: bool = False) -> pd.DataFrame:
    return (df.tail(n) if from_end else df.head(n)).reset_index(drop=True)


@register
class FilterRows(Operator):
    name = "filter_rows"
    title = "Filter rows"
    group = GROUP
    description = (
        "Keep (or drop) the rows where an expression is true, e.g. `price > 10 and country in ['FR', 'DE']`. "
        "Rows where the expression is missing count as not matching."
    )
    params = (
        Param("expression", "expression", required=True),
        Param(
            "mode",
            "choice",
            default="keep",
            choices=("keep", "drop"),
            description="keep: keep matching rows; drop: remove them.",
        ),
    )
    kernel = filter_by_mask

    def check_data(self, params: Params, inputs: Sequence[pd.DataFrame]) -> None:
        check_expression_columns("expression", params["expression"], inputs[0])

    def apply_validated(
        self,
        inputs: Sequence[pd.DataFrame],
        params: Params,
        trained: Trained | None,
        names: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        df = inputs[0]
        mask = parse_expression(params["expression"]).evaluate(df)
        return filter_by_mask(df, mask, params["mode"])

    def code(
        self,
        params: Params,
        trained_ref: str | None,
        input_vars: Sequence[str],
        input_ids: Sequence[str],
        output_var: str,
    ) -> Snippet:
        source, helpers = parse_expression(params["expression"]).to_code(input_vars[0])
        line = f"{output_var} = filter_by_mask({input_vars[0]}, {source}, mode={params['mode']!r})"
        return Snippet(lines=[f"# filter: {comment(params['expression'])}", line], functions=[*helpers, filter_by_mask])


def check_expression_columns(param: str, text: str, df: pd.DataFrame) -> None:
    try:
        parse_expression(text).check_columns([str(c) for c in df.columns])
    except ExpressionError as exc:
        raise ParameterError(
            f"Parameter '{param}': {exc.message}",
            param=param,
            columns=[exc.construct] if exc.construct else None,
            available=[str(c) for c in df.columns],
        ) from exc


@register
class SortRows(Operator):
    name = "sort_rows"
    title = "Sort rows"
    group = GROUP
    description = "Sort rows by one or more columns (stable sort)."
    params = (
        Param("columns", "columns", required=True),
        Param("ascending", "boolean", default=True),
        Param(
            "na_position", "choice", default="last", choices=("first", "last"), description="Where missing values go."
        ),
    )
    kernel = sort_rows


@register
class DropDuplicates(Operator):
    name = "drop_duplicates"
    title = "Drop duplicate rows"
    group = GROUP
    description = "Remove repeated rows, comparing all columns or a subset."
    params = (
        Param("subset", "columns", description="Columns to compare; empty: all columns."),
        Param(
            "keep",
            "choice",
            default="first",
            choices=("first", "last", "none"),
            description="Which of the repeated rows to keep (none: drop them all).",
        ),
    )
    kernel = drop_duplicate_rows


@register
class SampleRows(Operator):
    name = "sample_rows"
    title = "Sample rows"
    group = GROUP
    description = "Keep a random sample of n rows or a fraction of rows (reproducible with the seed)."
    params = (
        Param("mode", "choice", default="n", choices=("n", "fraction")),
        Param("n", "integer", minimum=0, description="Number of rows (mode n)."),
        Param("fraction", "number", minimum=0, maximum=1, description="Fraction of rows (mode fraction)."),
        Param("seed", "integer", default=42, minimum=0),
    )
    kernel = sample_rows

    def check_params(self, params: Params) -> None:
        if params["mode"] == "n" and params["n"] is None:
            raise ParameterError("Parameter 'n' is required when mode is 'n'.", param="n")
        if params["mode"] == "fraction" and params["fraction"] is None:
            raise ParameterError("Parameter 'fraction' is required when mode is 'fraction'.", param="fraction")


@register
class HeadRows(Operator):
    name = "head_rows"
    title = "Limit rows (head)"
    group = GROUP
    description = "Keep the first n rows (or the last n rows)."
    params = (
        Param("n", "integer", required=True, minimum=0),
        Param("from_end", "boolean", default=False, description="Keep the last rows instead (tail)."),
    )
    kernel = head_rows
