"""Combine datasets: join two inputs on keys, concatenate the rows of several inputs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from .base import (
    MultiInputOperator,
    Param,
    ParameterError,
    Params,
    Snippet,
    Trained,
    register,
    script_function,
)

GROUP = "Combine datasets"
JOIN_TYPES = ("inner", "left", "right", "outer", "anti", "semi")


@script_function()
def join_frames(
    left: pd.DataFrame,
    right: pd.DataFrame,
    how: str,
    left_on: list[str],
    right_on: list[str],
    suffixes: list[str],
) -> pd.DataFrame:
    """SQL-style joins; ``semi`` keeps left rows with a match, ``anti`` those without (left columns only).

    As in pandas, missing keys match each other.
    """
    if how in ("semi", "anti"):
        keys = right[right_on].drop_duplicates().set_axis(left_on, axis=1)
        marker = left[left_on].merge(keys, how="left", on=left_on, indicator="__atelier_join__")["__atelier_join__"]
        hit = (marker == "both").to_numpy()
        return left[hit if how == "semi" else ~hit].reset_index(drop=True)
    if left_on == right_on:
        return left.merge(right, how=how, on=left_on, suffixes=tuple(suffixes))
    return left.merge(right, how=how, left_on=left_on, right_on=right_on, suffixes=tuple(suffixes))


@script_function()
def concatenate_frames(
    frames: list[tuple[str, pd.DataFrame]],
    columns: str = "union",
    source_column: str | None = None,
) -> pd.DataFrame:
    """Stack rows; columns are aligned by name (union: all columns, missing values where absent;
    intersection: only the columns every input has). ``source_column`` records each row's input id."""
    parts = [frame.assign(**{source_column: name}) if source_column else frame for name, frame in frames]
    return pd.concat(parts, join="outer" if columns == "union" else "inner", ignore_index=True)


@register
class Join(MultiInputOperator):
    name = "join"
    title = "Join"
    group = GROUP
    description = (
        "Join the first input (left) with the second (right) on key columns: inner, left, right, outer, "
        "semi (left rows that have a match) or anti (left rows without a match). Use 'on' when the keys have "
        "the same names, or 'left_on' and 'right_on'."
    )
    params = (
        Param("how", "choice", default="inner", choices=JOIN_TYPES),
        Param("on", "columns", input="all", description="Key columns present in both inputs."),
        Param("left_on", "columns", input=0, description="Key columns of the left input."),
        Param("right_on", "columns", input=1, description="Key columns of the right input, same order."),
        Param("left_suffix", "string", default="_left", description="Added to clashing left column names."),
        Param("right_suffix", "string", default="_right", description="Added to clashing right column names."),
    )
    min_inputs = 2
    max_inputs = 2
    kernel = join_frames

    def check_params(self, params: Params) -> None:
        if params["on"]:
            if params["left_on"] or params["right_on"]:
                raise ParameterError("Use either 'on' or 'left_on' + 'right_on', not both.", param="on")
        elif not params["left_on"] or not params["right_on"]:
            raise ParameterError("Set the key columns: 'on', or both 'left_on' and 'right_on'.", param="on")
        elif len(params["left_on"]) != len(params["right_on"]):
            raise ParameterError(
                "Parameters 'left_on' and 'right_on' must list the same number of columns.", param="right_on"
            )
        if params["left_suffix"] == params["right_suffix"]:
            raise ParameterError("Parameters 'left_suffix' and 'right_suffix' must differ.", param="right_suffix")

    def check_data(self, params: Params, inputs: Sequence[pd.DataFrame]) -> None:
        left_on, right_on = self.keys(params)
        for lk, rk in zip(left_on, right_on, strict=True):
            lt, rt = inputs[0][lk].dtype, inputs[1][rk].dtype
            if pd.api.types.is_numeric_dtype(lt) != pd.api.types.is_numeric_dtype(rt):
                raise ParameterError(
                    f"Join keys {lk!r} ({lt}) and {rk!r} ({rt}) have incompatible types; cast one of them first.",
                    param="on" if params["on"] else "left_on",
                    columns=[lk, rk],
                )

    def keys(self, params: Params) -> tuple[list[str], list[str]]:
        if params["on"]:
            return list(params["on"]), list(params["on"])
        return list(params["left_on"]), list(params["right_on"])

    def kernel_args(self, params: Params, trained: Trained | None) -> dict[str, Any]:
        left_on, right_on = self.keys(params)
        return {
            "how": params["how"],
            "left_on": left_on,
            "right_on": right_on,
            "suffixes": [params["left_suffix"], params["right_suffix"]],
        }

    def apply_validated(
        self,
        inputs: Sequence[pd.DataFrame],
        params: Params,
        trained: Trained | None,
        names: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        return join_frames(inputs[0], inputs[1], **self.kernel_args(params, trained))

    def code(
        self,
        params: Params,
        trained_ref: str | None,
        input_vars: Sequence[str],
        input_ids: Sequence[str],
        output_var: str,
    ) -> Snippet:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kernel_args(params, None).items())
        return Snippet(
            lines=[f"{output_var} = join_frames({input_vars[0]}, {input_vars[1]}, {args})"], functions=[join_frames]
        )


@register
class Concatenate(MultiInputOperator):
    name = "concatenate"
    title = "Concatenate rows"
    group = GROUP
    description = (
        "Stack the rows of two or more inputs, aligning columns by name: keep all columns (union, missing values "
        "where an input lacks one) or only the shared ones (intersection)."
    )
    params = (
        Param("columns", "choice", default="union", choices=("union", "intersection")),
        Param("source_column", "string", description="If set, a column with each row's input id."),
    )
    kernel = concatenate_frames

    def check_data(self, params: Params, inputs: Sequence[pd.DataFrame]) -> None:
        name = params["source_column"]
        if name is not None and (not name or any(name in frame.columns for frame in inputs)):
            raise ParameterError(
                f"Parameter 'source_column': {name!r} is empty or already a column.", param="source_column"
            )

    def apply_validated(
        self,
        inputs: Sequence[pd.DataFrame],
        params: Params,
        trained: Trained | None,
        names: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        ids = list(names) if names is not None else [f"input{i + 1}" for i in range(len(inputs))]
        return concatenate_frames(list(zip(ids, inputs, strict=True)), params["columns"], params["source_column"])

    def code(
        self,
        params: Params,
        trained_ref: str | None,
        input_vars: Sequence[str],
        input_ids: Sequence[str],
        output_var: str,
    ) -> Snippet:
        frames = ", ".join(f"({i!r}, {v})" for i, v in zip(input_ids, input_vars, strict=True))
        line = (
            f"{output_var} = concatenate_frames([{frames}], columns={params['columns']!r}, "
            f"source_column={params['source_column']!r})"
        )
        return Snippet(lines=[line], functions=[concatenate_frames])
