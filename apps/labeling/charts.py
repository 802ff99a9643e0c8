"""Plotly figures of a labeling job's page: the distribution of consolidated labels, per-worker items, agreement and
gold accuracy, the confidence histogram, answers over time, and the models' preference scores.

Plain module (no Django, no plotly import): `LabelingJob.stats` (engine's shape, LABELING.md) and plain lists in,
`{"data", "layout"}` dicts out. Every user-supplied string (labels, usernames, model names) goes through `label`."""

from __future__ import annotations

import math
from typing import Any

from apps.core.charts import ACCENT, MUTED, PALETTE, label
from apps.core.figures import layout, short

Figure = dict[str, Any]
CONFIDENCE_BINS = 10
WORKERS_SHOWN = 30  # the busiest workers (by items) in the per-worker charts


def _layout(title: str, *, height: int = 320, **extra: Any) -> dict[str, Any]:
    return layout(title, height=height, **extra)


def _num(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def labels_figure(stats: dict[str, Any]) -> Figure | None:
    """Bars: how many items got each consolidated label (most common first)."""
    counts = {str(k): int(v or 0) for k, v in (stats.get("labels") or {}).items()}
    if not any(counts.values()):
        return None
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    x = [label(k) for k, _ in ordered]
    return {
        "data": [
            {
                "type": "bar",
                "x": x,
                "y": [v for _, v in ordered],
                "marker": {"color": [PALETTE[i % len(PALETTE)] for i in range(len(x))]},
                "hovertemplate": "%{x}: %{y:,} items<extra></extra>",
            }
        ],
        "layout": _layout(
            "Consolidated labels",
            xaxis={"type": "category", "tickvals": x, "ticktext": [short(v) for v in x]},
            yaxis={"rangemode": "tozero", "title": {"text": "items"}},
        ),
    }


def _workers(stats: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [w for w in stats.get("workers") or [] if isinstance(w, dict)]
    rows.sort(key=lambda w: -int(w.get("items") or 0))
    return rows[:WORKERS_SHOWN]


def workers_items_figure(stats: dict[str, Any]) -> Figure | None:
    """Horizontal bars: items answered per worker."""
    rows = _workers(stats)
    if not rows:
        return None
    names = [label(w.get("worker")) for w in rows][::-1]
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "y": names,
                "x": [int(w.get("items") or 0) for w in rows][::-1],
                "marker": {"color": ACCENT},
                "hovertemplate": "%{y}: %{x:,} items<extra></extra>",
            }
        ],
        "layout": _layout(
            "Items per worker",
            height=max(220, 60 + 26 * len(rows)),
            yaxis={"type": "category"},
            xaxis={"rangemode": "tozero", "title": {"text": "items answered"}},
        ),
    }


def workers_quality_figure(stats: dict[str, Any]) -> Figure | None:
    """Grouped horizontal bars per worker: agreement with the consolidated labels and gold accuracy."""
    rows = _workers(stats)
    agreement = [_num(w.get("agreement")) for w in rows]
    gold = [_num(w.get("gold_accuracy")) for w in rows]
    if not any(v is not None for v in agreement + gold):
        return None
    names = [label(w.get("worker")) for w in rows][::-1]
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "name": "agreement",
            "y": names,
            "x": agreement[::-1],
            "marker": {"color": ACCENT},
            "hovertemplate": "%{y}: %{x:.0%} agreement<extra></extra>",
        },
    ]
    if any(v is not None for v in gold):  # no gold items: no empty series in the legend
        data.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": "gold accuracy",
                "y": names,
                "x": gold[::-1],
                "marker": {"color": PALETTE[2]},
                "hovertemplate": "%{y}: %{x:.0%} gold accuracy<extra></extra>",
            }
        )
    return {
        "data": data,
        "layout": _layout(
            "Agreement and gold accuracy per worker" if len(data) > 1 else "Agreement with the consolidated labels",
            height=max(240, 80 + 34 * len(rows)),
            barmode="group",
            legend={"orientation": "h", "x": 0, "xanchor": "left", "y": 1.02, "yanchor": "bottom"},
            yaxis={"type": "category"},
            xaxis={"range": [0, 1], "tickformat": ".0%"},
            margin={"b": 40},
            legend_room=28,
        ),
    }


