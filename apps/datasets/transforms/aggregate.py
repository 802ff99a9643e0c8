"""Group by and aggregate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from .base import (
    Operator,
    Param,
    ParameterError,
    Params,
    Trained,
    check_kind,
    quote_list,
    register,
    require_columns,
    script_function,
)

GROUP = "Group by"
FUNCTIONS = ("count", "size", "sum", "mean", "median", "min", "max", "std", "var", "nunique", "first", "last")
NUMERIC_FUNCTIONS = ("sum", "mean", "median", "std", "var")


@script_function()
def group_by_aggregate(
    df: pd.DataFrame,
    keys: list[str],
    aggregations: list[dict[str, str]],
    drop_missing_keys: bool = False,
) -> pd.DataFrame:
    """One row per distinct key combination (sorted), one column per aggregation."""
    named = {a["as"]: (a["column"], a["func"]) for a in aggregations}
    grouped = df.groupby(list(keys), dropna=drop_missing_keys, sort=True, observed=True)
    return grouped.agg(**named).reset_index()


def normalized_aggregations(raw: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"column": a["column"], "func": a["func"], "as": a.get("as") or f"{a['column']}_{a['func']}"} for a in raw]


@register
class GroupByAggregate(Operator):
    name = "group_by_aggregate"
    title = "Group by and aggregate"
    group = GROUP
    description = (
        'Group rows by key columns and compute aggregations, e.g. [{"column": "price", "func": "mean", '
        f'"as": "avg_price"}}]. Functions: {", ".join(FUNCTIONS)}.'
    )
    params = (
        Param("keys", "columns", required=True),
        Param(
            "aggregations",
            "json",
            required=True,
            description='List of {"column": ..., "func": ..., "as": optional output name}.',
        ),
        Param("drop_missing_keys", "boolean", default=False, description="Drop rows whose keys are missing."),
    )
    kernel = group_by_aggregate

    def check_params(self, params: Params) -> None:
        raw = params["aggregations"]
        if not isinstance(raw, list) or not raw:
            raise ParameterError("Parameter 'aggregations' must be a non-empty list.", param="aggregations")
        for index, item in enumerate(raw):
            where = f"Parameter 'aggregations', item {index + 1}"
            if not isinstance(item, dict) or set(item) - {"column", "func", "as"}:
                raise ParameterError(
                    f"{where}: expected an object with keys column, func and optional as.", param="aggregations"
                )
            if not isinstance(item.get("column"), str) or not item["column"]:
                raise ParameterError(f"{where}: 'column' must be a column name.", param="aggregations")
            if item.get("func") not in FUNCTIONS:
                raise ParameterError(
                    f"{where}: 'func' must be one of {quote_list(FUNCTIONS)}, got {item.get('func')!r}.",
                    param="aggregations",
                )
            if item.get("as") is not None and (not isinstance(item["as"], str) or not item["as"]):
                raise ParameterError(f"{where}: 'as' must be a non-empty name.", param="aggregations")
        names = [a["as"] for a in normalized_aggregations(raw)]
        repeated = sorted({n for n in names if names.count(n) > 1} | (set(names) & set(params["keys"])))
        if repeated:
            raise ParameterError(
                f"Parameter 'aggregations': output name(s) {quote_list(repeated)} are used twice.", param="aggregations"
            )

    def check_data(self, params: Params, inputs: Sequence[pd.DataFrame]) -> None:
        df = inputs[0]
        aggregations = normalized_aggregations(params["aggregations"])
        require_columns("aggregations", [a["column"] for a in aggregations], df)
        numeric = [a["column"] for a in aggregations if a["func"] in NUMERIC_FUNCTIONS]
        check_kind("aggregations", list(dict.fromkeys(numeric)), df, "numeric")

    def kernel_args(self, params: Params, trained: Trained | None) -> dict[str, Any]:
        return {
            "keys": params["keys"],
            "aggregations": normalized_aggregations(params["aggregations"]),
            "drop_missing_keys": params["drop_missing_keys"],
        }
