"""Bradley–Terry scores from pairwise comparisons (preferences, and the pairs a ranking implies). Plain numpy.

P(i beats j) = p_i / (p_i + p_j). Fitted with Hunter's (2004) MM algorithm. A small prior keeps it finite when one
side always wins (perfect separation): every contestant also plays `prior` virtual games against a virtual
contestant of strength 1, winning half of them."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

BT_PRIOR = 0.5
BT_TOL = 1e-9
BT_MAX_ITER = 10_000


@dataclass
class BTResult:
    names: list[Any]
    strength: np.ndarray  # geometric mean 1
    wins: np.ndarray
    comparisons: np.ndarray
    iterations: int

    def shares(self) -> list[float]:
        """Strengths normalised to sum to 1 (for two contestants: the chance each is preferred)."""
        return [float(s) for s in self.strength / self.strength.sum()]

    def elo(self, base: float = 1000.0) -> list[float]:
        """An arena-style scale: base + 400 · log10(strength)."""
        return [base + 400 * math.log10(float(s)) for s in self.strength]

    def order(self) -> list[int]:
        return sorted(range(len(self.names)), key=lambda i: (-self.strength[i], i))


def ranking_pairs(ranking: Sequence[int]) -> list[tuple[int, int]]:
    """A ranking (best first) → every (winner, loser) pair it implies."""
    return [(ranking[a], ranking[b]) for a in range(len(ranking)) for b in range(a + 1, len(ranking))]


def bradley_terry(
    comparisons: Iterable[tuple[Any, Any]],
    names: Sequence[Any] = (),
    *,
    prior: float = BT_PRIOR,
    tol: float = BT_TOL,
    max_iter: int = BT_MAX_ITER,
) -> BTResult:
    """`comparisons` are (winner, loser) pairs."""
    pairs = list(comparisons)
    order = list(dict.fromkeys([*names, *(x for pair in pairs for x in pair)]))
    index = {name: i for i, name in enumerate(order)}
    n = len(order)
    games = np.zeros((n, n))
    wins = np.zeros(n)
    for winner, loser in pairs:
        games[index[winner], index[loser]] += 1
        games[index[loser], index[winner]] += 1
        wins[index[winner]] += 1
    p = np.ones(n)
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 (read after the loop)
        denom = (games / (p[:, None] + p[None, :])).sum(axis=1) + prior / (p + 1.0)
        new = (wins + prior / 2) / denom
        done = float(np.abs(np.log(new) - np.log(p)).max()) < tol
        p = new
        if done:
            break
    p = p / math.exp(float(np.log(p).mean())) if n else p
    return BTResult(names=order, strength=p, wins=wins, comparisons=games.sum(axis=1), iterations=iterations)