def confidence_figure(confidences: list[float | None]) -> Figure | None:
    """Histogram of the consolidated labels' confidence, 10 bins over 0..1 (counted here, not in the browser)."""
    values = [v for v in (_num(c) for c in confidences) if v is not None]
    if not values:
        return None
    counts = [0] * CONFIDENCE_BINS
    for v in values:
        counts[min(CONFIDENCE_BINS - 1, max(0, int(v * CONFIDENCE_BINS)))] += 1
    width = 1 / CONFIDENCE_BINS
    return {
        "data": [
            {
                "type": "bar",
                "x": [round((i + 0.5) * width, 4) for i in range(CONFIDENCE_BINS)],
                "y": counts,
                "width": [width * 0.95] * CONFIDENCE_BINS,
                "marker": {"color": ACCENT},
                "hovertemplate": "confidence %{x:.2f} ± 0.05: %{y:,} items<extra></extra>",
            }
        ],
        "layout": _layout(
            "Confidence of the consolidated labels",
            xaxis={"range": [0, 1], "tickformat": ".1f", "title": {"text": "confidence"}},
            yaxis={"rangemode": "tozero", "title": {"text": "items"}},
        ),
    }


def answers_over_time_figure(points: list[tuple[str, int]]) -> Figure | None:
    """Line: answers per hour (ISO timestamps of the hour, counts)."""
    if len(points) < 2:
        return None
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": [p[0] for p in points],
                "y": [p[1] for p in points],
                "line": {"color": ACCENT},
                "hovertemplate": "%{x}: %{y:,} answers<extra></extra>",
            }
        ],
        "layout": _layout(
            "Answers per hour",
            xaxis={"type": "date"},
            yaxis={"rangemode": "tozero", "title": {"text": "answers"}},
        ),
    }


def models_figure(stats: dict[str, Any]) -> Figure | None:
    """Bars: each model's Bradley–Terry score from the preferences and rankings (wins over comparisons in hover)."""
    rows = [m for m in stats.get("models") or [] if isinstance(m, dict) and _num(m.get("score")) is not None]
    if not rows:
        return None
    rows.sort(key=lambda m: -float(m["score"]))
    x = [label(m.get("model") or "(unnamed)") for m in rows]
    return {
        "data": [
            {
                "type": "bar",
                "x": x,
                "y": [_num(m.get("score")) for m in rows],
                "customdata": [[int(m.get("wins") or 0), int(m.get("comparisons") or 0)] for m in rows],
                "marker": {"color": [ACCENT if i == 0 else MUTED for i in range(len(rows))]},
                "hovertemplate": "%{x}: score %{y:.3f}, %{customdata[0]} wins in %{customdata[1]}<extra></extra>",
            }
        ],
        "layout": _layout(
            "Models by preference (Bradley–Terry score)",
            xaxis={"type": "category", "tickvals": x, "ticktext": [short(v) for v in x]},
            yaxis={"rangemode": "tozero", "title": {"text": "score"}},
        ),
    }


def job_figures(
    stats: dict[str, Any], *, confidences: list[float | None], answers: list[tuple[str, int]]
) -> list[tuple[str, Figure, bool]]:
    """(name, figure, wide) for each chart that has data, in the page's order."""
    out: list[tuple[str, Figure, bool]] = []
    for name, fig, wide in (
        ("labels", labels_figure(stats), False),
        ("confidence", confidence_figure(confidences), False),
        ("models", models_figure(stats), False),
        ("workers-items", workers_items_figure(stats), False),
        ("workers-quality", workers_quality_figure(stats), False),
        ("answers", answers_over_time_figure(answers), True),
    ):
        if fig is not None:
            out.append((name, fig, wide))
    return out
