"""Greedy weighted blend (Caruana et al., 2004) of candidates' out-of-fold predictions, and temperature
scaling of blended probabilities when the objective is log loss."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

from .metrics import PROBA_FLOOR, Metric


@dataclass
class Blend:
    indices: list[int]  # positions in the pool
    weights: list[float]  # same length, sum to 1
    score: float  # objective 'higher is better' on the out-of-fold rows
    rounds: int


def blend(preds: list[np.ndarray], weights: list[float]) -> np.ndarray:
    out = np.zeros_like(preds[0], dtype=float)
    for p, w in zip(preds, weights, strict=True):
        out += w * p
    return out


def caruana(
    pool: list[np.ndarray],
    y: np.ndarray,
    metric: Metric,
    rounds: int = 50,
    deadline: float = float("inf"),
    patience: int = 15,
) -> Blend:
    """Forward selection with replacement: each round adds the candidate that most improves the blend; the
    best prefix wins. Starts from the single best candidate, so it is never worse than it on these rows."""
    singles = [metric.score(y, p) for p in pool]
    best_i = int(np.argmax(singles))
    counts = np.zeros(len(pool), dtype=int)
    counts[best_i] = 1
    total = pool[best_i].astype(float).copy()
    best = Blend([best_i], [1.0], singles[best_i], 1)
    stale = 0
    for r in range(2, rounds + 1):
        if time.monotonic() > deadline:
            break
        trial_scores = [metric.score(y, (total + p) / r) for p in pool]
        j = int(np.argmax(trial_scores))
        counts[j] += 1
        total += pool[j]
        if trial_scores[j] > best.score + 1e-12:
            nz = np.flatnonzero(counts)
            best = Blend(nz.tolist(), (counts[nz] / counts.sum()).tolist(), trial_scores[j], r)
            stale = 0
        else:
            stale += 1
            if stale >= patience:
                break
    return best


def apply_temperature(proba: np.ndarray, temperature: float, floor: float = 0.0) -> np.ndarray:
    """Probabilities sharpened (T < 1) or softened (T > 1), then mixed with the uniform distribution by ``floor``.
    Both keep each row's ranking, so accuracy and ROC AUC do not change."""
    out = proba
    if temperature != 1.0:
        logits = np.log(np.clip(proba, PROBA_FLOOR, 1.0)) / temperature
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        out = e / e.sum(axis=1, keepdims=True)
    if floor > 0.0:
        out = (1.0 - floor) * out + floor / out.shape[1]
    return out


def min_floor(n_rows: int) -> float:
    """Smallest uniform mix: a confident mistake costs at most ~log(2·n·K) nats instead of ~16. With few rows
    the out-of-fold rows cannot show how often such mistakes happen, so this is a prior, not fitted."""
    return 0.5 / max(1, n_rows)


def fit_calibration(proba: np.ndarray, y: np.ndarray, metric: Metric, n_rows: int) -> tuple[float, float]:
    """(temperature, floor) minimising out-of-fold log loss; (1.0, min_floor) unless that helps."""
    lo = min_floor(n_rows)
    best_t, best_f = 1.0, lo
    best = metric.score(y, apply_temperature(proba, 1.0, lo))
    for floor in (lo, 4 * lo, 16 * lo, 64 * lo):
        if floor > 0.2:
            break
        res = minimize_scalar(
            lambda t, f=floor: -metric.score(y, apply_temperature(proba, float(t), f)),
            bounds=(0.25, 4.0),
            method="bounded",
            options={"xatol": 1e-3},
        )
        if -float(res.fun) > best + 1e-4:
            best, best_t, best_f = -float(res.fun), float(res.x), floor
    return best_t, best_f
