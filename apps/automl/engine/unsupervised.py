"""Built-in unsupervised algorithms. Each returns new columns (a DataFrame aligned with the input rows) and
plain chart data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import silhouette_score

from .columns import FEATURE_KINDS, TEXT, infer_columns
from .preprocess import PrepSpec, build_preprocessor

SAMPLE = 5000
SCATTER_POINTS = 1000


@dataclass
class UnsupervisedResult:
    columns: pd.DataFrame  # new columns, same index as the input
    chart: dict[str, Any]  # plain JSON
    info: dict[str, Any]  # plain JSON: what was used and chosen


def _matrix(df: pd.DataFrame, columns: list[str] | None) -> tuple[np.ndarray, list[str]]:
    """Numbers imputed and standardised, labels one-hot (rare levels pooled), dates as parts; text is skipped."""
    frame = df[columns] if columns else df
    kinds = {c: i.kind for c, i in infer_columns(frame).items() if i.kind in FEATURE_KINDS and i.kind != TEXT}
    if not kinds:
        raise ValueError("No usable numeric, categorical, boolean or date column.")
    prep = build_preprocessor(kinds, PrepSpec(scale=True, one_hot=True, max_one_hot=16, sparse_text=False), len(frame))
    X = np.asarray(prep.fit_transform(frame[list(kinds)]), dtype=float)
    return X, list(kinds)


def _r(values: Any, digits: int = 6) -> list[float]:
    return [round(float(v), digits) for v in np.asarray(values, dtype=float)]


def _scatter_rows(n: int, seed: int) -> np.ndarray:
    if n <= SCATTER_POINTS:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, SCATTER_POINTS, replace=False))


def pca(
    df: pd.DataFrame,
    *,
    columns: list[str] | None = None,
    n_components: int | None = None,
    variance: float = 0.9,
    seed: int = 0,
    prefix: str = "pc",
) -> UnsupervisedResult:
    """PCA with a fixed number of components, or as many as reach ``variance`` explained (0 < variance < 1)."""
    X, used = _matrix(df, columns)
    max_k = min(X.shape)
    if n_components is not None:
        if not 1 <= n_components <= max_k:
            raise ValueError(f"n_components must be between 1 and {max_k}.")
        model = PCA(n_components=n_components, random_state=seed).fit(X)
    else:
        if not 0 < variance < 1:
            raise ValueError("variance must be between 0 and 1.")
        full = PCA(n_components=max_k, random_state=seed).fit(X)
        k = int(np.searchsorted(np.cumsum(full.explained_variance_ratio_), variance) + 1)
        model = PCA(n_components=min(k, max_k), random_state=seed).fit(X)
    Z = model.transform(X)
    names = [f"{prefix}{i + 1}" for i in range(Z.shape[1])]
    rows = _scatter_rows(len(Z), seed)
    ratio = model.explained_variance_ratio_
    chart = {
        "explained_variance_ratio": _r(ratio),
        "cumulative": _r(np.cumsum(ratio)),
        "scatter": {"x": _r(Z[rows, 0]), "y": _r(Z[rows, 1]) if Z.shape[1] > 1 else [], "rows": rows.tolist()},
    }
    return UnsupervisedResult(
        pd.DataFrame(Z, columns=names, index=df.index),
        chart,
        {"columns_used": used, "n_components": len(names), "variance_explained": round(float(ratio.sum()), 6)},
    )


def kmeans(
    df: pd.DataFrame,
    *,
    columns: list[str] | None = None,
    k: int | None = None,
    k_min: int = 2,
    k_max: int = 10,
    method: str = "silhouette",
    seed: int = 0,
    column: str = "cluster",
) -> UnsupervisedResult:
    """k-means; without ``k``, suggests one on a sample: the best silhouette, or the elbow of the inertia curve."""
    X, used = _matrix(df, columns)
    rng = np.random.default_rng(seed)
    sample = X if len(X) <= SAMPLE else X[rng.choice(len(X), SAMPLE, replace=False)]
    k_max = min(k_max, len(sample) - 1)
    scores: list[dict[str, Any]] = []
    if k is None:
        if method not in ("silhouette", "elbow"):
            raise ValueError("method must be 'silhouette' or 'elbow'.")
        if k_max < k_min:
            raise ValueError("Too few rows to suggest a number of clusters.")
        for kk in range(k_min, k_max + 1):
            km = KMeans(n_clusters=kk, n_init=4, random_state=seed).fit(sample)
            sil = silhouette_score(sample, km.labels_, sample_size=min(2000, len(sample)), random_state=seed)
            scores.append({"k": kk, "silhouette": round(float(sil), 6), "inertia": round(float(km.inertia_), 4)})
        k = _elbow(scores) if method == "elbow" else max(scores, key=lambda s: s["silhouette"])["k"]
    elif not 1 <= k <= len(X):
        raise ValueError("k must be between 1 and the number of rows.")
    model = KMeans(n_clusters=int(k), n_init=4, random_state=seed).fit(X)
    labels = model.labels_
    coords = PCA(n_components=min(2, X.shape[1]), random_state=seed).fit_transform(X)
    rows = _scatter_rows(len(X), seed)
    chart = {
        "k_scores": scores,
        "suggested_k": int(k),
        "sizes": [int(c) for c in np.bincount(labels, minlength=int(k))],
        "scatter": {
            "x": _r(coords[rows, 0]),
            "y": _r(coords[rows, 1]) if coords.shape[1] > 1 else [],
            "cluster": labels[rows].astype(int).tolist(),
            "rows": rows.tolist(),
        },
    }
    return UnsupervisedResult(
        pd.DataFrame({column: labels.astype(int)}, index=df.index),
        chart,
        {"columns_used": used, "k": int(k), "method": method if scores else "given"},
    )


def _elbow(scores: list[dict[str, Any]]) -> int:
    """The k farthest below the straight line from the first to the last inertia (the 'knee')."""
    ks = np.array([s["k"] for s in scores], dtype=float)
    inertia = np.array([s["inertia"] for s in scores], dtype=float)
    if len(ks) < 3:
        return int(ks[0])
    line = inertia[0] + (inertia[-1] - inertia[0]) * (ks - ks[0]) / (ks[-1] - ks[0])
    return int(ks[int(np.argmax(line - inertia))])


def isolation_forest(
    df: pd.DataFrame,
    *,
    columns: list[str] | None = None,
    contamination: float | str = "auto",
    seed: int = 0,
    n_jobs: int = 2,
    prefix: str = "anomaly",
) -> UnsupervisedResult:
    """Anomaly score per row (higher = more unusual) and a flag at the model's threshold."""
    X, used = _matrix(df, columns)
    model = IsolationForest(n_estimators=200, contamination=contamination, random_state=seed, n_jobs=n_jobs).fit(X)
    score = -model.score_samples(X)
    flag = model.predict(X) == -1
    threshold = float(-model.offset_)
    counts, edges = np.histogram(score, bins=40)
    order = np.argsort(-score)[:20]
    chart = {
        "histogram": {"edges": _r(edges), "counts": [int(c) for c in counts]},
        "threshold": round(threshold, 6),
        "top_rows": [{"row": int(i), "score": round(float(score[i]), 6)} for i in order],
    }
    cols = pd.DataFrame({f"{prefix}_score": score, f"is_{prefix}": flag}, index=df.index)
    return UnsupervisedResult(
        cols, chart, {"columns_used": used, "n_flagged": int(flag.sum()), "contamination": contamination}
    )
