"""Bradley–Terry (by hand, on perfect separation, and recovering a known ordering), ratings, and one item's
consolidation for every task type."""

from __future__ import annotations

import math

import numpy as np
import pytest

from apps.labeling.engine.bradley_terry import bradley_terry, ranking_pairs
from apps.labeling.engine.consolidate import consolidate_answers
from apps.labeling.engine.ratings import ratings_confidence, summarise_ratings


def test_bradley_terry_two_players_by_hand():
    # A beats B 3 times, B beats A once: the likelihood's maximum is p_A / p_B = 3
    bt = bradley_terry([("A", "B")] * 3 + [("B", "A")], prior=0.0)
    assert bt.shares() == pytest.approx([0.75, 0.25], abs=1e-6)
    assert list(bt.wins) == [3, 1] and list(bt.comparisons) == [4, 4]


def test_bradley_terry_score_equations_hold():
    """At the maximum each player's wins equal their expected wins: W_i = Σ_j n_ij p_i / (p_i + p_j)."""
    games = [("a", "b"), ("a", "b"), ("b", "a"), ("b", "c"), ("c", "b"), ("c", "a"), ("a", "c"), ("a", "c")]
    bt = bradley_terry(games, prior=0.0)
    p = dict(zip(bt.names, bt.strength, strict=True))
    for name in p:
        expected = sum(
            p[name] / (p[name] + p[other]) for w, lo in games for other in (w, lo) if name in (w, lo) and other != name
        )
        assert expected == pytest.approx(sum(1 for w, _ in games if w == name), abs=1e-6)


def test_bradley_terry_converges_on_perfect_separation():
    bt = bradley_terry([("A", "B")] * 5)
    assert all(math.isfinite(s) for s in bt.strength)
    assert bt.shares()[0] > 0.9
    assert bt.order() == [0, 1]


def test_bradley_terry_recovers_a_known_ordering():
    rng = np.random.default_rng(7)
    log_strength = {"m0": 2.0, "m1": 1.2, "m2": 0.6, "m3": 0.0, "m4": -0.5, "m5": -1.5}
    names = list(log_strength)
    games = []
    for _ in range(3000):
        i, j = rng.choice(len(names), size=2, replace=False)
        a, b = names[i], names[j]
        p_a = 1 / (1 + math.exp(log_strength[b] - log_strength[a]))
        games.append((a, b) if rng.random() < p_a else (b, a))
    bt = bradley_terry(games)
    assert [bt.names[i] for i in bt.order()] == names
    fitted = np.log(bt.strength)
    truth = np.array([log_strength[n] for n in bt.names])
    truth -= truth.mean()  # both centred (geometric mean 1)
    assert np.abs(fitted - truth).max() < 0.25
    assert bt.elo()[bt.names.index("m0")] > 1000 > bt.elo()[bt.names.index("m5")]


def test_ranking_pairs():
    assert ranking_pairs([2, 0, 1]) == [(2, 0), (2, 1), (0, 1)]


def test_ratings_by_hand():
    summary = summarise_ratings([{"help": 4, "fun": 2}, {"help": 5, "fun": 2}, {"help": 3, "fun": 5}], ["help", "fun"])
    assert summary == {
        "help": {"mean": 4.0, "std": pytest.approx(math.sqrt(2 / 3), abs=1e-4), "n": 3},
        "fun": {"mean": 3.0, "std": pytest.approx(math.sqrt(2), abs=1e-4), "n": 3},
    }
    # 1 - mean std / ((5 - 1) / 2)
    assert ratings_confidence(summary, 5) == pytest.approx(1 - (math.sqrt(2 / 3) + math.sqrt(2)) / 2 / 2, abs=1e-4)
    assert ratings_confidence(summarise_ratings([{"help": 4}]), 5) == 0.0


def test_item_consolidation_per_task_type():
    pref = consolidate_answers(
        "pairwise_preference", [("a", {"preferred": 1}), ("b", {"preferred": 1}), ("c", {"preferred": 0})]
    )
    assert pref.consolidated["preferred"] == 1
    assert sum(pref.consolidated["scores"]) == pytest.approx(1.0)
    assert pref.consolidated["scores"][1] > 0.5
    assert pref.confidence == pytest.approx(2 / 3)  # the share of workers who preferred it
    rank = consolidate_answers(
        "ranking", [("a", {"ranking": [2, 0, 1]}), ("b", {"ranking": [2, 1, 0]}), ("c", {"ranking": [2, 0, 1]})]
    )
    assert rank.consolidated["ranking"] == [2, 0, 1]
    assert rank.consolidated["scores"][2] == max(rank.consolidated["scores"])
    assert rank.confidence == pytest.approx(8 / 9)  # 8 of the 9 implied pairs agree with [2, 0, 1]
    rewrite = consolidate_answers("rewrite", [("a", {"text": "one"}), ("b", {"text": "two"})])
    assert (rewrite.consolidated, rewrite.confidence) == ({"texts": ["one", "two"]}, None)
    rating = consolidate_answers(
        "rating", [("a", {"ratings": {"help": 5}}), ("b", {"ratings": {"help": 5}})], criteria=["help"]
    )
    assert rating.consolidated == {"ratings": {"help": {"mean": 5.0, "std": 0.0, "n": 2}}}
    assert rating.confidence == 1.0
    single = consolidate_answers("text_classification", [("a", {"label": "x"})], labels=["x", "y"])
    assert (single.consolidated, single.confidence) == ({"label": "x"}, 0.0)
    multi = consolidate_answers(
        "image_classification_multi", [("a", {"labels": ["x"]}), ("b", {"labels": ["x", "y"]})], labels=["x", "y"]
    )
    assert multi.consolidated == {"labels": ["x"]}  # y: 1 of 2 is not a majority
    assert multi.info["per_label"] == {"x": 1.0, "y": 0.5}
    with pytest.raises(ValueError):
        consolidate_answers("nonsense", [("a", {})])
