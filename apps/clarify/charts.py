"""Plotly figures of a Clarify report: label and prediction positive rates per facet value, a confusion matrix per
facet value, SHAP bar (mean |SHAP| with its spread) and beeswarm, partial dependence lines and 2-feature heatmaps.
Plain module (no Django, no plotly import): the report's `details` in, `{"data", "layout"}` dicts out. Every
user-supplied string (column names, values) goes through `label`."""

from __future__ import annotations

import math
from typing import Any

from apps.core.charts import ACCENT, DANGER, MUTED, PALETTE, label
from apps.core.figures import short

Figure = dict[str, Any]
BAR_ROWS = 15  # features in the SHAP bar chart and beeswarm
CONFUSION_MAX = 12  # confusion matrices per facet (its commonest values come first)


def _layout(title: str, *, height: int = 380, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {"text": title, "font": {"size": 14}, "x": 0.01, "xanchor": "left", "y": 0.98, "yanchor": "top"},
        "margin": {"l": 60, "r": 20, "t": 72, "b": 55},
        "height": height,
        "template": "plotly_white",
    }
    layout.update(extra)
    return layout


def _legend_top() -> dict[str, Any]:
    return {"orientation": "h", "x": 0, "xanchor": "left", "y": 1.02, "yanchor": "bottom"}


def _num(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


# --- reading the details (the job's chart data) ---------------------------------------------------------------


def breakdown(details: dict[str, Any] | None) -> list[tuple[str, list[dict[str, Any]]]]:
    """(facet column, its rows) from the bias engine's facet_breakdown (with predictions when the report has a
    model): each row {value, sensitive, n, label_rate, predicted_rate, confusion}."""
    d = details or {}
    block = d.get("breakdown_predicted") or d.get("breakdown") or {}
    out = []
    for facet, rows in (block.get("facets") or {}).items():
        parsed = [
            {
                "value": str(r.get("value")),
                "sensitive": bool(r.get("sensitive")),
                "n": r.get("n"),
                "label_rate": _num(r.get("label_positive_rate")),
                "predicted_rate": _num(r.get("predicted_positive_rate")),
                "confusion": r.get("confusion_matrix"),
            }
            for r in rows or []
        ]
        if parsed:
            out.append((str(facet), parsed))
    return out


def global_shap(details: dict[str, Any] | None) -> dict[str, Any]:
    """explain_global's result (mean |SHAP|, spread, beeswarm sample, method)."""
    return (details or {}).get("shap") or {}


def pdp(details: dict[str, Any] | None) -> dict[str, Any]:
    """partial_dependence's result (one curve per feature, 2-feature interactions)."""
    return (details or {}).get("pdp") or {}


# --- rates and confusion matrices ---------------------------------------------------------------------------


def rates_figure(facet: str, rows: list[dict[str, Any]]) -> Figure | None:
    """Grouped bars per facet value: the share of positive labels and, with a model, of positive predictions."""
    if not rows:
        return None
    x = [label(r["value"]) for r in rows]
    ticks = [short(v) for v in x]
    counts = [r["n"] for r in rows]
    edge = [2 if r["sensitive"] else 0 for r in rows]  # the sensitive group's bars are outlined
    data = [
        {
            "type": "bar",
            "name": "positive labels",
            "x": x,
            "y": [r["label_rate"] for r in rows],
            "customdata": counts,
            "marker": {"color": MUTED, "line": {"color": DANGER, "width": edge}},
            "hovertemplate": "%{x}: %{y:.1%} positive labels (%{customdata:,} rows)<extra></extra>",
        }
    ]
    if any(r["predicted_rate"] is not None for r in rows):
        data.append(
            {
                "type": "bar",
                "name": "positive predictions",
                "x": x,
                "y": [r["predicted_rate"] for r in rows],
                "customdata": counts,
                "marker": {"color": ACCENT, "line": {"color": DANGER, "width": edge}},
                "hovertemplate": "%{x}: %{y:.1%} positive predictions (%{customdata:,} rows)<extra></extra>",
            }
        )
    return {
        "data": data,
        "layout": _layout(
            f"Positive rates by {label(facet)} (sensitive group outlined)",
            legend=_legend_top(),
            barmode="group",
            xaxis={"type": "category", "tickvals": x, "ticktext": ticks, "title": {"text": label(facet)}},
            yaxis={"tickformat": ".0%", "rangemode": "tozero", "title": {"text": "share of rows"}},
        ),
    }


def confusion_figure(facet: str, row: dict[str, Any]) -> Figure | None:
    """A 2x2 confusion matrix of one facet value: rows the true label, columns the prediction."""
    matrix = row.get("confusion")
    if not matrix or len(matrix) != 2 or any(len(r) != 2 for r in matrix):
        return None
    z = [[int(v) for v in r] for r in matrix]
    total = sum(sum(r) for r in z) or 1
    text = [[f"{v:,}<br>{v / total:.0%}" for v in r] for r in z]
    names = ["negative", "positive"]
    return {
        "data": [
            {
                "type": "heatmap",
                "z": z,
                "x": [f"predicted {n}" for n in names],
                "y": [f"actual {n}" for n in names],
                "text": text,
                "texttemplate": "%{text}",
                "colorscale": [[0, "#f4f6fa"], [1, ACCENT]],
                "showscale": False,
                "hovertemplate": "%{y}, %{x}: %{z:,} rows<extra></extra>",
            }
        ],
        "layout": _layout(
            f"{label(facet)} = {label(short(row['value'], 24))}: confusion matrix",
            height=300,
            margin={"l": 110, "r": 20, "t": 60, "b": 40},
            yaxis={"autorange": "reversed"},
        ),
    }


# --- SHAP -------------------------------------------------------------------------------------------------------


def shap_bar_figure(result: dict[str, Any]) -> Figure | None:
    """Mean |SHAP| per feature, the largest on top, with the 10th-90th percentile spread of the SHAP values."""
    mean_abs = result.get("mean_abs") or {}
    if not mean_abs:
        return None
    top = sorted(mean_abs.items(), key=lambda kv: -float(kv[1]))[:BAR_ROWS][::-1]
    spread = result.get("spread") or {}
    features = [label(f) for f, _ in top]
    data: list[dict[str, Any]] = [
        {
            "type": "bar",
            "orientation": "h",
            "name": "mean |SHAP|",
            "y": features,
            "x": [float(v) for _, v in top],
            "marker": {"color": ACCENT},
            "hovertemplate": "%{y}: mean |SHAP| %{x:.4g}<extra></extra>",
        }
    ]
    lows = [_num((spread.get(f) or {}).get("p10")) for f, _ in top]
    highs = [_num((spread.get(f) or {}).get("p90")) for f, _ in top]
    spans = list(zip(lows, highs, strict=True))
    if any(v is not None for v in lows + highs):
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "SHAP 10th–90th percentile",
                "y": features,
                "x": [(lo + hi) / 2 if lo is not None and hi is not None else None for lo, hi in spans],
                "error_x": {
                    "type": "data",
                    "symmetric": False,
                    "array": [(hi - lo) / 2 if lo is not None and hi is not None else 0 for lo, hi in spans],
                    "arrayminus": [(hi - lo) / 2 if lo is not None and hi is not None else 0 for lo, hi in spans],
                    "color": DANGER,
                },
                "marker": {"color": DANGER, "size": 4},
                "customdata": [[lo, hi] for lo, hi in spans],
                "hovertemplate": "%{y}: SHAP from %{customdata[0]:.4g} to %{customdata[1]:.4g}<extra></extra>",
            }
        )
    width = max(len(short(f)) for f in features)
    output = result.get("output") or "the prediction"
    return {
        "data": data,
        "layout": _layout(
            f"Feature importance (mean |SHAP| on {label(output)})",
            height=max(300, 110 + 24 * len(top)),
            legend=_legend_top(),
            margin={"l": min(200, 20 + 7 * width), "r": 20, "t": 90, "b": 50},
            xaxis={"title": {"text": "SHAP value"}, "zeroline": True},
            yaxis={"tickvals": features, "ticktext": [short(f) for f in features]},
        ),
    }


