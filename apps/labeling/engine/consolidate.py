"""One item's answers → its consolidated label, confidence and info, by task type (the shapes are in LABELING.md).
Plain Python: the task types are the strings of apps/labeling/choices.py's TaskType."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from apps.labeling.engine.boxes import cluster_boxes
from apps.labeling.engine.bradley_terry import bradley_terry, ranking_pairs
from apps.labeling.engine.classification import multilabel_vote, weighted_majority
from apps.labeling.engine.ratings import ratings_confidence, summarise_ratings
from apps.labeling.engine.spans import cluster_spans

SINGLE_LABEL = frozenset(
    {"text_classification", "image_classification", "tabular_classification", "label_verification"}
)
MULTI_LABEL = frozenset({"text_classification_multi", "image_classification_multi"})


@dataclass
class Consolidation:
    consolidated: dict[str, Any]
    confidence: float | None
    info: dict[str, Any] = field(default_factory=dict)


def consolidate_answers(
    task_type: str,
    answers: Sequence[tuple[Any, Mapping[str, Any]]],
    *,
    labels: Sequence[str] = (),
    criteria: Sequence[str] = (),
    scale: int = 5,
    weights: Mapping[Any, float] | None = None,
) -> Consolidation:
    """`answers`: [(worker, answer)] of one item (at least one). `weights`: {worker: weight} for the votes of
    classification tasks (default 1 each)."""
    if not answers:
        raise ValueError("No answers to consolidate.")
    single = len(answers) == 1
    if task_type in SINGLE_LABEL:
        vote = weighted_majority([(w, a["label"]) for w, a in answers], labels, weights)
        return Consolidation(
            {"label": vote.label},
            round(vote.confidence, 6),
            {"method": "weighted_majority", "votes": vote.votes, "posterior": _round(vote.posterior)},
        )
    if task_type in MULTI_LABEL:
        multi = multilabel_vote([(w, a.get("labels", [])) for w, a in answers], labels, weights)
        return Consolidation(
            {"labels": multi.labels},
            round(multi.confidence, 6),
            {"method": "weighted_majority", "per_label": _round(multi.p_yes)},
        )
    if task_type == "bounding_box":
        boxes = cluster_boxes([(w, a.get("boxes", [])) for w, a in answers])
        return Consolidation({"boxes": boxes}, _mean_confidence(boxes, single), {"method": "iou_clustering"})
    if task_type == "named_entity":
        spans = cluster_spans([(w, a.get("spans", [])) for w, a in answers])
        return Consolidation({"spans": spans}, _mean_confidence(spans, single), {"method": "overlap_clustering"})
    if task_type == "rating":
        summary = summarise_ratings([a.get("ratings", {}) for _, a in answers], criteria)
        return Consolidation({"ratings": summary}, round(ratings_confidence(summary, scale), 6), {"method": "mean"})
    if task_type == "pairwise_preference":
        bt = bradley_terry([(a["preferred"], 1 - a["preferred"]) for _, a in answers], [0, 1])
        scores = bt.shares()
        preferred = 0 if scores[0] >= scores[1] else 1
        agree = sum(1 for _, a in answers if a["preferred"] == preferred) / len(answers)
        return Consolidation(
            {"preferred": preferred, "scores": [round(s, 6) for s in scores]},
            0.0 if single else round(agree, 6),
            {
                "method": "bradley_terry",
                "votes": {str(k): sum(1 for _, a in answers if a["preferred"] == k) for k in (0, 1)},
            },
        )
    if task_type == "ranking":
        n = max(len(a["ranking"]) for _, a in answers)
        pairs = [pair for _, a in answers for pair in ranking_pairs(a["ranking"])]
        bt = bradley_terry(pairs, list(range(n)))
        ranking = [int(bt.names[i]) for i in bt.order()]  # type: ignore[call-overload]
        shares = bt.shares()
        scores = [round(shares[bt.names.index(i)], 6) for i in range(n)]
        implied = set(ranking_pairs(ranking))
        agree = sum(1 for pair in pairs if pair in implied) / len(pairs) if pairs else 0.0
        return Consolidation(
            {"ranking": ranking, "scores": scores}, 0.0 if single else round(agree, 6), {"method": "bradley_terry"}
        )
    if task_type == "rewrite":
        return Consolidation({"texts": [a.get("text", "") for _, a in answers]}, None, {"method": "all_kept"})
    raise ValueError(f"Unknown task type: {task_type}")


def comparable(task_type: str, consolidated: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A consolidated label in the answer shape (for comparing a worker's answer with it), or None (rewrite)."""
    if consolidated is None:
        return None
    if task_type in SINGLE_LABEL:
        return {"label": consolidated.get("label")}
    if task_type in MULTI_LABEL:
        return {"labels": list(consolidated.get("labels", []))}
    if task_type == "bounding_box":
        return {"boxes": [{k: v for k, v in b.items() if k != "confidence"} for b in consolidated.get("boxes", [])]}
    if task_type == "named_entity":
        return {"spans": [{k: v for k, v in s.items() if k != "confidence"} for s in consolidated.get("spans", [])]}
    if task_type == "rating":
        ratings = consolidated.get("ratings", {})
        return {"ratings": {c: (v["mean"] if isinstance(v, Mapping) else v) for c, v in ratings.items()}}
    if task_type == "pairwise_preference":
        return {"preferred": consolidated.get("preferred")}
    if task_type == "ranking":
        return {"ranking": list(consolidated.get("ranking", []))}
    return None


def _mean_confidence(parts: Sequence[Mapping[str, Any]], single: bool) -> float:
    if single:
        return 0.0
    if not parts:
        return 1.0  # every worker (or a majority) found nothing: they agree
    return round(sum(p["confidence"] for p in parts) / len(parts), 6)


def _round(values: Mapping[str, float]) -> dict[str, float]:
    return {k: round(float(v), 6) for k, v in values.items()}
