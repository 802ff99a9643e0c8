"""Plotly figure builders for the registry: comparison rows in, a `{"data", "layout"}` dict out."""

from __future__ import annotations

from typing import Any

from apps.core.charts import PALETTE, label


def metrics_figure(names: list[str], rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A grouped bar chart: one group per metric, one bar per version (`names`, in column order)."""
    numeric = [
        r
        for r in rows
        if any(isinstance(c["value"], int | float) and not isinstance(c["value"], bool) for c in r["cells"])
    ]
    if not numeric:
        return None
    x = [label(r["label"]) for r in numeric]
    data = []
    for i, name in enumerate(names):
        ys = []
        for r in numeric:
            value = r["cells"][i]["value"]
            ys.append(value if isinstance(value, int | float) and not isinstance(value, bool) else None)
        data.append(
            {
                "type": "bar",
                "name": label(name),
                "x": x,
                "y": ys,
                "marker": {"color": PALETTE[i % len(PALETTE)]},
                "hovertemplate": "%{x}: %{y:.4f}<extra>" + label(name) + "</extra>",
            }
        )
    return {
        "data": data,
        "layout": {
            "title": {"text": "Metrics by version", "font": {"size": 14}, "x": 0.01, "xanchor": "left"},
            "barmode": "group",
            "height": 360,
            "template": "plotly_white",
            "margin": {"l": 60, "r": 20, "t": 48, "b": 40},
            "legend": {"orientation": "h", "y": 1.12, "x": 1, "xanchor": "right"},
        },
    }