def beeswarm_figure(result: dict[str, Any]) -> Figure | None:
    """Each row's SHAP value per feature (one dot each), coloured by the feature's value from low to high."""
    swarm = result.get("beeswarm") or {}
    features, shap_rows, value_rows = swarm.get("features") or [], swarm.get("shap") or [], swarm.get("values") or []
    if not features or not shap_rows:
        return None
    mean_abs = result.get("mean_abs") or {}
    order = sorted(range(len(features)), key=lambda i: -float(mean_abs.get(features[i], 0)))[:BAR_ROWS][::-1]
    data = []
    for pos, i in enumerate(order):
        xs = [_num(r[i]) for r in shap_rows]
        raw = [r[i] if i < len(r) else None for r in value_rows] if value_rows else []
        numeric = [_num(v) for v in raw]
        finite = [v for v in numeric if v is not None]
        lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
        colour = [((v - lo) / (hi - lo) if hi > lo else 0.5) if v is not None else 0.5 for v in numeric] or 0.5
        jitter = [pos + ((k * 0.6180339) % 1 - 0.5) * 0.5 for k in range(len(xs))]
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": label(features[i]),
                "x": xs,
                "y": jitter,
                "text": [label(v) for v in raw] if raw else None,
                "marker": {
                    "size": 4,
                    "opacity": 0.7,
                    "color": colour,
                    "colorscale": [[0, ACCENT], [1, DANGER]],
                    "cmin": 0,
                    "cmax": 1,
                    "showscale": pos == len(order) - 1,
                    "colorbar": {
                        "title": {"text": "feature value"},
                        "tickvals": [0, 1],
                        "ticktext": ["low", "high"],
                        "thickness": 10,
                    },
                },
                "showlegend": False,
                "hovertemplate": f"{label(features[i])} = %{{text}}<br>SHAP %{{x:.4g}}<extra></extra>",
            }
        )
    names = [label(features[i]) for i in order]
    return {
        "data": data,
        "layout": _layout(
            f"SHAP values of {len(shap_rows):,} rows",
            height=max(300, 110 + 28 * len(order)),
            margin={"l": min(200, 20 + 7 * max(len(short(n)) for n in names)), "r": 20, "t": 72, "b": 50},
            xaxis={"title": {"text": "SHAP value (effect on the output)"}, "zeroline": True},
            yaxis={
                "tickvals": list(range(len(order))),
                "ticktext": [short(n) for n in names],
                "range": [-0.6, len(order) - 0.4],
                "showgrid": False,
            },
        ),
    }


