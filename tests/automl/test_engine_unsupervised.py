"""Built-in unsupervised algorithms: new columns aligned with the rows, plus plain chart data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from apps.automl.engine.unsupervised import isolation_forest, kmeans, pca


def _blobs(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0, 0], [8, 8, 0], [0, 8, 8]])
    labels = rng.integers(0, 3, n)
    X = centres[labels] + rng.normal(size=(n, 3))
    df = pd.DataFrame(X, columns=["a", "b", "c"], index=np.arange(100, 100 + n))
    df["kind"] = pd.array(np.where(labels == 0, "x", "y"), "string")
    return df


def test_pca_by_variance_target_and_by_count() -> None:
    df = _blobs()
    res = pca(df, variance=0.8)
    assert list(res.columns.columns) == [f"pc{i + 1}" for i in range(res.info["n_components"])]
    assert res.info["variance_explained"] >= 0.8 and res.columns.index.equals(df.index)
    assert res.chart["cumulative"][-1] >= 0.8
    json.dumps(res.chart, allow_nan=False)
    assert pca(df, n_components=2).columns.shape == (300, 2)


def test_kmeans_suggests_the_number_of_blobs() -> None:
    df = _blobs()
    res = kmeans(df, columns=["a", "b", "c"], k_max=6)
    assert res.info["k"] == 3 and res.chart["suggested_k"] == 3
    assert [s["k"] for s in res.chart["k_scores"]] == [2, 3, 4, 5, 6]
    assert res.columns["cluster"].nunique() == 3 and sum(res.chart["sizes"]) == 300
    assert kmeans(df, columns=["a", "b", "c"], k_max=6, method="elbow").info["k"] == 3
    json.dumps(res.chart, allow_nan=False)


def test_isolation_forest_scores_the_outliers_highest() -> None:
    df = _blobs()
    df.iloc[:3, :3] = [[60, -60, 60], [-50, 50, -50], [70, 70, -70]]
    res = isolation_forest(df, contamination=0.02)
    top = {d["row"] for d in res.chart["top_rows"][:3]}
    assert top == {0, 1, 2}
    assert res.columns["is_anomaly"].iloc[:3].all() and res.info["n_flagged"] == 6
    json.dumps(res.chart, allow_nan=False)
