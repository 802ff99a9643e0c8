"""Consolidating bounding boxes drawn by several workers: IoU clustering and averaging. Plain Python, no Django.

A box is a dict `{"left", "top", "width", "height", "label"}` in image pixels."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

IOU_THRESHOLD = 0.5


def iou(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
    """Intersection over union of two boxes (0 when they do not overlap)."""
    ax2, ay2 = a["left"] + a["width"], a["top"] + a["height"]
    bx2, by2 = b["left"] + b["width"], b["top"] + b["height"]
    w = min(ax2, bx2) - max(a["left"], b["left"])
    h = min(ay2, by2) - max(a["top"], b["top"])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = a["width"] * a["height"] + b["width"] * b["height"] - inter
    return inter / union if union > 0 else 0.0


def _mean_box(members: Sequence[Mapping[str, Any]], label: str) -> dict[str, Any]:
    n = len(members)
    return {key: sum(float(m[key]) for m in members) / n for key in ("left", "top", "width", "height")} | {
        "label": label
    }


def cluster_boxes(
    answers: Sequence[tuple[Any, Sequence[Mapping[str, Any]]]],
    *,
    threshold: float = IOU_THRESHOLD,
    min_share: float = 0.5,
) -> list[dict[str, Any]]:
    """One item's answers `[(worker, [box, ...])]` → the consolidated boxes, each with a `confidence`.

    Workers are taken in turn; each of their boxes joins the cluster of the same label whose averaged box it overlaps
    most (IoU >= `threshold`) among clusters this worker has no box in yet (at most one box per worker per cluster),
    else starts a new cluster. A cluster is kept when at least `min_share` of the workers drew it; its box is the
    members' average and its confidence the share of workers in it × the members' mean IoU with that average
    (0 when a single worker answered)."""
    n_workers = len(answers)
    clusters: list[dict[str, Any]] = []  # {"label", "members": [box], "workers": set}
    for worker, boxes in answers:
        # the worker's boxes, best-overlapping pairs first, so two boxes of one worker do not fight over a cluster
        pairs = []
        for b, box in enumerate(boxes):
            for c, cluster in enumerate(clusters):
                if cluster["label"] == box["label"]:
                    score = iou(box, cluster["mean"])
                    if score >= threshold:
                        pairs.append((score, b, c))
        pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
        placed: set[int] = set()
        taken: set[int] = set()
        joins: list[tuple[int, int]] = []
        for _, b, c in pairs:
            if b in placed or c in taken:
                continue
            placed.add(b)
            taken.add(c)
            joins.append((b, c))
        for b, c in joins:
            cluster = clusters[c]
            cluster["members"].append(boxes[b])
            cluster["workers"].add(worker)
            cluster["mean"] = _mean_box(cluster["members"], cluster["label"])
        for b, box in enumerate(boxes):
            if b not in placed:
                clusters.append(
                    {
                        "label": box["label"],
                        "members": [box],
                        "workers": {worker},
                        "mean": _mean_box([box], box["label"]),
                    }
                )
    kept = []
    for cluster in clusters:
        share = len(cluster["workers"]) / n_workers if n_workers else 0.0
        if share < min_share or n_workers == 0:
            continue
        mean = cluster["mean"]
        mean_iou = sum(iou(m, mean) for m in cluster["members"]) / len(cluster["members"])
        confidence = 0.0 if n_workers == 1 else share * mean_iou
        kept.append(
            {
                **{k: round(v, 2) for k, v in mean.items() if k != "label"},
                "label": mean["label"],
                "confidence": round(confidence, 4),
            }
        )
    kept.sort(key=lambda box: (box["top"], box["left"], box["label"]))
    return kept


def ceil_half(n: int) -> int:
    return math.ceil(n / 2)
