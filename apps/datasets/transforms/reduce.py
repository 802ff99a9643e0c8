"""Reduce dimensionality: PCA over chosen numeric columns (fitted mean, scale and components as JSON lists)."""

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
    TransformError,
    quote_list,
    register,
    script_function,
)

GROUP = "Reduce dimensionality"


@script_function()
def pca_project(
    df: pd.DataFrame,
    columns: list[str],
    mean: list[float],
    scale: list[float],
    components: list[list[float]],
    prefix: str = "pc_",
    drop_original: bool = True,
) -> pd.DataFrame:
    """Append ``<prefix>1..k``: the centred (and scaled) columns projected on the fitted components.

    A row with a missing value in any input column gets missing components.
    """
    x = df[columns].astype("float64").to_numpy(dtype="float64", na_value=np.nan)
    z = ((x - np.asarray(mean)) / np.asarray(scale)) @ np.asarray(components, dtype="float64").reshape(
        -1, len(columns)
    ).T
    names = [f"{prefix}{i + 1}" for i in range(z.shape[1])]
    base = df.drop(columns=columns) if drop_original else df
    clash = [n for n in names if n in base.columns]
    if clash:
        raise ValueError(f"Cannot add column(s) {clash}: a column with that name exists")
    return pd.concat([base, pd.DataFrame(z, columns=names, index=df.index)], axis=1)


@register
class Pca(Operator):
    name = "pca"
    title = "Principal component analysis (PCA)"
    group = GROUP
    description = (
        "Replace numeric columns with their first n principal components (fitted on rows without missing values; "
        "optionally standardised first). Component signs are fixed so the largest loading is positive."
    )
    params = (
        Param("columns", "columns", required=True, kind="numeric"),
        Param("n_components", "integer", default=2, minimum=1),
        Param("standardize", "boolean", default=True, description="Divide each column by its standard deviation."),
        Param("prefix", "string", default="pc_"),
        Param("drop_original", "boolean", default=True),
    )
    stateful = True
    kernel = pca_project

    def check_params(self, params: Params) -> None:
        if params["n_components"] > len(params["columns"]):
            raise ParameterError(
                f"Parameter 'n_components' ({params['n_components']}) cannot exceed the number of columns "
                f"({len(params['columns'])}).",
                param="n_components",
            )
        if not params["prefix"]:
            raise ParameterError("Parameter 'prefix' must not be empty.", param="prefix")

    def check_data(self, params: Params, inputs: Sequence[pd.DataFrame]) -> None:
        df = inputs[0]
        kept = df.columns.drop(params["columns"]) if params["drop_original"] else df.columns
        clash = [
            f"{params['prefix']}{i + 1}" for i in range(params["n_components"]) if f"{params['prefix']}{i + 1}" in kept
        ]
        if clash:
            raise ParameterError(f"Parameter 'prefix': column(s) {quote_list(clash)} already exist.", param="prefix")

    def _fit(self, df: pd.DataFrame, params: Params) -> Mapping[str, Any]:
        x = df[params["columns"]].astype("float64").dropna().to_numpy(dtype="float64")
        k = params["n_components"]
        if len(x) < max(k, 2):
            raise TransformError(f"PCA needs at least {max(k, 2)} rows without missing values, found {len(x)}.")
        mean = x.mean(axis=0)
        scale = x.std(axis=0) if params["standardize"] else np.ones(x.shape[1])
        scale[~(scale > 0)] = 1.0
        _, singular, vt = np.linalg.svd((x - mean) / scale, full_matrices=False)
        components = vt[:k]
        signs = np.sign(components[np.arange(k), np.abs(components).argmax(axis=1)])
        components = components * np.where(signs == 0, 1.0, signs)[:, None]
        variance = singular**2
        ratio = variance[:k] / variance.sum() if variance.sum() > 0 else np.zeros(k)
        return {"mean": mean, "scale": scale, "components": components, "explained_variance_ratio": ratio}

    def kernel_args(self, params: Params, trained: Trained | None) -> dict[str, Any]:
        fitted = trained if trained is not None else {"mean": [], "scale": [], "components": []}
        return {
            "columns": params["columns"],
            "mean": fitted["mean"],
            "scale": fitted["scale"],
            "components": fitted["components"],
            "prefix": params["prefix"],
            "drop_original": params["drop_original"],
        }
