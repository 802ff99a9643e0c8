"""Plotly figure builders for Canvas: the engine's report data in, plain `{"data", "layout"}` dicts out.
Every user-supplied string (column and class names) goes through `label`."""

from __future__ import annotations

from typing import Any

from apps.core.charts import ACCENT, DANGER, MUTED, label

Figure = dict[str, Any]


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {"text": title, "font": {"size": 14}, "x": 0.01, "xanchor": "left"},
        "margin": {"l": 60, "r": 20, "t": 48, "b": 50},
        "height": 320,
        "template": "plotly_white",
    }
    layout.update(extra)
    return layout


def best_score_figure(history: list[list[float]], objective: str) -> Figure:
    xs = [p[0] for p in history]
    ys = [p[1] for p in history]
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "line": {"shape": "hv", "color": ACCENT},
                "x": xs,
                "y": ys,
                "name": "best so far",
            }
        ],
        "layout": _layout(
            f"Best {label(objective)} so far",
            xaxis={"title": {"text": "seconds"}},
            yaxis={"title": {"text": label(objective)}},
        ),
    }


def importance_figure(importance: dict[str, Any]) -> Figure | None:
    cols = [c for c in (importance or {}).get("columns", []) if c.get("importance") is not None][:25]
    if not cols:
        return None
    cols = list(reversed(cols))
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "x": [c["importance"] for c in cols],
                "y": [label(c["column"]) for c in cols],
                "marker": {"color": ACCENT},
                "error_x": {"type": "data", "array": [c.get("std") or 0 for c in cols], "color": MUTED},
            }
        ],
        "layout": _layout(
            "Column impact (permutation importance)",
            height=max(240, 28 * len(cols) + 90),
            margin={"l": 140, "r": 20, "t": 48, "b": 50},
            xaxis={"title": {"text": "drop in the objective when shuffled"}},
        ),
    }


def confusion_figure(cm: dict[str, Any]) -> Figure | None:
    if not cm or not cm.get("matrix"):
        return None
    labels = [label(v) for v in cm["labels"]]
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
        "layout": _layout(
            "Confusion matrix",
            xaxis={"title": {"text": "predicted"}},
            yaxis={"title": {"text": "actual"}, "autorange": "reversed"},
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
            yaxis={"title": {"text": label(objective)}},
            showlegend=True,
        ),
    }
