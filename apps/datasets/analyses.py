"""On-demand analyses of a flow step's output: data (a sample) in, plain plotly figure dict out.

Plain module: no Django imports. Kinds: histogram, scatter (optional colour), box plot (optional grouping),
correlation heatmap and time-series line. User-supplied strings placed in figures go through
`apps.datasets.charts.label` (escaped for plotly's pseudo-HTML). Errors name the parameter at fault.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from apps.core.charts import ACCENT, label
from apps.datasets.charts import correlation_heatmap

KINDS = ("histogram", "scatter", "box", "correlation", "line")
MAX_POINTS = 5_000
MAX_GROUPS = 12
MAX_FACETS = 6
MAX_CORRELATION_COLUMNS = 30
PARAMS: dict[str, tuple[str, ...]] = {
    "histogram": ("column", "bins"),
    "scatter": ("x", "y", "color", "facet"),
    "box": ("column", "by"),
    "correlation": ("columns",),
    "line": ("x", "y", "agg"),
}
AGGREGATIONS = ("mean", "sum", "count", "min", "max", "median")


class AnalysisError(ValueError):
    def __init__(self, message: str, field: str = "kind") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {"text": title, "font": {"size": 14}},
        "height": 360,
        "margin": {"l": 60, "r": 20, "t": 40, "b": 60},
        "template": "plotly_white",
    }
    layout.update(extra)
    return layout


def _column(df: pd.DataFrame, params: dict[str, Any], field: str, *, required: bool = True) -> str | None:
    name = params.get(field) or None
    if name is None:
        if required:
            raise AnalysisError(f"Choose a column for '{field}'.", field)
        return None
    if name not in df.columns:
        raise AnalysisError(f"No column {name!r} in this step's output (field '{field}').", field)
    return str(name)


def _numeric(df: pd.DataFrame, name: str, field: str) -> pd.Series:
    s = df[name]
    if ptypes.is_bool_dtype(s.dtype):
        return s.astype("float64")
    if ptypes.is_datetime64_any_dtype(s.dtype):
        raise AnalysisError(f"Column {name!r} holds dates; choose a numeric column for '{field}'.", field)
    if not ptypes.is_numeric_dtype(s.dtype):
        raise AnalysisError(
            f"Column {name!r} is not numeric ({s.dtype}); choose a numeric column for '{field}'.", field
        )
    return pd.to_numeric(s, errors="coerce").astype("float64")


def _values(s: pd.Series) -> list[Any]:
    if ptypes.is_datetime64_any_dtype(s.dtype):
        return [None if pd.isna(v) else pd.Timestamp(v).isoformat() for v in s]
    if ptypes.is_numeric_dtype(s.dtype) and not ptypes.is_bool_dtype(s.dtype):
        arr = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        return [float(v) if np.isfinite(v) else None for v in arr]
    return [None if pd.isna(v) else label(v) for v in s]


def _thin(df: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    if len(df) <= MAX_POINTS:
        return df
    idx = np.sort(np.random.default_rng(seed).choice(len(df), size=MAX_POINTS, replace=False))
    return df.iloc[idx]


def _groups(s: pd.Series) -> list[Any]:
    counts = s.astype("object").where(s.notna(), None).value_counts(dropna=False)
    return list(counts.index[:MAX_GROUPS])


def build(df: pd.DataFrame, kind: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Return (title, figure) for one analysis of `df` (already a sample)."""
    if kind not in KINDS:
        raise AnalysisError(f"Unknown analysis {kind!r}; choose one of {', '.join(KINDS)}.", "kind")
    if len(df) == 0:
        raise AnalysisError("The step's output has no rows to analyse.", "step")
    return {"histogram": _histogram, "scatter": _scatter, "box": _box, "correlation": _correlation, "line": _line}[
        kind
    ](df, params)


