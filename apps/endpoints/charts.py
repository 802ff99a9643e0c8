"""Plotly figure builders for the endpoint page: the per-minute metrics (selectors.endpoint_metrics) in, plain
`{"data", "layout"}` dicts out. The page's script redraws them from /api/endpoints/{id}/metrics/ with the same
shapes (static/js/endpoints.js)."""

from __future__ import annotations

from typing import Any

from apps.core.charts import ACCENT, DANGER, PALETTE, label

Figure = dict[str, Any]


def _layout(title: str, ytitle: str, minutes: list[str], **extra: Any) -> dict[str, Any]:
    """The same time window on every chart (the minutes of selectors.endpoint_metrics), whatever has data."""
    window = [minutes[0], minutes[-1]] if minutes else None
    layout: dict[str, Any] = {
        "title": {"text": title, "font": {"size": 14}, "x": 0.01, "xanchor": "left"},
        "margin": {"l": 60, "r": 20, "t": 60, "b": 45},
        "height": 300,
        "template": "plotly_white",
        "xaxis": {"type": "date", "title": {"text": "minute (UTC)"}, "range": window},
        "yaxis": {"title": {"text": ytitle}, "rangemode": "tozero"},
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
    }
    layout.update(extra)
    return layout


def invocations_figure(metrics: dict[str, Any]) -> Figure:
    data = [
        {
            "type": "bar",
            "name": label(variant),
            "x": metrics["minutes"],
            "y": counts,
            "marker": {"color": PALETTE[i % len(PALETTE)]},
        }
        for i, (variant, counts) in enumerate(sorted(metrics["invocations"].items()))
    ]
    return {"data": data, "layout": _layout("Invocations per minute", "requests", metrics["minutes"], barmode="stack")}


def error_rate_figure(metrics: dict[str, Any]) -> Figure:
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "errors (4xx + 5xx)",
            "x": metrics["minutes"],
            "y": metrics["error_rate"],
            "line": {"color": DANGER},
            "connectgaps": False,
        }
    ]
    layout = _layout("Error rate", "% of requests", metrics["minutes"])
    layout["yaxis"]["range"] = [0, 100]
    return {"data": data, "layout": layout}


def latency_figure(metrics: dict[str, Any]) -> Figure:
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "p50",
            "x": metrics["minutes"],
            "y": metrics["p50"],
            "line": {"color": ACCENT},
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "p99",
            "x": metrics["minutes"],
            "y": metrics["p99"],
            "line": {"color": "#ff7f0e", "dash": "dot"},
        },
    ]
    return {"data": data, "layout": _layout("Latency", "milliseconds", metrics["minutes"])}


def endpoint_figures(metrics: dict[str, Any]) -> list[tuple[str, Figure]]:
    return [
        ("invocations", invocations_figure(metrics)),
        ("errors", error_rate_figure(metrics)),
        ("latency", latency_figure(metrics)),
    ]
