"""Fairness: reweigh or resample the rows so that a sensitive group's positive label rate is no longer lower.

The computations are Clarify's (``apps.clarify.engine.mitigate``, plain pandas/numpy): reweighing as AIF360 defines
it (a weight column; train with it as the sample weight) and Kamiran & Calders' uniform resampling (a new table in
which every (facet group, label) cell has its expected size). The label's positive class is given by its values or
a threshold (positive when above), the sensitive group of the facet column likewise.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from apps.clarify.engine import mitigate

from .base import Operator, Param, ParameterError, Params, register, require_new_column, script_function

GROUP = "Fairness"

fairness_match = script_function()(mitigate.fairness_match)
fairness_split = script_function(fairness_match)(mitigate.fairness_split)
fairness_cells = script_function(fairness_split)(mitigate.fairness_cells)
fairness_reweigh = script_function(fairness_cells)(mitigate.fairness_reweigh)
fairness_resample = script_function(fairness_cells)(mitigate.fairness_resample)

PARAMS = (
    Param("label", "column", required=True, description="The label (target) column."),
    Param(
        "positive_values",
        "json",
        label="Positive label values",
        description='A list of the label values that count as positive (the favorable outcome), e.g. ["yes"].',
    ),
    Param(
        "label_threshold",
        "number",
        description="For a numeric label instead of values: positive when the label is above this threshold.",
    ),
    Param("facet", "column", required=True, description="The sensitive attribute (facet) column."),
    Param(
        "facet_values",
        "json",
        label="Sensitive facet values",
        description='A list of the facet values of the sensitive group (facet d), e.g. ["female"].',
    ),
    Param(
        "facet_threshold",
        "number",
        description="For a numeric facet instead of values: the sensitive group is the rows above this threshold.",
    ),
)


def _check_values(params: Params, name: str, threshold: str, what: str) -> None:
    values = params[name]
    if values is None or values == []:
        params[name] = None
        if params[threshold] is None:
            raise ParameterError(f"Give '{name}' (a list of {what} values) or '{threshold}'.", param=name)
        return
    if isinstance(values, (str, int, float)):  # one value typed without the list brackets
        values = params[name] = [values]
    if not isinstance(values, list) or not all(isinstance(v, (str, int, float)) for v in values):
        raise ParameterError(
            f"Parameter '{name}' must be a list of {what} values (text, numbers or booleans).", param=name
        )
    if params[threshold] is not None:
        raise ParameterError(f"Give either '{name}' or '{threshold}', not both.", param=threshold)


class _FairnessOperator(Operator):
    group = GROUP
    method: str

    def check_params(self, params: Params) -> None:
        _check_values(params, "positive_values", "label_threshold", "label")
        _check_values(params, "facet_values", "facet_threshold", "facet")
        if params["label"] == params["facet"]:
            raise ParameterError("Parameter 'facet' must name another column than 'label'.", param="facet")

    def check_data(self, params: Params, inputs: Sequence[pd.DataFrame]) -> None:
        try:
            mitigate.check_inputs(
                inputs[0],
                label=params["label"],
                positive_values=params["positive_values"],
                label_threshold=params["label_threshold"],
                facet=params["facet"],
                facet_values=params["facet_values"],
                facet_threshold=params["facet_threshold"],
                method=self.method,
            )
        except mitigate.MitigationInputError as exc:
            raise ParameterError(exc.message, param=exc.field) from exc


@register
class FairnessReweigh(_FairnessOperator):
    name = "fairness_reweigh"
    title = "Reweigh for fairness"
    method = "reweighing"
    description = (
        "Add a weight column that gives the sensitive group the same weighted positive label rate as the others "
        "(AIF360's reweighing: weight = P(group) P(label) / P(group, label)). Train with it as the sample weight."
    )
    params = (
        *PARAMS,
        Param("weight_column", "string", default=mitigate.DEFAULT_WEIGHT_COLUMN, description="Name of the new column."),
    )
    kernel = fairness_reweigh

    def check_params(self, params: Params) -> None:
        super().check_params(params)
        if not params["weight_column"].strip():
            raise ParameterError("Parameter 'weight_column' must not be empty.", param="weight_column")

    def check_data(self, params: Params, inputs: Sequence[pd.DataFrame]) -> None:
        require_new_column("weight_column", params["weight_column"], inputs[0])
        super().check_data(params, inputs)


@register
class FairnessResample(_FairnessOperator):
    name = "fairness_resample"
    title = "Resample for fairness"
    method = "resampling"
    description = (
        "Duplicate or drop random rows so that every (facet group, label) combination has the size it would have "
        "if group and label were independent (uniform sampling, Kamiran & Calders): the positive label rate "
        "becomes the same in both groups."
    )
    params = (*PARAMS, Param("seed", "integer", default=0, minimum=0))
    kernel = fairness_resample