# --- partial dependence ------------------------------------------------------------------------------------------


def pdp_figure(entry: dict[str, Any], index: int) -> Figure | None:
    xs, ys = entry.get("feature_values") or [], entry.get("model_predictions") or []
    name = label(entry.get("feature_name") or entry.get("feature") or "")
    if not xs or len(xs) != len(ys):
        return None
    categorical = entry.get("data_type") == "categorical"
    trace: dict[str, Any] = {
        "x": [label(v) for v in xs] if categorical else xs,
        "y": ys,
        "marker": {"color": PALETTE[index % len(PALETTE)]},
        "hovertemplate": f"{name} = %{{x}}<br>average prediction %{{y:.4g}}<extra></extra>",
    }
    trace.update({"type": "bar"} if categorical else {"type": "scatter", "mode": "lines+markers"})
    xaxis: dict[str, Any] = {"title": {"text": name}}
    if categorical:
        xaxis.update(type="category", tickvals=trace["x"], ticktext=[short(v) for v in trace["x"]])
    return {
        "data": [trace],
        "layout": _layout(
            f"Partial dependence on {short(name, 30)}",
            height=320,
            xaxis=xaxis,
            yaxis={"title": {"text": "average prediction"}},
        ),
    }


def interaction_figure(entry: dict[str, Any]) -> Figure | None:
    a, b = [*(entry.get("features") or []), "", ""][:2]
    z = entry.get("predictions") or []
    if not z:
        return None
    return {
        "data": [
            {
                "type": "heatmap",
                "x": [label(v) for v in entry.get("values_b") or []],
                "y": [label(v) for v in entry.get("values_a") or []],
                "z": z,
                "colorscale": [[0, "#f4f6fa"], [1, ACCENT]],
                "colorbar": {"title": {"text": "prediction"}, "thickness": 10},
                "hovertemplate": f"{label(a)} = %{{y}}<br>{label(b)} = %{{x}}<br>average prediction %{{z:.4g}}"
                "<extra></extra>",
            }
        ],
        "layout": _layout(
            f"Partial dependence on {short(label(a), 20)} and {short(label(b), 20)}",
            height=380,
            xaxis={"title": {"text": label(b)}, "type": "category"},
            yaxis={"title": {"text": label(a)}, "type": "category"},
        ),
    }


# --- the page ------------------------------------------------------------------------------------------------------


def report_figures(analysis: dict[str, Any] | None, details: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The report page's chart sections in order: [{"id", "title", "figures": [(id, figure, wide)]}]."""
    sections: list[dict[str, Any]] = []
    rates, confusions = [], []
    for i, (facet, rows) in enumerate(breakdown(details)):
        fig = rates_figure(facet, rows)
        if fig:
            rates.append((f"rates-{i}", fig, False))
        for j, row in enumerate(rows[:CONFUSION_MAX]):
            cm = confusion_figure(facet, row)
            if cm:
                confusions.append((f"confusion-{i}-{j}", cm, False))
    if rates:
        sections.append({"id": "rates", "title": "Positive rates per facet value", "figures": rates})
    if confusions:
        sections.append({"id": "confusion", "title": "Confusion matrices per facet value", "figures": confusions})
    g = global_shap(details)
    shap_figs = [
        (n, f, True) for n, f in (("shap-bar", shap_bar_figure(g)), ("shap-beeswarm", beeswarm_figure(g))) if f
    ]
    if shap_figs:
        sections.append({"id": "shap", "title": "Feature importance (SHAP)", "figures": shap_figs})
    p = pdp(details)
    pdp_figs = [(f"pdp-{i}", f, False) for i, e in enumerate(p.get("pdp") or []) if (f := pdp_figure(e, i))]
    pdp_figs += [
        (f"pdp-pair-{i}", f, True) for i, e in enumerate(p.get("interactions") or []) if (f := interaction_figure(e))
    ]
    if pdp_figs:
        sections.append({"id": "pdp", "title": "Partial dependence", "figures": pdp_figs})
    return sections


def explanation_notes(details: dict[str, Any] | None) -> dict[str, Any]:
    """How the SHAP values were computed (method, background, sample budget, rows), for the text under the charts."""
    g = global_shap(details)
    if not g:
        return {}
    return {
        "method": g.get("method"),
        "output": g.get("output"),
        "expected_value": _num(g.get("expected_value")),
        "n_rows": g.get("n_rows"),
        "background_size": g.get("background_size"),
        "nsamples": g.get("nsamples"),
    }
