"""Custom formula: a new (or replaced) column computed with the safe expression language."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from .base import Operator, Param, ParameterError, Params, Snippet, Trained, comment, register, script_function
from .expressions import parse_expression
from .rows import check_expression_columns


@script_function()
def assign_column(df: pd.DataFrame, name: str, values: Any) -> pd.DataFrame:
    """Set column ``name`` (a new column goes last); a single value fills the whole column."""
    out = df.copy(deep=False)
    out[name] = values
    return out


@register
class CustomFormula(Operator):
    name = "custom_formula"
    title = "Custom formula"
    group = "Custom formula"
    description = (
        "Compute a column from an expression, e.g. `price * quantity`, `upper(city)`, "
        "`'adult' if age >= 18 else 'minor'`. An existing column of that name is replaced."
    )
    params = (
        Param("new_column", "string", required=True),
        Param("expression", "expression", required=True),
    )
    kernel = assign_column

    def check_params(self, params: Params) -> None:
        if not params["new_column"]:
            raise ParameterError("Parameter 'new_column' must not be empty.", param="new_column")

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
        return assign_column(df, params["new_column"], parse_expression(params["expression"]).evaluate(df))

    def code(
        self,
        params: Params,
        trained_ref: str | None,
        input_vars: Sequence[str],
        input_ids: Sequence[str],
        output_var: str,
    ) -> Snippet:
        source, helpers = parse_expression(params["expression"]).to_code(input_vars[0])
        note = comment(f"# {params['new_column']} = {params['expression']}")
        line = f"{output_var} = assign_column({input_vars[0]}, {params['new_column']!r}, {source})"
        return Snippet(lines=[note, line], functions=[*helpers, assign_column])
