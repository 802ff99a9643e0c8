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


REJECTED_COLOR = "#9aa0a6"


def invocations_figure(metrics: dict[str, Any]) -> Figure:
    """Invocations per variant, stacked, and the requests refused for their key beside them (grey)."""
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
    if any(metrics.get("rejected") or []):
        data.append(
            {
                "type": "bar",
                "name": "rejected (bad key)",
                "x": metrics["minutes"],
                "y": metrics["rejected"],
                "marker": {"color": REJECTED_COLOR},
            }
        )
    return {"data": data, "layout": _layout("Invocations per minute", "requests", metrics["minutes"], barmode="stack")}


def error_rate_figure(metrics: dict[str, Any]) -> Figure:
    """Client errors (4xx: the request was wrong) and server errors (5xx: the endpoint failed) apart, as % of the
    invocations; requests refused for their key are not among them."""
    traces = (
        ("client errors (4xx)", "client_error_rate", "#ff7f0e", "dot"),
        ("server errors (5xx)", "server_error_rate", DANGER, "solid"),
    )
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": name,
            "x": metrics["minutes"],
            "y": metrics[key],
            "line": {"color": color, "dash": dash},
            "connectgaps": False,
        }
        for name, key, color, dash in traces
    ]
    layout = _layout("Error rate", "% of invocations", metrics["minutes"])
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
