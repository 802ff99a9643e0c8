"""Plotly figure builders for the data profile: report data in, plain plotly figure dict out.

Plain module: no Django imports and no plotly import (figures are plain ``{"data": [...], "layout": {...}}``
dicts that ``Plotly.newPlot`` and ``plotly.graph_objects.Figure`` both accept). Every user-supplied string
placed in a figure goes through :func:`label`, which escapes ``<``, ``>`` and ``&`` so plotly shows it as text
instead of reading its pseudo-HTML tags.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from apps.core.charts import ACCENT, DANGER, Figure, label


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {"text": title, "font": {"size": 14}, "x": 0.01, "xanchor": "left"},
        "margin": {"l": 60, "r": 20, "t": 48, "b": 50},
        "height": 320,
        "bargap": 0.05,
        "template": "plotly_white",
    }
    layout.update(extra)
    return layout


def histogram_figure(column: dict[str, Any]) -> Figure | None:
    """Histogram of a numeric or datetime column from its precomputed bins."""
    stats = column.get("numeric") or column.get("datetime")
    hist = (stats or {}).get("histogram")
    if not hist or not hist.get("counts"):
        return None
    edges, counts = hist["edges"], hist["counts"]
    if column.get("datetime"):
        x: list[Any] = edges[:-1]
        bar = {
            "type": "bar",
            "x": x,
            "y": counts,
            "marker": {"color": ACCENT},
            "offset": 0,
            "hovertemplate": "from %{x}<br>%{y} rows<extra></extra>",
        }
    else:
        centres = [(a + b) / 2 for a, b in pairwise(edges)]
        widths = [b - a for a, b in pairwise(edges)]
        bar = {
            "type": "bar",
            "x": centres,
            "y": counts,
            "width": widths,
            "marker": {"color": ACCENT},
            "hovertemplate": "%{x}<br>%{y} rows<extra></extra>",
        }
    sample = "" if column.get("stats_exact", True) else f" (sample of {column.get('stats_sample_size'):,})"
    return {
        "data": [bar],
        "layout": _layout(f"Distribution of {label(column['name'])}{sample}", yaxis={"title": {"text": "rows"}}),
    }


def top_values_figure(column: dict[str, Any], limit: int = 10) -> Figure | None:
    top = column.get("top_values") or []
    if not top:
        return None
    top = top[:limit][::-1]
    bar = {
        "type": "bar",
        "orientation": "h",
        "x": [t["count"] for t in top],
        "y": [label(t["value"]) for t in top],
        "marker": {"color": ACCENT},
        "hovertemplate": "%{y}: %{x} rows<extra></extra>",
    }
    return {
        "data": [bar],
        "layout": _layout(
            f"Most frequent values of {label(column['name'])}",
            yaxis={"type": "category", "automargin": True},
            height=max(220, 28 * len(top) + 80),
        ),
    }


def correlation_heatmap(matrix: dict[str, Any] | None, title: str, *, zmin: float = -1.0) -> Figure | None:
    """Heatmap of a square ``{columns, values}`` matrix or a ``{rows, columns, values}`` one."""
    if not matrix or not matrix.get("values"):
        return None
    cols = [label(c) for c in matrix["columns"]]
    rows = [label(c) for c in matrix.get("rows", matrix["columns"])]
    heat = {
        "type": "heatmap",
        "z": matrix["values"],
        "x": cols,
        "y": rows,
        "zmin": zmin,
        "zmax": 1.0,
        "colorscale": "RdBu" if zmin < 0 else "Blues",
        "reversescale": True,
        "hovertemplate": "%{y} / %{x}: %{z:.3f}<extra></extra>",
    }
    size = max(320, 22 * len(rows) + 140)
    return {
        "data": [heat],
        "layout": _layout(
            title,
            height=size,
            xaxis={"type": "category", "automargin": True},
            yaxis={"type": "category", "automargin": True, "autorange": "reversed"},
        ),
    }


def target_figure(target: dict[str, Any] | None) -> Figure | None:
    """Class balance (classification) or distribution (regression) of the target."""
    if not target:
        return None
    name = label(target["name"])
    if target.get("classes"):
        classes = target["classes"][:30]
        bar = {
            "type": "bar",
            "x": [label(c["value"]) for c in classes],
            "y": [c["count"] for c in classes],
            "marker": {"color": ACCENT},
            "hovertemplate": "%{x}: %{y} rows<extra></extra>",
        }
        return {"data": [bar], "layout": _layout(f"Class balance of {name}", xaxis={"type": "category"})}
    dist = target.get("distribution") or {}
    if dist.get("histogram"):
        return histogram_figure({"name": target["name"], "numeric": dist})
    return None


def feature_importance_figure(quick_model: dict[str, Any] | None, limit: int = 20) -> Figure | None:
    items = (quick_model or {}).get("feature_importance") or []
    if not items:
        return None
    items = items[:limit][::-1]
    bar = {
        "type": "bar",
        "orientation": "h",
        "x": [i["importance"] for i in items],
        "y": [label(i["column"]) for i in items],
        "marker": {"color": ACCENT},
        "hovertemplate": "%{y}: %{x:.3f}<extra></extra>",
    }
    title = (
        f"Feature importance ({label(quick_model['algorithm'])}, {quick_model['metric']} {quick_model['score']:.3f})"
        if quick_model and quick_model.get("score") is not None
        else "Feature importance"
    )
    return {
        "data": [bar],
        "layout": _layout(title, yaxis={"type": "category", "automargin": True}, height=max(240, 24 * len(items) + 80)),
    }


def leakage_figure(leakage: dict[str, Any] | None, limit: int = 20) -> Figure | None:
    items = (leakage or {}).get("features") or []
    if not items:
        return None
    items = items[:limit][::-1]
    bar = {
        "type": "bar",
        "orientation": "h",
        "x": [i["score"] for i in items],
        "y": [label(i["column"]) for i in items],
        "marker": {"color": [DANGER if i["flag"] else ACCENT for i in items]},
        "hovertemplate": "%{y}: %{x:.3f}<extra></extra>",
    }
    threshold = leakage.get("threshold", 0.95) if leakage else 0.95
    line = {
        "type": "line",
        "x0": threshold,
        "x1": threshold,
        "yref": "paper",
        "y0": 0,
        "y1": 1,
        "line": {"color": DANGER, "dash": "dash"},
    }
    return {
        "data": [bar],
        "layout": _layout(
            "Predictive power of each column alone (leakage check)",
            xaxis={"range": [0, 1.02]},
            shapes=[line],
            yaxis={"type": "category", "automargin": True},
            height=max(240, 24 * len(items) + 80),
        ),
    }


def missing_values_figure(report: dict[str, Any]) -> Figure | None:
    columns = report.get("columns") or []
    if not columns:
        return None
    bar = {
        "type": "bar",
        "x": [label(c["name"]) for c in columns],
        "y": [c["missing_ratio"] for c in columns],
        "marker": {"color": [DANGER if c["missing_ratio"] >= 0.5 else ACCENT for c in columns]},
        "hovertemplate": "%{x}: %{y:.1%} missing<extra></extra>",
    }
    return {
        "data": [bar],
        "layout": _layout(
            "Missing values per column", xaxis={"type": "category"}, yaxis={"tickformat": ".0%", "range": [0, 1]}
        ),
    }


def vif_figure(multicollinearity: dict[str, Any] | None) -> Figure | None:
    items = (multicollinearity or {}).get("columns") or []
    if not items:
        return None
    bar = {
        "type": "bar",
        "x": [label(i["column"]) for i in items],
        "y": [min(i["vif"] or 0, 100) for i in items],
        "marker": {"color": [DANGER if (i["vif"] or 0) > 10 else ACCENT for i in items]},
        "hovertemplate": "%{x}: VIF %{y:.1f}<extra></extra>",
    }
    line = {
        "type": "line",
        "xref": "paper",
        "x0": 0,
        "x1": 1,
        "y0": 10,
        "y1": 10,
        "line": {"color": DANGER, "dash": "dash"},
    }
    return {
        "data": [bar],
        "layout": _layout("Variance inflation factor (capped at 100)", shapes=[line], xaxis={"type": "category"}),
    }


def report_figures(report: dict[str, Any]) -> dict[str, Figure]:
    """Every figure the report supports, keyed ``overview.*``, ``column.<index>.*`` (None-valued ones left out)."""
    corr = report.get("correlations") or {}
    figures: dict[str, Figure | None] = {
        "overview.missing": missing_values_figure(report),
        "correlations.pearson": correlation_heatmap(corr.get("pearson"), "Pearson correlation"),
        "correlations.spearman": correlation_heatmap(corr.get("spearman"), "Spearman correlation"),
        "correlations.cramers_v": correlation_heatmap(corr.get("cramers_v"), "Cramér's V", zmin=0.0),
        "correlations.correlation_ratio": correlation_heatmap(
            corr.get("correlation_ratio"), "Correlation ratio (categorical vs numeric)", zmin=0.0
        ),
        "target.distribution": target_figure(report.get("target")),
        "leakage.scores": leakage_figure(report.get("leakage")),
        "quick_model.importance": feature_importance_figure(report.get("quick_model")),
        "multicollinearity.vif": vif_figure(report.get("multicollinearity")),
    }
    for i, column in enumerate(report.get("columns") or []):
        figures[f"column.{i}.histogram"] = histogram_figure(column)
        figures[f"column.{i}.top_values"] = top_values_figure(column)
    return {key: fig for key, fig in figures.items() if fig is not None}
