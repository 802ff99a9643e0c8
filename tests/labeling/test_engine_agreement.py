"""Agreement against textbook values, each checked by an independent computation written differently (pairs of
raters counted one by one, rather than the library's category totals and coincidence matrix)."""

from __future__ import annotations

import itertools
from math import comb

import pytest

from apps.labeling.engine.agreement import fleiss_kappa, fleiss_kappa_from_ratings, krippendorff_alpha

# Fleiss (1971) as reproduced on Wikipedia ("Fleiss' kappa", worked example): 10 subjects, 14 raters, 5 categories.
FLEISS_TABLE = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the example with 4 observers, 12 units and
# missing values; published: nominal 0.743, ordinal 0.815, interval 0.849.
N = None
OBSERVERS = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
]
UNITS = [list(unit) for unit in zip(*OBSERVERS, strict=True)]


def _fleiss_by_pairs(table):
    """Kappa as the share of agreeing rater pairs per subject against chance from the pooled ratings."""
    n = sum(table[0])
    agree = [sum(comb(c, 2) for c in row) / comb(n, 2) for row in table]
    pooled = [sum(col) for col in zip(*table, strict=True)]
    total = sum(pooled)
    chance = sum((c / total) ** 2 for c in pooled)
    observed = sum(agree) / len(agree)
    return (observed - chance) / (1 - chance)


def test_fleiss_1971_example():
    assert fleiss_kappa(FLEISS_TABLE) == pytest.approx(0.210, abs=5e-4)
    assert fleiss_kappa(FLEISS_TABLE) == pytest.approx(_fleiss_by_pairs(FLEISS_TABLE), abs=1e-12)


def test_fleiss_perfect_and_undefined():
    assert fleiss_kappa([[3, 0], [0, 3], [3, 0]]) == pytest.approx(1.0)
    assert fleiss_kappa([[3, 0], [3, 0]]) is None  # one category only: chance agreement is 1
    with pytest.raises(ValueError):
        fleiss_kappa([[3, 0], [1, 1]])


def test_fleiss_with_varying_counts_uses_the_modal_count():
    ratings = {1: ["a", "a", "a"], 2: ["b", "b", "b"], 3: ["a", "b", "a"], 4: ["a", "b"], 5: ["a"]}
    # items 1..3 have the modal 3 ratings: table [[3,0],[0,3],[2,1]]
    assert fleiss_kappa_from_ratings(ratings) == pytest.approx(fleiss_kappa([[3, 0], [0, 3], [2, 1]]))
    assert fleiss_kappa_from_ratings(ratings) == pytest.approx(_fleiss_by_pairs([[3, 0], [0, 3], [2, 1]]))


def _alpha_by_pairs(units, delta):
    """alpha = 1 - D_o / D_e with both disagreements averaged over explicit pairs of values: within units (each
    pair weighted 1 / (m_u - 1)) and across all pairable values."""
    pairable = [[v for v in unit if v is not None] for unit in units]
    pairable = [u for u in pairable if len(u) >= 2]
    values = [v for u in pairable for v in u]
    n = len(values)
    d_o = sum(sum(delta(a, b, values) for a, b in itertools.permutations(u, 2)) / (len(u) - 1) for u in pairable) / n
    d_e = sum(delta(a, b, values) for a, b in itertools.permutations(values, 2)) / (n * (n - 1))
    return 1 - d_o / d_e


def _nominal(a, b, _values):
    return 0.0 if a == b else 1.0


def _interval(a, b, _values):
    return float(a - b) ** 2


def _ordinal(a, b, values):
    lo, hi = min(a, b), max(a, b)
    between = sum(1 for v in values if lo <= v <= hi)
    ends = (sum(1 for v in values if v == lo) + sum(1 for v in values if v == hi)) / 2
    return float(between - ends) ** 2


@pytest.mark.parametrize(
    ("level", "published", "delta"),
    [("nominal", 0.743, _nominal), ("ordinal", 0.815, _ordinal), ("interval", 0.849, _interval)],
)
def test_krippendorff_2011_example(level, published, delta):
    alpha = krippendorff_alpha(UNITS, level)
    assert alpha == pytest.approx(published, abs=5e-4)
    assert alpha == pytest.approx(_alpha_by_pairs(UNITS, delta), abs=1e-12)


def test_krippendorff_edge_cases():
    assert krippendorff_alpha([[1, 1], [2, 2], [3, None, 3]], "nominal") == pytest.approx(1.0)
    assert krippendorff_alpha([[1], [None, 2]]) is None  # nothing pairable
    assert krippendorff_alpha([[1, 1], [1, 1]]) is None  # one value only: no expected disagreement
    assert krippendorff_alpha([["yes", "no"], ["no", "yes"]], "nominal") < 0  # systematic disagreement
    with pytest.raises(ValueError):
        krippendorff_alpha(UNITS, "ratio")
