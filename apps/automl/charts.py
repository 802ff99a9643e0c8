"""Plotly figure builders for Canvas: the engine's report data in, plain `{"data", "layout"}` dicts out.
Every user-supplied string (column and class names) goes through `label`."""

from __future__ import annotations

import math
from typing import Any

from apps.core import figures as fx
from apps.core.charts import ACCENT, DANGER, MUTED, label

Figure = dict[str, Any]

# Scores that live in [0, 1] (probabilities, AUC, accuracy, F1...), those that are at most 1 (R²), and errors
# (non-negative, unbounded above): an axis shows the data with some padding, never past a bound it cannot cross.
UNIT_METRICS = frozenset(
    {
        "roc_auc",
        "roc_auc_ovr",
        "accuracy",
        "balanced_accuracy",
        "f1",
        "precision",
        "recall",
        "f1_macro",
        "precision_macro",
        "recall_macro",
    }
)
AT_MOST_ONE = frozenset({"r2"})
ERROR_METRICS = frozenset({"rmse", "mae", "mape", "log_loss"})


def score_range(objective: str, values: list[float]) -> list[float] | None:
    """A y-axis range for ``objective`` scores: the data padded by 15 % of its spread (at least 0.02 for a unit
    score, 5 % of the value otherwise), kept inside [0, 1] (±0.01) for unit scores, at most 1.01 for R², at least 0
    for errors. None (autorange) for an unknown objective without data."""
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    unit = objective in UNIT_METRICS
    if not finite:
        return [0.0, 1.01] if unit else None
    lo, hi = min(finite), max(finite)
    pad = max(0.15 * (hi - lo), 0.02 if unit else 0.05 * max(abs(lo), abs(hi), 1e-9))
    lo, hi = lo - pad, hi + pad
    if unit:
        lo, hi = max(lo, -0.01), min(hi, 1.01)
    elif objective in AT_MOST_ONE:
        hi = min(hi, 1.01)
    elif objective in ERROR_METRICS:
        lo = max(lo, 0.0)
    return [round(lo, 6), round(hi, 6)]


def _range(objective: str, values: list[float]) -> dict[str, Any]:
    yrange = score_range(objective, values)
    return {} if yrange is None else {"range": yrange}


def _layout(title: str, *, margin: dict[str, int] | None = None, **extra: Any) -> dict[str, Any]:
    return fx.layout(title, margin=margin, **extra)


def best_score_figure(
    history: list[list[float]],
    objective: str,
    *,
    budget_s: float | None = None,
    final: bool = False,
) -> Figure:
    """The best score so far against seconds into the build. ``final``: the last point is the final model's score
    (the blend or best candidate, refitted and scored out of fold), marked as such."""
    xs = [p[0] for p in history]
    ys = [p[1] for p in history]
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "line": {"shape": "hv", "color": ACCENT},
            "x": xs,
            "y": ys,
            "name": "best so far",
            "hovertemplate": "%{x:.1f} s: %{y:.4f}<extra></extra>",
        }
    ]
    if final and history:
        data.append(
            {
                "type": "scatter",
                "mode": "markers+text",
                "x": [xs[-1]],
                "y": [ys[-1]],
                "name": "final model",
                "marker": {"color": "#2a9d6f", "size": 11, "symbol": "diamond"},
                "text": [f"final {ys[-1]:.4f}"],
                "textposition": "bottom left",
                "hovertemplate": "final model: %{y:.4f}<extra></extra>",
            }
        )
    end = max([*xs, float(budget_s or 0)], default=0.0)
    xaxis: dict[str, Any] = {"title": {"text": "seconds"}, "rangemode": "tozero"}
    if end > 0:
        xaxis["range"] = [0, round(end * 1.03, 2)]
    yaxis: dict[str, Any] = {"title": {"text": label(objective)}, **_range(objective, ys)}
    title = f"Best {label(objective)} so far" + (", ending at the final model" if final else "")
    return {"data": data, "layout": _layout(title, xaxis=xaxis, yaxis=yaxis, showlegend=False)}


