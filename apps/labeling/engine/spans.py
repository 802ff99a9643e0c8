"""Consolidating text spans (named entities) marked by several workers: overlap clustering and boundaries by vote.
Plain Python, no Django. A span is a dict `{"start", "end", "label"}` (character offsets, end exclusive)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any


def _vote(values: list[int], prefer_low: bool) -> int:
    """The most common value; ties go to the lowest (starts) or the highest (ends): the widest of the tied spans."""
    counts = Counter(values)
    best = max(counts.values())
    tied = [v for v, c in counts.items() if c == best]
    return min(tied) if prefer_low else max(tied)


def cluster_spans(
    answers: Sequence[tuple[Any, Sequence[Mapping[str, Any]]]], *, min_share: float = 0.5
) -> list[dict[str, Any]]:
    """One item's answers `[(worker, [span, ...])]` → the consolidated spans, each with a `confidence`.

    Spans of the same label that overlap (directly or through a chain of others) form a cluster. A cluster is kept
    when at least `min_share` of the workers have a span in it; its start and end are the values most of its spans
    give. Confidence = the share of workers in the cluster × the share of its spans with exactly those boundaries
    (0 with a single worker). Kept spans that overlap one another are resolved by confidence (the answer shape
    allows no overlaps), and the result is sorted by start."""
    n_workers = len(answers)
    flat = [(worker, span) for worker, spans in answers for span in spans]
    flat.sort(key=lambda ws: (ws[1]["label"], ws[1]["start"], ws[1]["end"]))
    clusters: list[list[tuple[Any, Mapping[str, Any]]]] = []
    reach = -1
    for worker, span in flat:
        if clusters and clusters[-1][0][1]["label"] == span["label"] and span["start"] < reach:
            clusters[-1].append((worker, span))
            reach = max(reach, span["end"])
        else:
            clusters.append([(worker, span)])
            reach = span["end"]
    kept = []
    for cluster in clusters:
        workers = {worker for worker, _ in cluster}
        share = len(workers) / n_workers if n_workers else 0.0
        if share < min_share:
            continue
        start = _vote([s["start"] for _, s in cluster], prefer_low=True)
        end = _vote([s["end"] for _, s in cluster], prefer_low=False)
        if end <= start:  # votes from different spans crossing: take the cluster's extent
            start, end = min(s["start"] for _, s in cluster), max(s["end"] for _, s in cluster)
        exact = sum(1 for _, s in cluster if s["start"] == start and s["end"] == end) / len(cluster)
        confidence = 0.0 if n_workers == 1 else share * exact
        kept.append({"start": start, "end": end, "label": cluster[0][1]["label"], "confidence": round(confidence, 4)})
    result: list[dict[str, Any]] = []
    for span in sorted(kept, key=lambda s: (-s["confidence"], s["start"], s["end"])):
        if all(span["end"] <= other["start"] or other["end"] <= span["start"] for other in result):
            result.append(span)
    result.sort(key=lambda s: (s["start"], s["end"]))
    return result
