"""Balance data for a target column: random oversampling, random undersampling, SMOTE.

``ratio`` is the wanted size of every class relative to the largest (oversampling) or smallest
(undersampling) class; 1.0 means equal sizes. Rows with a missing target are kept unchanged.
All three are reproducible through ``seed`` (numpy's default generator).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .base import Operator, Param, ParameterError, Params, check_kind, register, script_function

GROUP = "Balance data"
MAX_CLASSES = 200
TARGET = Param("target", "column", required=True, kind="categorical", description="The class column.")
SEED = Param("seed", "integer", default=42, minimum=0)


@script_function()
def random_oversample(df: pd.DataFrame, target: str, ratio: float = 1.0, seed: int = 42) -> pd.DataFrame:
    """Append random copies (with replacement) of smaller classes until each has ratio x the largest class."""
    codes, classes = pd.factorize(df[target], sort=True)
    sizes = np.bincount(codes[codes >= 0], minlength=len(classes))
    goal = int(np.ceil(ratio * sizes.max())) if len(classes) else 0
    rng = np.random.default_rng(seed)
    extra = [
        rng.choice(np.flatnonzero(codes == k), size=goal - sizes[k], replace=True)
        for k in range(len(classes))
        if goal > sizes[k]
    ]
    positions = np.concatenate([np.arange(len(df)), *extra]).astype("int64")
    return df.iloc[positions].reset_index(drop=True)


@script_function()
def random_undersample(df: pd.DataFrame, target: str, ratio: float = 1.0, seed: int = 42) -> pd.DataFrame:
    """Keep a random subset of larger classes: at most (smallest class / ratio) rows each; row order kept."""
    codes, classes = pd.factorize(df[target], sort=True)
    sizes = np.bincount(codes[codes >= 0], minlength=len(classes))
    if not len(classes):
        return df.reset_index(drop=True)
    goal = int(np.floor(sizes.min() / ratio))
    rng = np.random.default_rng(seed)
    kept = [np.flatnonzero(codes == -1)]
    for k in range(len(classes)):
        members = np.flatnonzero(codes == k)
        kept.append(members if len(members) <= goal else rng.choice(members, size=goal, replace=False))
    return df.iloc[np.sort(np.concatenate(kept))].reset_index(drop=True)


@script_function()
def smote_oversample(
    df: pd.DataFrame,
    target: str,
    features: list[str] | None = None,
    k_neighbors: int = 5,
    ratio: float = 1.0,
    seed: int = 42,
) -> pd.DataFrame:
    """SMOTE: new rows on the segment between a row and one of its k nearest neighbours of the same class.

    Feature columns (default: every numeric, non-boolean column but the target) are interpolated, integer
    columns rounded; other columns are copied from the base row. New rows are appended after the original ones.
    """
    from sklearn.neighbors import NearestNeighbors

    if not features:
        features = [
            c
            for c in df.columns
            if c != target
            and pd.api.types.is_numeric_dtype(df[c].dtype)
            and not pd.api.types.is_bool_dtype(df[c].dtype)
        ]
    codes, classes = pd.factorize(df[target], sort=True)
    sizes = np.bincount(codes[codes >= 0], minlength=len(classes))
    goal = int(np.ceil(ratio * sizes.max())) if len(classes) else 0
    matrix = df[features].astype("float64").to_numpy(dtype="float64", na_value=np.nan)
    rng = np.random.default_rng(seed)
    parts = [df]
    for k in range(len(classes)):
        need = goal - sizes[k]
        if need <= 0:
            continue
        members = np.flatnonzero(codes == k)
        points = matrix[members]
        if np.isnan(points).any():
            bad = [f for f, has_nan in zip(features, np.isnan(points).any(axis=0), strict=True) if has_nan]
            raise ValueError(f"SMOTE needs complete feature values; class {classes[k]!r} has missing values in {bad}")
        base = rng.integers(0, len(members), size=need)
        if len(members) == 1:
            synthetic = points[base]
        else:
            model = NearestNeighbors(n_neighbors=min(k_neighbors, len(members) - 1) + 1).fit(points)
            queried, row = np.unique(base, return_inverse=True)
            neighbours = model.kneighbors(points[queried], return_distance=False)[:, 1:]  # drop the point itself
            partner = neighbours[row, rng.integers(0, neighbours.shape[1], size=need)]
            gap = rng.random(need)[:, None]
            synthetic = points[base] + gap * (points[partner] - points[base])
        rows = df.iloc[members[base]].reset_index(drop=True)
        for j, name in enumerate(features):
            values = synthetic[:, j]
            if pd.api.types.is_integer_dtype(df[name].dtype):
                values = np.rint(values)
            rows[name] = pd.Series(values, index=rows.index).astype(df[name].dtype)
        parts.append(rows)
    return pd.concat(parts, ignore_index=True)


class _Balancer(Operator):
    group = GROUP

    def check_data(self, params: Params, inputs: Sequence[pd.DataFrame]) -> None:
        distinct = inputs[0][params["target"]].nunique(dropna=True)
        if distinct > MAX_CLASSES:
            raise ParameterError(
                f"Parameter 'target': column {params['target']!r} has {distinct} distinct values; balancing needs a "
                f"class column with at most {MAX_CLASSES} classes.",
                param="target",
            )


@register
class RandomOversample(_Balancer):
    name = "random_oversample"
    title = "Random oversample"
    description = "Duplicate random rows of the smaller classes until every class reaches ratio x the largest."
    params = (TARGET, Param("ratio", "number", default=1.0, minimum=0.01, maximum=1), SEED)
    kernel = random_oversample


@register
class RandomUndersample(_Balancer):
    name = "random_undersample"
    title = "Random undersample"
    description = "Drop random rows of the larger classes until none exceeds (smallest class / ratio)."
    params = (TARGET, Param("ratio", "number", default=1.0, minimum=0.01, maximum=1), SEED)
    kernel = random_undersample


@register
class Smote(_Balancer):
    name = "smote"
    title = "SMOTE oversample"
    description = (
        "Create synthetic rows for the smaller classes by interpolating numeric features between a row and one "
        "of its k nearest neighbours of the same class. Features must have no missing values."
    )
    params = (
        TARGET,
        Param("features", "columns", kind="numeric", description="Numeric features; empty: all numeric columns."),
        Param("k_neighbors", "integer", default=5, minimum=1, maximum=100),
        Param("ratio", "number", default=1.0, minimum=0.01, maximum=1),
        SEED,
    )
    kernel = smote_oversample

    def check_data(self, params: Params, inputs: Sequence[pd.DataFrame]) -> None:
        super().check_data(params, inputs)
        if params["target"] in (params["features"] or []):
            raise ParameterError("Parameter 'features' must not contain the target column.", param="features")
        if not self.features(params, inputs[0]):
            raise ParameterError("SMOTE needs at least one numeric feature column.", param="features")
        check_kind("features", self.features(params, inputs[0]), inputs[0], "numeric")

    def features(self, params: Params, df: pd.DataFrame) -> list[str]:
        if params["features"]:
            return list(params["features"])
        return [
            str(c)
            for c in df.columns
            if c != params["target"]
            and pd.api.types.is_numeric_dtype(df[c].dtype)
            and not pd.api.types.is_bool_dtype(df[c].dtype)
        ]
