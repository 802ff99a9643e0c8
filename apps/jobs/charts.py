"""Plotly figure builders for job results: data in, figure dict out."""

from __future__ import annotations

from typing import Any


def storage_report_figure(result: dict[str, Any]) -> dict[str, Any]:
    """Records per asset type (left axis) and stored megabytes per folder (right axis, only when there are files)."""
    assets = result.get("assets", [])
    storage = [s for s in result.get("storage", []) if s.get("bytes")]
    data: list[dict[str, Any]] = [
        {"type": "bar", "name": "records", "x": [a["type"] for a in assets], "y": [a["count"] for a in assets]}
    ]
    layout: dict[str, Any] = {
        "height": 320,
        "margin": {"l": 50, "r": 50, "t": 30, "b": 80},
        "yaxis": {"title": {"text": "records"}, "rangemode": "tozero", "tickformat": ",d"},
        "legend": {"orientation": "h"},
        "barmode": "group",
    }
    if storage:
        data.append(
            {
                "type": "bar",
                "name": "stored MB",
                "x": [f"files: {s['folder']}" for s in storage],
                "y": [round(s["bytes"] / 1e6, 3) for s in storage],
                "yaxis": "y2",
            }
        )
        layout["yaxis2"] = {"title": {"text": "MB"}, "overlaying": "y", "side": "right", "rangemode": "tozero"}
    return {"data": data, "layout": layout}
