"""Handle outliers: standard deviation, robust (median/MAD), quantile and fixed min/max thresholds.

Each operator either clips values to the thresholds or removes the rows outside them. Missing values
are never outliers. The fitted operators store ``{"bounds": {column: [low, high]}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from .base import Operator, Param, ParameterError, Params, Trained, register, script_function

GROUP = "Handle outliers"
MAD_TO_STD = 1.4826  # scales the median absolute deviation to a standard deviation for normal data
ACTION = Param(
    "action",
    "choice",
    default="clip",
    choices=("clip", "remove"),
    description="clip: limit values to the thresholds; remove: drop rows outside them.",
)


@script_function()
def handle_outliers(df: pd.DataFrame, bounds: dict[str, list[float | None]], action: str) -> pd.DataFrame:
    """Clip each column to its ``[low, high]`` bounds, or remove rows outside them (``None``: no bound)."""
    if action == "clip":
        out = df.copy(deep=False)
        for name, (low, high) in bounds.items():
            s = df[name]
            if pd.api.types.is_integer_dtype(s.dtype):
                s = s.astype("Float64" if isinstance(s.dtype, pd.api.extensions.ExtensionDtype) else "float64")
            out[name] = s.clip(low, high)
        return out
    keep = pd.Series(True, index=df.index)
    for name, (low, high) in bounds.items():
        s = df[name]
        if low is not None:
            keep &= ~(s < low).fillna(False)
        if high is not None:
            keep &= ~(s > high).fillna(False)
    return df[keep.to_numpy(dtype=bool)].reset_index(drop=True)


class _FittedOutliers(Operator):
    group = GROUP
    stateful = True
    kernel = handle_outliers

    def kernel_args(self, params: Params, trained: Trained | None) -> dict[str, Any]:
        return {"bounds": trained["bounds"] if trained is not None else {}, "action": params["action"]}

    def _fit(self, df: pd.DataFrame, params: Params) -> Mapping[str, Any]:
        return {"bounds": {name: list(self.bounds(df[name].astype("float64"), params)) for name in params["columns"]}}

    def bounds(self, s: pd.Series, params: Params) -> tuple[float, float]:
        raise NotImplementedError


@register
class StdOutliers(_FittedOutliers):
    name = "outliers_std"
    title = "Outliers: standard deviation"
    description = "Values further than n standard deviations from the mean are outliers."
    params = (
        Param("columns", "columns", required=True, kind="numeric"),
        Param("n_std", "number", default=3.0, minimum=0),
        ACTION,
    )

    def bounds(self, s: pd.Series, params: Params) -> tuple[float, float]:
        mean, std = s.mean(), s.std()
        return mean - params["n_std"] * std, mean + params["n_std"] * std


@register
class RobustStdOutliers(_FittedOutliers):
    name = "outliers_robust_std"
    title = "Outliers: robust standard deviation"
    description = (
        "Values further than n robust standard deviations (1.4826 x median absolute deviation) from the median "
        "are outliers; unlike the mean, the median is not dragged by the outliers themselves."
    )
    params = (
        Param("columns", "columns", required=True, kind="numeric"),
        Param("n_std", "number", default=3.0, minimum=0),
        ACTION,
    )

    def bounds(self, s: pd.Series, params: Params) -> tuple[float, float]:
        median = s.median()
        spread = MAD_TO_STD * (s - median).abs().median()
        return median - params["n_std"] * spread, median + params["n_std"] * spread


@register
class QuantileOutliers(_FittedOutliers):
    name = "outliers_quantile"
    title = "Outliers: quantiles"
    description = "Values below the lower quantile or above the upper quantile are outliers."
    params = (
        Param("columns", "columns", required=True, kind="numeric"),
        Param("lower", "number", default=0.01, minimum=0, maximum=1),
        Param("upper", "number", default=0.99, minimum=0, maximum=1),
        ACTION,
    )

    def check_params(self, params: Params) -> None:
        if params["lower"] >= params["upper"]:
            raise ParameterError("Parameter 'lower' must be smaller than 'upper'.", param="lower")

    def bounds(self, s: pd.Series, params: Params) -> tuple[float, float]:
        return s.quantile(params["lower"]), s.quantile(params["upper"])


@register
class MinMaxOutliers(Operator):
    name = "outliers_minmax"
    title = "Outliers: min/max thresholds"
    group = GROUP
    description = "Values below a fixed minimum or above a fixed maximum are outliers."
    params = (
        Param("columns", "columns", required=True, kind="numeric"),
        Param("min", "number", description="Lowest allowed value; empty: no lower limit."),
        Param("max", "number", description="Highest allowed value; empty: no upper limit."),
        ACTION,
    )
    kernel = handle_outliers

    def check_params(self, params: Params) -> None:
        if params["min"] is None and params["max"] is None:
            raise ParameterError("Set at least one of 'min' and 'max'.", param="min")
        if params["min"] is not None and params["max"] is not None and params["min"] > params["max"]:
            raise ParameterError("Parameter 'min' must not be larger than 'max'.", param="min")

    def kernel_args(self, params: Params, trained: Trained | None) -> dict[str, Any]:
        bounds = {name: [params["min"], params["max"]] for name in params["columns"]}
        return {"bounds": bounds, "action": params["action"]}