def importance_figure(importance: dict[str, Any]) -> Figure | None:
    cols = [c for c in (importance or {}).get("columns", []) if c.get("importance") is not None][:25]
    if not cols:
        return None
    cols = list(reversed(cols))
    names = [label(c["column"]) for c in cols]
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "x": [c["importance"] for c in cols],
                "y": names,
                "marker": {"color": ACCENT},
                "error_x": {"type": "data", "array": [c.get("std") or 0 for c in cols], "color": MUTED},
                "hovertemplate": "%{y}: %{x:.4f}<extra></extra>",
            }
        ],
        "layout": _layout(
            "Column impact (permutation importance)",
            height=max(240, 28 * len(cols) + 90),
            margin={"l": fx.label_px(names) + 10},
            yaxis=fx.category_axis(names),
            xaxis={"title": {"text": "drop in the objective when shuffled"}},
        ),
    }


def confusion_figure(cm: dict[str, Any]) -> Figure | None:
    if not cm or not cm.get("matrix"):
        return None
    labels = [label(v) for v in cm["labels"]]
    cell = fx.heatmap_cell(len(labels), side=360, low=24, high=80)
    angle = fx.x_angle(labels, cell * len(labels))
    bottom = (fx.rotated_px(labels, angle) if angle else 30) + 30
    left = fx.label_px(labels) + 40
    head, top = fx.title("Confusion matrix")
    return {
        "data": [
            {
                "type": "heatmap",
                "z": cm["matrix"],
                "x": labels,
                "y": labels,
                "colorscale": "Blues",
                "reversescale": True,
                "texttemplate": "%{z}",
                "showscale": False,
            }
        ],
        "layout": fx.place_title(
            {
                "title": head,
                "template": "plotly_white",
                "margin": {"l": left, "r": 20, "t": top, "b": bottom},
                "width": max(320, left + cell * len(labels) + 20),
                "height": top + cell * len(labels) + bottom,
                "xaxis": fx.category_axis(labels, angle=angle, title={"text": "predicted"}),
                "yaxis": fx.category_axis(labels, title={"text": "actual"}, autorange="reversed"),
            }
        ),
    }


def roc_figure(curves: list[dict[str, Any]]) -> Figure | None:
    if not curves:
        return None
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "x": c["fpr"],
            "y": c["tpr"],
            "name": f"{label(c['class'])} (AUC {c.get('auc', 0):.3f})",
        }
        for c in curves
    ]
    data.append(
        {
            "type": "scatter",
            "mode": "lines",
            "x": [0, 1],
            "y": [0, 1],
            "name": "chance",
            "line": {"dash": "dot", "color": MUTED},
        }
    )
    return {
        "data": data,
        "layout": _layout(
            "ROC curve",
            xaxis={"title": {"text": "false positive rate"}},
            yaxis={"title": {"text": "true positive rate"}},
        ),
    }


def pr_figure(curves: list[dict[str, Any]]) -> Figure | None:
    if not curves:
        return None
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "x": c["recall"],
            "y": c["precision"],
            "name": f"{label(c['class'])} (AP {c.get('average_precision', 0):.3f})",
        }
        for c in curves
    ]
    return {
        "data": data,
        "layout": _layout(
            "Precision-recall curve", xaxis={"title": {"text": "recall"}}, yaxis={"title": {"text": "precision"}}
        ),
    }


def residuals_figure(residuals: dict[str, Any]) -> Figure | None:
    if not residuals or not residuals.get("predicted"):
        return None
    return {
        "data": [
            {
                "type": "scattergl",
                "mode": "markers",
                "x": residuals["predicted"],
                "y": residuals["residual"],
                "marker": {"color": ACCENT, "size": 5, "opacity": 0.6},
            }
        ],
        "layout": _layout(
            "Residuals", xaxis={"title": {"text": "predicted"}}, yaxis={"title": {"text": "actual − predicted"}}
        ),
    }


def error_density_figure(density: dict[str, Any]) -> Figure | None:
    if not density or not density.get("x"):
        return None
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines",
                "fill": "tozeroy",
                "x": density["x"],
                "y": density["density"],
                "line": {"color": DANGER},
            }
        ],
        "layout": _layout("Error density", xaxis={"title": {"text": "actual − predicted"}}),
    }


def analysis_figures(report: dict[str, Any] | None) -> list[tuple[str, Figure]]:
    """(id, figure) for every chart the report has data for, in page order."""
    if not report:
        return []
    a = report.get("analysis") or {}
    figures = [
        ("importance", importance_figure(a.get("permutation_importance") or {})),
        ("confusion", confusion_figure(a.get("confusion_matrix") or {})),
        ("roc", roc_figure(a.get("roc_curves") or [])),
        ("pr", pr_figure(a.get("pr_curves") or [])),
        ("residuals", residuals_figure(a.get("residuals") or {})),
        ("error-density", error_density_figure(a.get("error_density") or {})),
    ]
    return [(name, fig) for name, fig in figures if fig is not None]


