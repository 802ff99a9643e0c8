"""Boxes (IoU clustering, averaging) and spans (overlap clustering, boundaries by vote), worked by hand."""

from __future__ import annotations

import pytest

from apps.labeling.engine.boxes import cluster_boxes, iou
from apps.labeling.engine.spans import cluster_spans


def box(left, top, width=10, height=10, label="car"):
    return {"left": left, "top": top, "width": width, "height": height, "label": label}


def test_iou_by_hand():
    assert iou(box(0, 0), box(5, 0)) == pytest.approx(50 / 150)  # half overlap: 50 over 200 - 50
    assert iou(box(0, 0), box(0, 0)) == 1.0
    assert iou(box(0, 0), box(10, 0)) == 0.0  # touching edges
    assert iou(box(0, 0, 4, 4), box(1, 1, 2, 2)) == pytest.approx(4 / 16)  # one inside the other


def test_boxes_clustered_averaged_and_thinned():
    answers = [
        ("a", [box(0, 0), box(50, 50, label="person")]),
        ("b", [box(2, 0)]),
        ("c", [box(0, 2), box(100, 100, 5, 5)]),
    ]
    result = cluster_boxes(answers)
    # the person (1 of 3 workers) and c's stray car are below half the workers: dropped
    assert len(result) == 1
    car = result[0]
    assert car["label"] == "car"
    assert (car["left"], car["top"], car["width"], car["height"]) == (pytest.approx(0.67), pytest.approx(0.67), 10, 10)
    # members' IoU with the average box (0.667, 0.667, 10, 10), by hand:
    side = 10 - 2 / 3
    iou_a = side * side / (200 - side * side)
    iou_b = (10 - 4 / 3) * side / (200 - (10 - 4 / 3) * side)  # b's box shifted 2 right: 8.667 × 9.333
    expected = 1.0 * (iou_a + 2 * iou_b) / 3  # all 3 workers × mean IoU
    assert car["confidence"] == pytest.approx(expected, abs=1e-4)


def test_a_worker_adds_at_most_one_box_per_cluster():
    answers = [("a", [box(0, 0)]), ("b", [box(0, 0), box(1, 0)]), ("c", [box(0, 0)])]
    result = cluster_boxes(answers)
    # b's second box (IoU 0.82 with the first) cannot join the cluster b is already in: it stands alone (1 of 3)
    # and is dropped; the cluster of a, b and c is exact
    assert result == [{"left": 0, "top": 0, "width": 10, "height": 10, "label": "car", "confidence": 1.0}]


def test_labels_never_mix_and_one_worker_has_no_confidence():
    answers = [("a", [box(0, 0, label="car")]), ("b", [box(0, 0, label="bus")])]
    result = cluster_boxes(answers)
    assert sorted(b["label"] for b in result) == ["bus", "car"]  # each drawn by half the workers: kept
    assert all(b["confidence"] == pytest.approx(0.5) for b in result)  # 1/2 of the workers × IoU 1
    lone = cluster_boxes([("a", [box(3, 4)])])
    assert lone == [{"left": 3, "top": 4, "width": 10, "height": 10, "label": "car", "confidence": 0.0}]


def span(start, end, label="PER"):
    return {"start": start, "end": end, "label": label}


def test_spans_by_vote():
    answers = [
        ("a", [span(0, 5), span(10, 15, "LOC")]),
        ("b", [span(0, 5), span(10, 14, "LOC")]),
        ("c", [span(0, 4)]),
    ]
    result = cluster_spans(answers)
    assert result == [
        # PER: starts 0,0,0; ends 5,5,4 → (0, 5); 3 of 3 workers × 2 of 3 spans exact
        {"start": 0, "end": 5, "label": "PER", "confidence": pytest.approx(2 / 3, abs=1e-4)},
        # LOC: 2 of 3 workers; ends 15 and 14 tie → the wider; 1 of 2 spans exact
        {"start": 10, "end": 15, "label": "LOC", "confidence": pytest.approx(1 / 3, abs=1e-4)},
    ]


def test_spans_minority_dropped_overlaps_resolved_and_lone_worker():
    answers = [("a", [span(0, 5)]), ("b", [span(0, 5), span(20, 25)]), ("c", [span(2, 6, "ORG")])]
    result = cluster_spans(answers)
    # (20, 25) 1 of 3: dropped; ORG 1 of 3: dropped
    assert [(s["start"], s["end"], s["label"]) for s in result] == [(0, 5, "PER")]
    # two labels on overlapping text, each by half: the more confident one stays (no overlaps in an answer)
    tie = cluster_spans(
        [("a", [span(0, 5)]), ("b", [span(0, 6, "ORG")]), ("c", [span(0, 6, "ORG")]), ("d", [span(0, 5)])]
    )
    assert len(tie) == 1
    assert cluster_spans([("a", [span(1, 3)])]) == [{"start": 1, "end": 3, "label": "PER", "confidence": 0.0}]
