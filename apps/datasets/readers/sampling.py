"""Sampling a read frame: first rows, random, or stratified by a column."""

from __future__ import annotations

import numpy as np
import pandas as pd

from apps.datasets.readers.base import ReadError, Sampling


# --------------------------------------------------------------------------------------------------- sampling
def sample_frame(frame: pd.DataFrame, sampling: Sampling) -> pd.DataFrame:
    """Rows kept on import; the original order is preserved and the index reset."""
    method, size = sampling.method, sampling.size
    if method == "all":
        return frame
    if size is None or size < 1:
        raise ReadError("A sample size of at least 1 is required.", "sample_size")
    if size >= len(frame):
        return frame
    if method == "first":
        return frame.iloc[:size].reset_index(drop=True)
    rng = np.random.default_rng(sampling.seed)
    if method == "random":
        idx = np.sort(rng.choice(len(frame), size=size, replace=False))
        return frame.take(idx).reset_index(drop=True)
    if method == "stratified":
        if not sampling.column or sampling.column not in frame.columns:
            raise ReadError(f"Stratified sampling needs an existing column; got {sampling.column!r}.", "sample_column")
        return frame.take(stratified_indices(frame[sampling.column], size, rng)).reset_index(drop=True)
    raise ReadError(f"Unknown sampling method {method!r}; use all, first, random or stratified.", "sample_method")


def stratified_allocation(counts: np.ndarray, size: int) -> np.ndarray:
    """Rows per class: proportional (largest remainder), at least 1 per class when ``size`` allows it."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if size >= total:
        return counts.copy()
    k = len(counts)
    if size < k:  # not every class fits: one row each for the largest classes
        alloc = np.zeros(k, dtype=np.int64)
        alloc[np.argsort(-counts, kind="stable")[:size]] = 1
        return alloc
    target = size * counts / total
    alloc = np.minimum(np.maximum(np.floor(target).astype(np.int64), 1), counts)
    remainder = target - alloc
    while (diff := size - int(alloc.sum())) != 0:
        if diff > 0:
            order = np.argsort(-np.where(alloc < counts, remainder, -np.inf), kind="stable")
            room = order[: min(diff, int((alloc < counts).sum()))]
            alloc[room] += 1
        else:
            order = np.argsort(np.where(alloc > 1, remainder, np.inf), kind="stable")
            room = order[: min(-diff, int((alloc > 1).sum()))]
            alloc[room] -= 1
        remainder = target - alloc
    return alloc


def stratified_indices(column: pd.Series, size: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted row positions of a stratified sample of ``size`` rows (missing values form their own class)."""
    codes, _uniques = pd.factorize(column, use_na_sentinel=False)
    counts = np.bincount(codes)
    alloc = stratified_allocation(counts, size)
    order = np.lexsort((rng.random(len(codes)), codes))  # rows grouped by class, random order within a class
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.empty(len(codes), dtype=np.int64)
    rank[order] = np.arange(len(codes)) - np.repeat(starts, counts)
    return np.flatnonzero(rank < alloc[codes])
