"""Scale numeric columns (standard, robust, min-max, max-abs: fitted), log transform and binning.

The four scalers share one kernel: ``(x - center) / scale + offset`` with per-column fitted numbers
stored as ``{"stats": {column: [center, scale, offset]}}``. A zero or missing scale counts as 1.
"""

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
    place_columns,
    quote_list,
    register,
    script_function,
)

GROUP = "Scale numeric"
COLUMNS = Param("columns", "columns", required=True, kind="numeric")


@script_function()
def affine_scale(df: pd.DataFrame, stats: dict[str, list[float | None]]) -> pd.DataFrame:
    out = df.copy(deep=False)
    for name, (center, scale, offset) in stats.items():
        x = df[name].astype("float64")
        out[name] = (x - (center or 0.0)) / (scale or 1.0) + (offset or 0.0)
    return out


@script_function()
def log_transform(df: pd.DataFrame, columns: list[str], method: str = "log1p") -> pd.DataFrame:
    """Logarithm of each value; values outside the domain (<= 0, or <= -1 for log1p) become missing."""
    out = df.copy(deep=False)
    for name in columns:
        x = df[name].astype("float64")
        with np.errstate(all="ignore"):
            if method == "log1p":
                out[name] = np.log1p(x.where(x > -1))
            else:
                positive = x.where(x > 0)
                out[name] = {"log": np.log, "log2": np.log2, "log10": np.log10}[method](positive)
    return out


@script_function(place_columns)
def bin_numeric(df: pd.DataFrame, edges: dict[str, list[float]], suffix: str = "_bin") -> pd.DataFrame:
    """Add the bin number (0-based) of each value given fitted bin edges; outside values go to the end bins."""
    out = df
    for name, column_edges in edges.items():
        x = df[name].astype("float64").to_numpy()
        inner = np.asarray(column_edges[1:-1], dtype="float64")
        codes = pd.Series(np.searchsorted(inner, x, side="right"), index=df.index, dtype="Int64")
        codes = codes.mask(np.isnan(x), pd.NA)
        out = place_columns(out, name, pd.DataFrame({name + suffix: codes}, index=df.index))
    return out


class _Scaler(Operator):
    group = GROUP
    stateful = True
    kernel = affine_scale

    def _fit(self, df: pd.DataFrame, params: Params) -> Mapping[str, Any]:
        return {"stats": {name: list(self.stats(df[name].astype("float64"), params)) for name in params["columns"]}}

    def stats(self, x: pd.Series, params: Params) -> tuple[float, float, float]:
        raise NotImplementedError

    def kernel_args(self, params: Params, trained: Trained | None) -> dict[str, Any]:
        return {"stats": trained["stats"] if trained is not None else {}}


def _nonzero(value: float) -> float:
    return value if value and np.isfinite(value) else 1.0


@register
class StandardScale(_Scaler):
    name = "standard_scale"
    title = "Standard scaler"
    description = "Center on the mean and divide by the standard deviation (learnt when fitted)."
    params = (
        COLUMNS,
        Param("with_mean", "boolean", default=True),
        Param("with_std", "boolean", default=True),
    )

    def stats(self, x: pd.Series, params: Params) -> tuple[float, float, float]:
        center = x.mean() if params["with_mean"] else 0.0
        scale = _nonzero(x.std(ddof=0)) if params["with_std"] else 1.0
        return center, scale, 0.0


@register
class RobustScale(_Scaler):
    name = "robust_scale"
    title = "Robust scaler"
    description = "Center on the median and divide by the interquartile range (robust to outliers)."
    params = (
        COLUMNS,
        Param("lower_quantile", "number", default=0.25, minimum=0, maximum=1),
        Param("upper_quantile", "number", default=0.75, minimum=0, maximum=1),
    )

    def check_params(self, params: Params) -> None:
        if params["lower_quantile"] >= params["upper_quantile"]:
            raise ParameterError(
                "Parameter 'lower_quantile' must be smaller than 'upper_quantile'.", param="lower_quantile"
            )

    def stats(self, x: pd.Series, params: Params) -> tuple[float, float, float]:
        spread = x.quantile(params["upper_quantile"]) - x.quantile(params["lower_quantile"])
        return x.median(), _nonzero(spread), 0.0


@register
class MinMaxScale(_Scaler):
    name = "minmax_scale"
    title = "Min-max scaler"
    description = "Map the fitted minimum..maximum range linearly onto [feature_min, feature_max]."
    params = (
        COLUMNS,
        Param("feature_min", "number", default=0.0),
        Param("feature_max", "number", default=1.0),
    )

    def check_params(self, params: Params) -> None:
        if params["feature_min"] >= params["feature_max"]:
            raise ParameterError("Parameter 'feature_min' must be smaller than 'feature_max'.", param="feature_min")

    def stats(self, x: pd.Series, params: Params) -> tuple[float, float, float]:
        width = params["feature_max"] - params["feature_min"]
        return x.min(), _nonzero(x.max() - x.min()) / width, params["feature_min"]


@register
class MaxAbsScale(_Scaler):
    name = "maxabs_scale"
    title = "Max-abs scaler"
    description = "Divide by the largest absolute value (learnt when fitted): values land in [-1, 1]."
    params = (COLUMNS,)

    def stats(self, x: pd.Series, params: Params) -> tuple[float, float, float]:
        return 0.0, _nonzero(x.abs().max()), 0.0


@register
class LogTransform(Operator):
    name = "log_transform"
    title = "Log transform"
    group = GROUP
    description = "Natural, base-2 or base-10 logarithm, or log(1 + x). Values outside the domain become missing."
    params = (COLUMNS, Param("method", "choice", default="log1p", choices=("log", "log1p", "log2", "log10")))
    kernel = log_transform


@register
class BinNumeric(Operator):
    name = "bin_numeric"
    title = "Bin (discretize)"
    group = GROUP
    description = "Add a column with the bin number of each value: equal-width or equal-frequency bins (fitted)."
    params = (
        COLUMNS,
        Param("n_bins", "integer", default=5, minimum=2, maximum=100),
        Param("strategy", "choice", default="quantile", choices=("uniform", "quantile")),
        Param("suffix", "string", default="_bin"),
    )
    stateful = True
    kernel = bin_numeric

    def check_data(self, params: Params, inputs: Sequence[pd.DataFrame]) -> None:
        clash = [c + params["suffix"] for c in params["columns"] if c + params["suffix"] in inputs[0].columns]
        if not params["suffix"] or clash:
            raise ParameterError(f"Parameter 'suffix': column(s) {quote_list(clash)} already exist.", param="suffix")

    def _fit(self, df: pd.DataFrame, params: Params) -> Mapping[str, Any]:
        edges: dict[str, list[float]] = {}
        for name in params["columns"]:
            x = df[name].astype("float64").dropna()
            if x.empty:
                edges[name] = []
            elif params["strategy"] == "uniform":
                edges[name] = np.unique(np.linspace(x.min(), x.max(), params["n_bins"] + 1)).tolist()
            else:
                edges[name] = np.unique(x.quantile(np.linspace(0, 1, params["n_bins"] + 1)).to_numpy()).tolist()
        return {"edges": edges}

    def kernel_args(self, params: Params, trained: Trained | None) -> dict[str, Any]:
        return {"edges": trained["edges"] if trained is not None else {}, "suffix": params["suffix"]}