def _histogram(df: pd.DataFrame, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    name = _column(df, params, "column")
    assert name is not None
    bins = params.get("bins") or 30
    try:
        bins = int(bins)
    except (TypeError, ValueError) as exc:
        raise AnalysisError("'bins' must be a whole number.", "bins") from exc
    if not 2 <= bins <= 200:
        raise AnalysisError("'bins' must be between 2 and 200.", "bins")
    s = df[name]
    title = f"Histogram of {label(name)}"
    if ptypes.is_numeric_dtype(s.dtype) and not ptypes.is_bool_dtype(s.dtype):
        values = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        values = values[np.isfinite(values)]
        if not len(values):
            raise AnalysisError(f"Column {name!r} has no numeric values in the sample.", "column")
        counts, edges = np.histogram(values, bins=bins)
        centres = ((edges[:-1] + edges[1:]) / 2).tolist()
        trace = {
            "type": "bar",
            "x": centres,
            "y": counts.tolist(),
            "width": np.diff(edges).tolist(),
            "marker": {"color": ACCENT},
            "hovertemplate": "%{x}<br>%{y} rows<extra></extra>",
        }
    elif ptypes.is_datetime64_any_dtype(s.dtype):
        ns = s.dropna().astype("datetime64[ns]").astype("int64").to_numpy()
        if not len(ns):
            raise AnalysisError(f"Column {name!r} has no dates in the sample.", "column")
        counts, edges = np.histogram(ns, bins=bins)
        x = [pd.Timestamp(int(e)).isoformat() for e in edges[:-1]]
        trace = {
            "type": "bar",
            "x": x,
            "y": counts.tolist(),
            "marker": {"color": ACCENT},
            "offset": 0,
            "hovertemplate": "from %{x}<br>%{y} rows<extra></extra>",
        }
    else:
        counts_s = s.astype("object").where(s.notna(), "(missing)").value_counts().head(bins)
        trace = {
            "type": "bar",
            "x": [label(v) for v in counts_s.index],
            "y": counts_s.tolist(),
            "marker": {"color": ACCENT},
            "hovertemplate": "%{x}: %{y} rows<extra></extra>",
        }
        return title, {"data": [trace], "layout": _layout(title, xaxis={"type": "category"})}
    return title, {"data": [trace], "layout": _layout(title, bargap=0.05, yaxis={"title": {"text": "rows"}})}


def _scatter_traces(frame: pd.DataFrame, color: str | None, title: str, axes: tuple[str, str], first: bool) -> list:
    """Markers of one panel; categorical colours become one trace per group (legend shown once)."""
    xaxis, yaxis = axes
    if color and not (ptypes.is_numeric_dtype(frame["c"].dtype) and frame["c"].nunique() > MAX_GROUPS):
        traces = []
        for group in _groups(frame["c"]):
            part = frame[frame["c"].isna()] if group is None else frame[frame["c"].astype("object") == group]
            name = label("(missing)" if group is None else group)
            traces.append(
                {
                    "type": "scattergl",
                    "mode": "markers",
                    "name": name,
                    "legendgroup": name,
                    "showlegend": first,
                    "x": _values(part["x"]),
                    "y": _values(part["y"]),
                    "xaxis": xaxis,
                    "yaxis": yaxis,
                    "marker": {"size": 5, "opacity": 0.7},
                }
            )
        return traces
    marker: dict[str, Any] = {"size": 5, "opacity": 0.7, "color": ACCENT}
    if color:
        marker.update(
            color=_values(frame["c"]), colorscale="Viridis", showscale=first, colorbar={"title": {"text": label(color)}}
        )
    return [
        {
            "type": "scattergl",
            "mode": "markers",
            "x": _values(frame["x"]),
            "y": _values(frame["y"]),
            "marker": marker,
            "name": title,
            "showlegend": False,
            "xaxis": xaxis,
            "yaxis": yaxis,
        }
    ]


def _scatter(df: pd.DataFrame, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Scatter of y against x, optionally coloured by a column and faceted (small multiples) by another."""
    x = _column(df, params, "x")
    y = _column(df, params, "y")
    color = _column(df, params, "color", required=False)
    facet = _column(df, params, "facet", required=False)
    assert x is not None and y is not None
    xs, ys = _numeric(df, x, "x"), _numeric(df, y, "y")
    frame = pd.DataFrame({"x": xs, "y": ys, "c": df[color] if color else 0, "f": df[facet] if facet else 0})
    frame = _thin(frame.dropna(subset=["x", "y"]))
    title = f"{label(y)} against {label(x)}" + (f" by {label(color)}" if color else "")
    if not facet:
        traces = _scatter_traces(frame, color, title, ("x", "y"), True)
        layout = _layout(title, xaxis={"title": {"text": label(x)}}, yaxis={"title": {"text": label(y)}})
        return title, {"data": traces, "layout": layout}
    title += f", one panel per {label(facet)}"
    groups = _groups(frame["f"])[:MAX_FACETS]
    columns = min(3, len(groups))
    rows = -(-len(groups) // columns)
    traces, annotations = [], []
    layout = _layout(title, height=max(360, 280 * rows))
    layout["grid"] = {"rows": rows, "columns": columns, "pattern": "independent"}
    for i, group in enumerate(groups, start=1):
        part = frame[frame["f"].isna()] if group is None else frame[frame["f"].astype("object") == group]
        suffix = "" if i == 1 else str(i)
        traces += _scatter_traces(part, color, title, (f"x{suffix}", f"y{suffix}"), i == 1)
        layout[f"xaxis{suffix}"] = {"title": {"text": label(x)}}
        layout[f"yaxis{suffix}"] = {"title": {"text": label(y)}}
        name = label("(missing)" if group is None else group)
        annotations.append(
            {
                "text": f"{label(facet)} = {name}",
                "showarrow": False,
                "xref": f"x{suffix} domain",
                "yref": f"y{suffix} domain",
                "x": 0.5,
                "y": 1.08,
                "font": {"size": 12},
            }
        )
    layout["annotations"] = annotations
    return title, {"data": traces, "layout": layout}


def _box(df: pd.DataFrame, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    name = _column(df, params, "column")
    by = _column(df, params, "by", required=False)
    assert name is not None
    values = _numeric(df, name, "column")
    title = f"Box plot of {label(name)}" + (f" by {label(by)}" if by else "")
    traces = []
    if by:
        groups = df[by]
        for group in _groups(groups):
            mask = groups.isna() if group is None else groups.astype("object") == group
            traces.append(
                {
                    "type": "box",
                    "name": label("(missing)" if group is None else group),
                    "y": _values(values[mask.to_numpy()]),
                    "boxpoints": False,
                }
            )
    else:
        traces.append(
            {
                "type": "box",
                "name": label(name),
                "y": _values(values),
                "boxpoints": "outliers",
                "marker": {"color": ACCENT},
            }
        )
    return title, {"data": traces, "layout": _layout(title, showlegend=False)}


def _correlation(df: pd.DataFrame, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    wanted = params.get("columns") or []
    if isinstance(wanted, str):
        wanted = [wanted]
    missing = [c for c in wanted if c not in df.columns]
    if missing:
        raise AnalysisError(f"No column(s) {', '.join(map(repr, missing))} in this step's output.", "columns")
    if not wanted:
        wanted = [
            c for c in df.columns if ptypes.is_numeric_dtype(df[c].dtype) and not ptypes.is_bool_dtype(df[c].dtype)
        ][:MAX_CORRELATION_COLUMNS]
    if len(wanted) < 2:
        raise AnalysisError("A correlation heatmap needs at least two numeric columns.", "columns")
    numeric = pd.DataFrame({c: _numeric(df, c, "columns") for c in wanted[:MAX_CORRELATION_COLUMNS]})
    matrix = numeric.corr(method="pearson")
    values = [[None if not np.isfinite(v) else round(float(v), 4) for v in row] for row in matrix.to_numpy()]
    figure = correlation_heatmap({"columns": list(matrix.columns), "values": values}, "Pearson correlation")
    assert figure is not None
    return "Correlation heatmap", figure


def _line(df: pd.DataFrame, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    x = _column(df, params, "x")
    y = _column(df, params, "y")
    assert x is not None and y is not None
    agg = params.get("agg") or "mean"
    if agg not in AGGREGATIONS:
        raise AnalysisError(f"'agg' must be one of {', '.join(AGGREGATIONS)}.", "agg")
    xs = df[x]
    if not (ptypes.is_datetime64_any_dtype(xs.dtype) or ptypes.is_numeric_dtype(xs.dtype)):
        parsed = pd.to_datetime(xs, errors="coerce", format="ISO8601")
        if parsed.notna().mean() < 0.9:
            raise AnalysisError(f"Column {x!r} is neither dates nor numbers; choose a time column for 'x'.", "x")
        xs = parsed
    ys = _numeric(df, y, "y") if agg != "count" else pd.Series(1.0, index=df.index)
    frame = pd.DataFrame({"x": xs, "y": ys}).dropna(subset=["x"])
    series = frame.groupby("x", sort=True)["y"].agg(agg if agg != "count" else "count")
    if len(series) > MAX_POINTS:
        series = series.iloc[np.linspace(0, len(series) - 1, MAX_POINTS).astype(int)]
    title = f"{agg} of {label(y)} over {label(x)}"
    trace = {
        "type": "scatter",
        "mode": "lines",
        "x": _values(series.index.to_series()),
        "y": _values(series),
        "line": {"color": ACCENT},
        "name": label(y),
    }
    return title, {
        "data": [trace],
        "layout": _layout(title, xaxis={"title": {"text": label(x)}}, yaxis={"title": {"text": f"{agg}({label(y)})"}}),
    }