TRIAL_COLOURS = {"complete": ACCENT, "pruned": MUTED, "fail": DANGER, "running": "#e0a526"}


def trials_figure(summary: dict[str, Any], objective: str) -> Figure:
    """A tuning job's trials: each finished trial's objective by trial number (pruned and failed ones marked at
    the bottom), with the best-so-far line."""
    trials = [t for t in (summary or {}).get("trials", []) if t.get("state") in TRIAL_COLOURS]
    done = [t for t in trials if t["state"] == "complete" and t.get("value") is not None]
    maximize = (summary or {}).get("direction") == "maximize"
    data: list[dict[str, Any]] = []
    if done:
        best: list[float] = []
        for t in done:
            v = float(t["value"])
            best.append(v if not best else (max(best[-1], v) if maximize else min(best[-1], v)))
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "trial",
                "x": [t["number"] for t in done],
                "y": [t["value"] for t in done],
                "marker": {"color": ACCENT, "size": 8},
                "text": [f"worker {label(t.get('worker') or '?')}" for t in done],
                "hovertemplate": "trial %{x}: %{y:.4f}<br>%{text}<extra></extra>",
            }
        )
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "best so far",
                "x": [t["number"] for t in done],
                "y": best,
                "line": {"shape": "hv", "color": "#2a9d6f"},
            }
        )
    floor = min((float(t["value"]) for t in done), default=0.0)
    for state in ("pruned", "fail", "running"):
        rows = [t for t in trials if t["state"] == state]
        if rows:
            data.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "name": state,
                    "x": [t["number"] for t in rows],
                    "y": [floor] * len(rows),
                    "marker": {"color": TRIAL_COLOURS[state], "symbol": "x", "size": 8},
                    "hovertemplate": f"trial %{{x}}: {state}<extra></extra>",
                }
            )
    return {
        "data": data,
        "layout": _layout(
            f"Trials: {label(objective)}",
            xaxis={"title": {"text": "trial"}},
            yaxis={"title": {"text": label(objective)}, **_range(objective, [float(t["value"]) for t in done])},
            showlegend=True,
        ),
    }


def why_waterfall(explanation: dict[str, Any]) -> Figure:
    """ "Why this prediction": a horizontal waterfall from the model's base value through the row's top SHAP
    contributions (``feature = value``), the rest summed into one bar, to the prediction. The bars add up exactly
    (Clarify's engine guarantees base + contributions + rest == prediction)."""
    contributions = explanation.get("contributions") or []
    names = ["base value"]
    measures = ["absolute"]
    xs = [float(explanation["expected_value"])]
    for c in contributions:
        names.append(f"{label(c['feature'])} = {label(c['value'])}")
        measures.append("relative")
        xs.append(float(c["shap"]))
    hidden = int(explanation.get("n_features", len(contributions))) - len(contributions)
    if hidden > 0:
        names.append(f"{hidden} other feature{'s' if hidden != 1 else ''}")
        measures.append("relative")
        xs.append(float(explanation.get("rest") or 0.0))
    names.append("prediction")
    measures.append("total")
    xs.append(float(explanation["prediction"]))
    output = str(explanation.get("output") or "prediction")
    return {
        "data": [
            {
                "type": "waterfall",
                "orientation": "h",
                "measure": measures,
                "y": names,
                "x": xs,
                "text": [f"{x:+.3f}" if m == "relative" else f"{x:.3f}" for x, m in zip(xs, measures, strict=True)],
                "textposition": "outside",
                "connector": {"line": {"color": MUTED, "width": 1}},
                "increasing": {"marker": {"color": DANGER}},
                "decreasing": {"marker": {"color": ACCENT}},
                "totals": {"marker": {"color": MUTED}},
                "hovertemplate": "%{y}: %{x:.4f}<extra></extra>",
            }
        ],
        "layout": _layout(
            f"Why this prediction: contributions to the {label(output)}",
            height=max(240, 30 * len(names) + 90),
            margin={"l": fx.label_px(names) + 10, "r": 60},
            yaxis=fx.category_axis(names, autorange="reversed"),
            xaxis={"title": {"text": label(output)}},
            showlegend=False,
        ),
    }
