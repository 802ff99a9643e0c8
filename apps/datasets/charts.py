"""Plotly figure builders for the data profile: report data in, plain plotly figure dict out.

Plain module: no Django imports and no plotly import (figures are plain ``{"data": [...], "layout": {...}}``
dicts that ``Plotly.newPlot`` and ``plotly.graph_objects.Figure`` both accept). Every user-supplied string
placed in a figure goes through :func:`label`, which escapes ``<``, ``>`` and ``&`` so plotly shows it as text
instead of reading its pseudo-HTML tags.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from apps.core import figures as fx
from apps.core.charts import ACCENT, DANGER, Figure, label


def _layout(title: str, *, margin: dict[str, int] | None = None, **extra: Any) -> dict[str, Any]:
    """Common layout (apps/core/figures.py), bars close together."""
    return fx.layout(title, margin=margin, **{"bargap": 0.05, **extra})


def _hbar_layout(title: str, bars: Any, **extra: Any) -> dict[str, Any]:
    """A horizontal bar chart: one bar per name, every name shown (shortened, in full on hover)."""
    names = [str(n) for n in bars]
    return _layout(
        title,
        margin={"l": fx.label_px(names) + 10},
        yaxis=fx.category_axis(names),
        height=max(240, 26 * len(names) + 90),
        **extra,
    )


def _vbar_layout(title: str, bars: Any, **extra: Any) -> dict[str, Any]:
    """A vertical bar chart: every name under its bar, rotated when needed; a fixed width (its card scrolls)
    when there are too many bars to read in a card."""
    names = [str(n) for n in bars]
    width = fx.bar_width(names)
    angle = fx.x_angle(names, (width or fx.PHONE_PLOT_PX + 100) - 100)  # a card that fits draws on a phone too
    layout = _layout(
        title,
        margin={"b": fx.rotated_px(names, angle) if angle else 50},
        xaxis=fx.category_axis(names, angle=angle),
        **extra,
    )
    layout["height"] += layout["margin"]["b"] - 50
    if width:
        layout["width"] = width
    return fx.place_title(layout)


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
    shown = f"{len(top)} most frequent values" if len(column.get("top_values") or []) > len(top) else "Values"
    return {"data": [bar], "layout": _hbar_layout(f"{shown} of {label(column['name'])}", bar["y"])}


def correlation_heatmap(matrix: dict[str, Any] | None, title: str, *, zmin: float = -1.0) -> Figure | None:
    """Heatmap of a square ``{columns, values}`` matrix or a ``{rows, columns, values}`` one."""
    if not matrix or not matrix.get("values"):
        return None
    cols = [label(c) for c in matrix["columns"]]
    rows = [label(c) for c in matrix.get("rows", matrix["columns"])]
    cell = fx.heatmap_cell(max(len(cols), len(rows)))
    heat: dict[str, Any] = {
        "type": "heatmap",
        "z": matrix["values"],
        "x": cols,
        "y": rows,
        "zmin": zmin,
        "zmax": 1.0,
        "colorscale": "RdBu" if zmin < 0 else "Blues",
        "reversescale": True,
        "hovertemplate": "%{y} / %{x}: %{z:.3f}<extra></extra>",
        "colorbar": {"thickness": 12, "len": 1.0},
        "xgap": 1,
        "ygap": 1,
    }
    if cell >= 36:  # room for the value in each cell
        heat["texttemplate"] = "%{z:.2f}"
        heat["textfont"] = {"size": 10}
    angle = fx.x_angle(cols, cell * len(cols))
    left, bottom = fx.label_px(rows) + 10, (fx.rotated_px(cols, angle) if angle else 40)
    head, top = fx.title(title)
    # Square cells: the figure's size follows the column count (a card narrower than it scrolls).
    width = max(320, left + cell * len(cols) + 80, int(fx.CHAR_PX * 1.15 * min(len(title), fx.TITLE_CHARS)) + 30)
    return {
        "data": [heat],
        "layout": fx.place_title(
            {
                "title": head,
                "template": "plotly_white",
                # Any width beyond the cells (a long title) goes to the right margin, so the cells stay square.
                "margin": {"l": left, "r": width - left - cell * len(cols), "t": top, "b": bottom},
                "width": width,
                "height": top + cell * len(rows) + bottom,
                "xaxis": fx.category_axis(cols, angle=angle, side="bottom"),
                "yaxis": fx.category_axis(rows, autorange="reversed"),
            }
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
        shown = f" ({len(classes)} largest of {len(target['classes'])} classes)" if len(target["classes"]) > 30 else ""
        return {"data": [bar], "layout": _vbar_layout(f"Class balance of {name}{shown}", bar["x"])}
    dist = target.get("distribution") or {}
    if dist.get("histogram"):
        return histogram_figure({"name": target["name"], "numeric": dist})
    return None


def feature_importance_figure(quick_model: dict[str, Any] | None, limit: int = 20) -> Figure | None:
    every = (quick_model or {}).get("feature_importance") or []
    if not every:
        return None
    items = every[:limit][::-1]
    bar = {
        "type": "bar",
        "orientation": "h",
        "x": [i["importance"] for i in items],
        "y": [label(i["column"]) for i in items],
        "marker": {"color": ACCENT},
        "hovertemplate": "%{y}: %{x:.3f}<extra></extra>",
    }
    title = "Feature importance" + (f" (top {len(items)} of {len(every)} columns)" if len(every) > len(items) else "")
    if quick_model and quick_model.get("score") is not None:
        title += f" · {label(quick_model['algorithm'])}, {quick_model['metric']} {quick_model['score']:.3f}"
    return {"data": [bar], "layout": _hbar_layout(title, bar["y"])}


def leakage_figure(leakage: dict[str, Any] | None, limit: int = 20) -> Figure | None:
    every = (leakage or {}).get("features") or []
    if not every:
        return None
    items = every[:limit][::-1]
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
        "layout": _hbar_layout(
            "Predictive power of each column alone (leakage check)"
            + (f", top {len(items)} of {len(every)} columns" if len(every) > len(items) else ""),
            bar["y"],
            xaxis={"range": [0, 1.02]},
            shapes=[line],
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
        "layout": _vbar_layout("Missing values per column", bar["x"], yaxis={"tickformat": ".0%", "range": [0, 1.02]}),
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
        "layout": _vbar_layout("Variance inflation factor (capped at 100)", bar["x"], shapes=[line]),
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
