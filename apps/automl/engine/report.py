"""The leaderboard as plain JSON: every finished candidate with its out-of-fold metrics, costs and rank."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .algorithms import LABELS
from .columns import to_python
from .metrics import Metric

if TYPE_CHECKING:
    from .evaluate import CandidateResult
    from .search import Searcher

MAX_ENTRIES = 100


def _params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (round(v, 6) if isinstance(v, float) else to_python(v)) for k, v in params.items()}


def leaderboard(
    searcher: Searcher,
    metric: Metric,
    best: CandidateResult,
    ensemble: dict[str, Any] | None,
    final_metrics: dict[str, float | None],
    final_costs: dict[str, Any],
) -> list[dict[str, Any]]:
    """Entries sorted best first; ``best`` is true on the chosen entry (the blend when it was kept)."""
    entries: list[dict[str, Any]] = []
    weights = {m["name"]: m["weight"] for m in (ensemble or {}).get("members", [])}
    for t in searcher.state.complete:
        r = t.result
        assert r is not None
        name = f"{t.algorithm}-{t.number}"
        iterations = [i for i in r.iterations if i]
        entries.append(
            {
                "name": name,
                "algorithm": t.algorithm,
                "algorithm_label": LABELS[t.algorithm],
                "trial": t.number,
                "params": _params(t.params),
                "score": _natural(metric, r.score),
                "metrics": t.metrics,
                "fit_time_s": round(r.fit_time_s, 4),
                "cv_time_s": round(r.wall_s, 4),
                "iterations": int(np.mean(iterations)) if iterations else None,
                "predict_ms_per_row": r.predict_ms_per_row,
                "model_size_bytes": r.model_size_bytes,
                "ensemble_weight": weights.get(name),
                "best": ensemble is None and r is best,
                "_sort": r.score,
            }
        )
    if ensemble is not None:
        members = [e for e in entries if e["name"] in weights]
        entries.append(
            {
                "name": "ensemble",
                "algorithm": "ensemble",
                "algorithm_label": "Weighted blend (Caruana)",
                "trial": None,
                "params": {"members": ensemble["members"]},
                "score": ensemble["score"],
                "metrics": final_metrics,
                "fit_time_s": round(sum(e["fit_time_s"] for e in members), 4),
                "cv_time_s": round(sum(e["cv_time_s"] for e in members), 4),
                "iterations": None,
                "predict_ms_per_row": final_costs["predict_ms_per_row"],
                "model_size_bytes": final_costs["model_size_bytes"],
                "ensemble_weight": None,
                "best": True,
                "_sort": float("inf"),
            }
        )
    entries.sort(key=lambda e: -e["_sort"])
    best_of: dict[str, dict[str, Any]] = {}
    for e in entries:
        best_of.setdefault(e["algorithm"], e)
    kept = entries[:MAX_ENTRIES]
    kept += [e for e in best_of.values() if e not in kept]  # every algorithm's best stays on the board
    entries = kept
    for rank, e in enumerate(entries, start=1):
        e.pop("_sort")
        e["rank"] = rank
    return entries


def _natural(metric: Metric, score: float) -> float | None:
    if not np.isfinite(score):
        return None
    return round(float(score if metric.greater_is_better else -score), 6)
