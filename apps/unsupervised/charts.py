"""Plotly figure builders for the built-in algorithms: a run's chart and info JSON in, plain `{"data", "layout"}`
dicts out (no Django, no plotly import). Every user-supplied string (column names) goes through `label`."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from apps.core.charts import ACCENT, DANGER, MUTED, PALETTE, label

Figure = dict[str, Any]

# plotly's default qualitative colours: one per cluster, the same in the sizes bars and the scatter.


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    """Every figure has the same height and top and bottom margins, so charts side by side line up; the top margin
    holds the title and, under it, a legend."""
    layout: dict[str, Any] = {
        "title": {"text": title, "font": {"size": 14}, "x": 0.01, "xanchor": "left", "y": 0.98, "yanchor": "top"},
        "margin": {"l": 60, "r": 20, "t": 72, "b": 55},
        "height": 380,
        "template": "plotly_white",
    }
    layout.update(extra)
    return layout


def _legend_top() -> dict[str, Any]:
    """A horizontal legend between the title and the plot."""
    return {"orientation": "h", "x": 0, "xanchor": "left", "y": 1.02, "yanchor": "bottom"}


def _vline(x: float, text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    shape = {
        "type": "line",
        "x0": x,
        "x1": x,
        "y0": 0,
        "y1": 1,
        "yref": "paper",
        "line": {"color": DANGER, "dash": "dash", "width": 2},
    }
    note = {
        "x": x,
        "y": 1,
        "yref": "paper",
        "text": text,
        "showarrow": False,
        "xanchor": "left",
        "yanchor": "top",
        "xshift": 4,
        "font": {"color": DANGER, "size": 12},
    }
    return shape, note


def _names(info: dict[str, Any], n: int, default: str) -> list[str]:
    names = [str(c) for c in (info.get("new_columns") or [])]
    return names[:n] if len(names) >= n else [f"{default}{i + 1}" for i in range(n)]


def _sample_note(shown: int, rows: Any) -> str:
    return f" (a sample of {shown:,} of {int(rows):,} rows)" if isinstance(rows, int) and rows > shown else ""


# --- PCA -------------------------------------------------------------------------------------------------------


def pca_variance_figure(chart: dict[str, Any], info: dict[str, Any]) -> Figure | None:
    ratio = chart.get("explained_variance_ratio") or []
    if not ratio:
        return None
    x = [label(n) for n in _names(info, len(ratio), "pc")]
    data = [
        {
            "type": "bar",
            "x": x,
            "y": ratio,
            "name": "explained by the component",
            "marker": {"color": ACCENT},
            "hovertemplate": "%{x}: %{y:.1%}<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": x,
            "y": chart.get("cumulative") or [],
            "name": "cumulative",
            "line": {"color": DANGER},
            "hovertemplate": "up to %{x}: %{y:.1%}<extra></extra>",
        },
    ]
    return {
        "data": data,
        "layout": _layout(
            "Explained variance",
            legend=_legend_top(),
            yaxis={"tickformat": ".0%", "range": [0, 1.05], "title": {"text": "share of the variance"}},
            xaxis={"type": "category", "title": {"text": "component"}},
        ),
    }


def pca_scatter_figure(chart: dict[str, Any], info: dict[str, Any]) -> Figure | None:
    scatter = chart.get("scatter") or {}
    xs, ys = scatter.get("x") or [], scatter.get("y") or []
    if not xs:
        return None
    ratio = chart.get("explained_variance_ratio") or []
    names = [label(n) for n in _names(info, max(1, len(ratio)), "pc")]
    axis = [f"{names[i]} ({ratio[i]:.1%} of the variance)" if i < len(ratio) else names[0] for i in range(2)]
    note = _sample_note(len(xs), info.get("rows"))
    if not ys:  # one component: its distribution
        return {
            "data": [{"type": "histogram", "x": xs, "marker": {"color": ACCENT}, "nbinsx": 40}],
            "layout": _layout(
                f"Rows on {names[0]}{note}", xaxis={"title": {"text": axis[0]}}, yaxis={"title": {"text": "rows"}}
            ),
        }
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "markers",
                "x": xs,
                "y": ys,
                "marker": {"color": ACCENT, "size": 5, "opacity": 0.6},
                "hovertemplate": f"{names[0]} %{{x:.3f}}<br>{names[1]} %{{y:.3f}}<extra></extra>",
            }
        ],
        "layout": _layout(
            f"Rows on the first two components{note}",
            xaxis={"title": {"text": axis[0]}},
            yaxis={"title": {"text": axis[1]}},
        ),
    }


# --- k-means -------------------------------------------------------------------------------------------------


def kmeans_k_figure(chart: dict[str, Any]) -> Figure | None:
    """Silhouette (left axis) and inertia (right axis) for each k tried, with the chosen k marked."""
    scores = chart.get("k_scores") or []
    if not scores:
        return None
    ks = [s["k"] for s in scores]
    chosen = chart.get("suggested_k")
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": ks,
            "y": [s["silhouette"] for s in scores],
            "name": "silhouette (higher is better)",
            "line": {"color": ACCENT},
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": ks,
            "y": [s["inertia"] for s in scores],
            "yaxis": "y2",
            "name": "inertia (lower is tighter)",
            "line": {"color": MUTED, "dash": "dot"},
        },
    ]
    shapes, notes = [], []
    if chosen is not None:
        shape, note = _vline(chosen, f"chosen k = {chosen}")
        shapes, notes = [shape], [note]
        chosen_score = next((s["silhouette"] for s in scores if s["k"] == chosen), None)
        if chosen_score is not None:
            data.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "x": [chosen],
                    "y": [chosen_score],
                    "name": "chosen k",
                    "marker": {"color": DANGER, "size": 12, "symbol": "diamond"},
                    "showlegend": False,
                }
            )
    return {
        "data": data,
        "layout": _layout(
            "Choosing k: silhouette and inertia",
            legend=_legend_top(),
            shapes=shapes,
            annotations=notes,
            margin={"l": 60, "r": 70, "t": 72, "b": 55},
            xaxis={"title": {"text": "k (number of clusters)"}, "dtick": 1},
            yaxis={"title": {"text": "silhouette"}},
            yaxis2={"title": {"text": "inertia"}, "overlaying": "y", "side": "right", "showgrid": False},
        ),
    }


def kmeans_sizes_figure(chart: dict[str, Any], info: dict[str, Any]) -> Figure | None:
    sizes = chart.get("sizes") or []
    if not sizes:
        return None
    column = label(_names(info, 1, "cluster")[0])
    return {
        "data": [
            {
                "type": "bar",
                "x": [str(i) for i in range(len(sizes))],
                "y": sizes,
                "marker": {"color": [PALETTE[i % len(PALETTE)] for i in range(len(sizes))]},
                "text": sizes,
                "textposition": "auto",
                "hovertemplate": f"{column} %{{x}}: %{{y:,}} rows<extra></extra>",
            }
        ],
        "layout": _layout(
            "Cluster sizes", xaxis={"type": "category", "title": {"text": column}}, yaxis={"title": {"text": "rows"}}
        ),
    }


def kmeans_scatter_figure(chart: dict[str, Any], info: dict[str, Any]) -> Figure | None:
    scatter = chart.get("scatter") or {}
    xs, ys, clusters = scatter.get("x") or [], scatter.get("y") or [], scatter.get("cluster") or []
    if not xs or len(clusters) != len(xs):
        return None
    column = label(_names(info, 1, "cluster")[0])
    ys = ys if len(ys) == len(xs) else [0.0] * len(xs)
    data = []
    for c in sorted(set(clusters)):
        idx = [i for i, v in enumerate(clusters) if v == c]
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": f"{column} {c}",
                "x": [xs[i] for i in idx],
                "y": [ys[i] for i in idx],
                "marker": {"color": PALETTE[c % len(PALETTE)], "size": 5, "opacity": 0.7},
            }
        )
    note = _sample_note(len(xs), info.get("rows"))
    return {
        "data": data,
        "layout": _layout(
            f"Clusters on a 2-D projection (PCA) of the inputs{note}",
            xaxis={"title": {"text": "projection 1"}},
            yaxis={"title": {"text": "projection 2"}},
        ),
    }


# --- isolation forest ------------------------------------------------------------------------------------------


def iforest_histogram_figure(chart: dict[str, Any], info: dict[str, Any]) -> Figure | None:
    hist = chart.get("histogram") or {}
    edges, counts = hist.get("edges") or [], hist.get("counts") or []
    if not counts or len(edges) != len(counts) + 1:
        return None
    threshold = chart.get("threshold")
    centres = [(a + b) / 2 for a, b in pairwise(edges)]
    colours = [DANGER if threshold is not None and c > threshold else ACCENT for c in centres]
    data = [
        {
            "type": "bar",
            "x": centres,
            "y": counts,
            "width": [b - a for a, b in pairwise(edges)],
            "marker": {"color": colours},
            "hovertemplate": "score %{x:.3f}<br>%{y} rows<extra></extra>",
        }
    ]
    shapes, notes = [], []
    if threshold is not None:
        shape, note = _vline(threshold, f"threshold {threshold:.3f}: {int(info.get('n_flagged') or 0):,} flagged")
        shapes, notes = [shape], [note]
    return {
        "data": data,
        "layout": _layout(
            "Anomaly scores",
            shapes=shapes,
            annotations=notes,
            bargap=0.05,
            xaxis={"title": {"text": "anomaly score (higher is more unusual)"}},
            yaxis={"title": {"text": "rows"}},
        ),
    }


def run_figures(algorithm: str, chart: dict[str, Any] | None, info: dict[str, Any] | None) -> list[tuple[str, Figure]]:
    """(id, figure) for every chart a finished run has data for, in page order."""
    chart, info = chart or {}, info or {}
    if not chart:
        return []
    if algorithm == "pca":
        figures = [("variance", pca_variance_figure(chart, info)), ("scatter", pca_scatter_figure(chart, info))]
    elif algorithm == "kmeans":
        figures = [
            ("k", kmeans_k_figure(chart)),
            ("sizes", kmeans_sizes_figure(chart, info)),
            ("scatter", kmeans_scatter_figure(chart, info)),
        ]
    elif algorithm == "isolation_forest":
        figures = [("scores", iforest_histogram_figure(chart, info))]
    else:
        figures = []
    return [(name, fig) for name, fig in figures if fig is not None]
