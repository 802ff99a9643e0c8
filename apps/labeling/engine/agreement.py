"""Inter-annotator agreement: Fleiss' kappa and Krippendorff's alpha. Plain numpy, no Django."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np


def fleiss_kappa(counts: np.ndarray | Sequence[Sequence[int]]) -> float | None:
    """Fleiss (1971). `counts[i][j]`: how many raters put item i in category j; every row has the same total n >= 2.
    None when undefined (no item, or chance agreement is 1: every rating in one category)."""
    table = np.asarray(counts, dtype=float)
    if table.ndim != 2 or table.shape[0] == 0:
        return None
    n = table.sum(axis=1)
    if not np.all(n == n[0]) or n[0] < 2:
        raise ValueError("Fleiss' kappa needs the same number (>= 2) of ratings on every item.")
    raters = n[0]
    items = table.shape[0]
    p_j = table.sum(axis=0) / (items * raters)
    p_i = ((table * table).sum(axis=1) - raters) / (raters * (raters - 1))
    p_bar = p_i.mean()
    p_e = float((p_j * p_j).sum())
    if p_e >= 1.0:
        return None
    return float((p_bar - p_e) / (1 - p_e))


def fleiss_kappa_from_ratings(ratings: dict[Any, list[Any]], categories: Sequence[Any] = ()) -> float | None:
    """`{item: [category given by each rater]}` with varying numbers of raters: Fleiss' kappa over the items that have
    the most common number of ratings (ties: the larger number), items with a single rating left out."""
    sizes = Counter(len(v) for v in ratings.values() if len(v) >= 2)
    if not sizes:
        return None
    modal = max(sizes, key=lambda size: (sizes[size], size))
    cats = list(dict.fromkeys([*categories, *(c for v in ratings.values() for c in v)]))
    index = {c: j for j, c in enumerate(cats)}
    rows = []
    for values in ratings.values():
        if len(values) != modal:
            continue
        row = [0] * len(cats)
        for value in values:
            row[index[value]] += 1
        rows.append(row)
    return fleiss_kappa(rows)


def krippendorff_alpha(units: Sequence[Sequence[float | Any | None]], level: str = "nominal") -> float | None:
    """Krippendorff's alpha. `units[u]` lists the values coders gave unit u (None or a missing entry: not coded); a
    unit with fewer than two values is not pairable and left out. `level`: nominal, ordinal (values are ranks:
    numbers, or any sortable values) or interval. Computed through the coincidence matrix:
    alpha = 1 - (n - 1) · Σ o_ck δ²_ck / Σ n_c n_k δ²_ck."""
    if level not in ("nominal", "ordinal", "interval"):
        raise ValueError(f"Unknown level of measurement: {level}")
    coded = [[v for v in unit if v is not None] for unit in units]
    coded = [values for values in coded if len(values) >= 2]
    if not coded:
        return None
    values = sorted({v for unit in coded for v in unit})  # type: ignore[type-var]
    index = {v: i for i, v in enumerate(values)}
    k = len(values)
    coincidence = np.zeros((k, k))
    for unit in coded:
        m = len(unit)
        tally = np.zeros(k)
        for v in unit:
            tally[index[v]] += 1
        pairs = np.outer(tally, tally) - np.diag(tally)  # ordered pairs of different coders' values
        coincidence += pairs / (m - 1)
    n_c = coincidence.sum(axis=1)
    n = n_c.sum()
    if level == "nominal":
        delta = 1.0 - np.eye(k)
    elif level == "interval":
        x = np.asarray(values, dtype=float)
        delta = (x[:, None] - x[None, :]) ** 2
    else:  # ordinal: (sum of the marginals from c to k, less half of each end's) squared
        cum = np.concatenate([[0.0], np.cumsum(n_c)])
        delta = np.zeros((k, k))
        for c in range(k):
            for d in range(k):
                lo, hi = min(c, d), max(c, d)
                delta[c, d] = (cum[hi + 1] - cum[lo] - (n_c[lo] + n_c[hi]) / 2) ** 2
    expected = float((np.outer(n_c, n_c) * delta).sum())
    if expected == 0:
        return None
    observed = float((coincidence * delta).sum())
    return 1.0 - (n - 1) * observed / expected
