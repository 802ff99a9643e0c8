"""Consolidating Likert ratings: mean, spread and count per criterion. Plain Python, no Django."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any


def summarise_ratings(ratings: Sequence[Mapping[str, Any]], criteria: Sequence[str] = ()) -> dict[str, dict[str, Any]]:
    """`[{criterion: points}]` (one dict per worker) → {criterion: {"mean", "std" (population), "n"}}."""
    names = list(dict.fromkeys([*criteria, *(name for r in ratings for name in r)]))
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        values = [float(r[name]) for r in ratings if r.get(name) is not None]
        if not values:
            continue
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        out[name] = {"mean": round(mean, 4), "std": round(std, 4), "n": len(values)}
    return out


def ratings_confidence(summary: Mapping[str, Mapping[str, Any]], scale: int) -> float:
    """1 - the mean spread over the largest spread the scale allows ((scale - 1) / 2): 1 when every worker gave the
    same points, 0 when they split between the two ends; 0 with a single worker."""
    if not summary or any(s["n"] < 2 for s in summary.values()) or scale < 2:
        return 0.0
    widest = (scale - 1) / 2
    mean_std = sum(s["std"] for s in summary.values()) / len(summary)
    return max(0.0, min(1.0, 1 - mean_std / widest))
