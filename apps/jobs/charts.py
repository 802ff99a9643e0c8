"""Plotly figure builders for job results: data in, figure dict out."""

from __future__ import annotations

from typing import Any


def storage_report_figure(result: dict[str, Any]) -> dict[str, Any]:
    assets = result.get("assets", [])
    storage = result.get("storage", [])
    return {
        "data": [
            {"type": "bar", "name": "records", "x": [a["type"] for a in assets], "y": [a["count"] for a in assets]},
            {
                "type": "bar",
                "name": "stored MB",
                "x": [f"files: {s['folder']}" for s in storage],
                "y": [round(s["bytes"] / 1e6, 3) for s in storage],
                "yaxis": "y2",
            },
        ],
        "layout": {
            "height": 320,
            "margin": {"l": 50, "r": 50, "t": 30, "b": 80},
            "yaxis": {"title": {"text": "count"}},
            "yaxis2": {"title": {"text": "MB"}, "overlaying": "y", "side": "right"},
            "legend": {"orientation": "h"},
            "barmode": "group",
        },
    }
