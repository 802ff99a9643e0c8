"""Classification consolidation, worked by hand: weighted majority, Dawid–Skene EM (including an item where the
majority is wrong and the reliable worker is right), and multi-label per-label votes."""

from __future__ import annotations

import math

import pytest

from apps.labeling.engine.classification import dawid_skene, multilabel_dawid_skene, multilabel_vote, weighted_majority

FLIP = {"pos": "neg", "neg": "pos"}


def test_weighted_majority_by_hand():
    vote = weighted_majority([("ann", "cat"), ("bob", "dog"), ("cy", "cat")], ["cat", "dog", "bird"])
    assert vote.label == "cat"
    assert vote.votes == {"cat": 2, "dog": 1, "bird": 0}
    assert vote.posterior == pytest.approx({"cat": 2 / 3, "dog": 1 / 3, "bird": 0.0})
    assert vote.confidence == pytest.approx(2 / 3)


def test_weights_turn_the_vote():
    # bob's reliability 0.9 outweighs ann (0.3) and cy (0.4) together: 0.9 / 1.6 for dog
    vote = weighted_majority(
        [("ann", "cat"), ("bob", "dog"), ("cy", "cat")], ["cat", "dog"], {"ann": 0.3, "bob": 0.9, "cy": 0.4}
    )
    assert vote.label == "dog"
    assert vote.posterior["dog"] == pytest.approx(0.9 / 1.6)
    assert vote.confidence == pytest.approx(0.5625)


def test_tie_goes_to_the_first_label_and_one_worker_has_no_confidence():
    assert weighted_majority([("a", "dog"), ("b", "cat")], ["cat", "dog"]).label == "cat"
    lone = weighted_majority([("a", "dog")], ["cat", "dog"])
    assert (lone.label, lone.confidence, lone.posterior["dog"]) == ("dog", 0.0, 1.0)


def _pooled_votes() -> tuple[list[str], list[tuple[int, str, str]]]:
    """50 items, truth alternating. Items 0..29: the reliable R with two good workers (G1, G2 wrong 3 times each):
    R's record. Items 30..49: R with two careless workers (C1, C2 wrong 8 times in 20), who are BOTH wrong on items
    30 and 37, so that the majority (2 against R) is wrong there."""
    truth = ["pos" if i % 2 else "neg" for i in range(50)]
    wrong = {
        "G1": {3, 12, 21},
        "G2": {8, 17, 26},
        "C1": {30, 33, 34, 37, 40, 41, 44, 47},
        "C2": {30, 31, 35, 37, 38, 42, 45, 48},
    }
    votes = []
    for i, t in enumerate(truth):
        for w in ("R", "G1", "G2") if i < 30 else ("R", "C1", "C2"):
            votes.append((i, w, FLIP[t] if i in wrong.get(w, set()) else t))
    return truth, votes


def test_dawid_skene_follows_the_reliable_worker_where_the_majority_is_wrong():
    truth, votes = _pooled_votes()
    majority = {
        i: weighted_majority([(w, lab) for j, w, lab in votes if j == i], ["pos", "neg"]).label for i in range(50)
    }
    assert [i for i in range(50) if majority[i] != truth[i]] == [30, 37]  # the majority is wrong on two items
    result = dawid_skene(votes, ["pos", "neg"])
    assert result.converged
    assert [i for i in range(50) if result.label_of(i) != truth[i]] == []  # Dawid–Skene is right on all 50
    assert result.label_of(30) == "neg" and result.posterior_of(30)["neg"] > 0.9
    assert result.label_of(37) == "pos" and result.posterior_of(37)["pos"] > 0.9
    reliability = result.reliability()
    assert reliability["R"] > 0.95
    assert reliability["G1"] > 0.85 and reliability["G2"] > 0.85
    assert reliability["C1"] < 0.65 and reliability["C2"] < 0.65


def test_dawid_skene_posterior_is_the_product_of_its_own_matrices():
    """An independent E step: recompute one item's posterior from the returned priors and confusion matrices."""
    _, votes = _pooled_votes()
    result = dawid_skene(votes, ["pos", "neg"])
    item = 30
    scores = []
    for k in range(2):
        s = result.priors[k]
        for i, worker, label in votes:
            if i == item:
                s *= result.confusion[result.workers.index(worker), k, result.labels.index(label)]
        scores.append(s)
    assert result.posterior_of(item)["pos"] == pytest.approx(scores[0] / sum(scores), rel=1e-4)
    # every confusion-matrix row is a distribution; priors too
    assert result.confusion.sum(axis=2) == pytest.approx(1.0)
    assert result.priors.sum() == pytest.approx(1.0)


def test_dawid_skene_unanimous_and_unseen_labels():
    votes = [(i, w, "a") for i in range(4) for w in ("x", "y")] + [(9, "x", "c"), (9, "y", "c")]
    result = dawid_skene(votes, ["a", "b"])
    assert result.labels == ["a", "b", "c"]  # a label outside the set is kept, after the set
    assert result.label_of(0) == "a" and result.label_of(9) == "c"
    assert result.posterior_of(0)["a"] > 0.9
    assert math.isclose(sum(result.posterior_of(9).values()), 1.0)


def test_multilabel_vote_by_hand():
    vote = multilabel_vote([("a", ["x", "y"]), ("b", ["x"]), ("c", ["x", "z"])], ["x", "y", "z"])
    assert vote.labels == ["x"]
    assert vote.p_yes == pytest.approx({"x": 1.0, "y": 1 / 3, "z": 1 / 3})
    assert vote.confidence == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    assert multilabel_vote([("a", ["x"])], ["x", "y"]).confidence == 0.0


def test_multilabel_dawid_skene_per_label():
    rows = [
        (0, "a", ["x", "y"]),
        (0, "b", ["x", "y"]),
        (0, "c", ["x"]),
        (1, "a", []),
        (1, "b", ["y"]),
        (1, "c", []),
        (2, "a", ["y"]),
        (2, "b", ["y"]),
        (2, "c", ["y"]),
    ]
    p = multilabel_dawid_skene(rows, ["x", "y"])
    assert p[0]["x"] > 0.9 and p[0]["y"] > 0.5
    assert p[1]["x"] < 0.1 and p[1]["y"] < 0.5
    assert p[2]["y"] > 0.9
