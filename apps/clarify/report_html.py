"""A Clarify report as one self-contained HTML file: inline CSS, the metric tables with each metric's meaning, ideal,
threshold and flag, the kinds of bias, the facet breakdown, measurement bias, explanations and partial dependence;
charts drawn by plotly.js inlined in the file (no network), every number also in a table (readable without scripts).

Plain module: no Django imports. The same approach as the dataset report (apps/datasets/report_html.py): every
user-supplied string is HTML-escaped, figure data travels as JSON in a ``<script type="application/json">`` written
by its ``json_for_script`` (nothing in it can close the element), and a Content-Security-Policy forbids every request.
"""

from __future__ import annotations

import math
from typing import Any

from apps.clarify.engine.bias import BIAS_KIND_TITLES, BIAS_KINDS
from apps.datasets.report_html import REPORT_CSP, json_for_script, plotly_js
from apps.datasets.report_html import escape_text as _e

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2433;background:#f6f7fb}
header{background:#1d2433;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#c4cad6}main{padding:20px 28px;max-width:1280px}
section{background:#fff;border:1px solid #e1e5ee;border-radius:8px;padding:16px 20px;margin:0 0 18px;overflow-x:auto}
h2{font-size:18px;margin:0 0 10px}h3{font-size:15px;margin:12px 0 8px}
table{border-collapse:collapse;font-size:13px}td,th{padding:3px 12px 3px 0;text-align:left;vertical-align:top}
th{color:#5b6577;font-weight:500}tr.flagged td{background:#fdecea}.flag{color:#b3261e;font-weight:600}
.ok{color:#1e6b34}.note{color:#5b6577;font-size:12px}.fig{min-height:260px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(380px,1fr));gap:14px}
code{background:#f0f2f7;padding:0 4px;border-radius:3px}
"""
_INIT = """
(function () {
  if (typeof Plotly === "undefined") { return; }
  var figures = JSON.parse(document.getElementById("clarify-figures").textContent);
  document.querySelectorAll("[data-figure]").forEach(function (el) {
    var fig = figures[el.getAttribute("data-figure")];
    if (fig) { Plotly.newPlot(el, fig.data, fig.layout, {responsive: true, displaylogo: false}); }
  });
})();
"""


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        return f"{value:.{digits}g}"
    return _e(value)


def _finite(value: Any) -> float | None:
    return (
        float(value)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        else None
    )


def _table(head: list[str], rows: list[list[str]], classes: list[str] | None = None) -> str:
    if not rows:
        return "<p class='note'>Nothing to show.</p>"
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join(
        f"<tr{' class=' + repr(classes[i]) if classes and classes[i] else ''}>"
        + "".join(f"<td>{c}</td>" for c in row)
        + "</tr>"
        for i, row in enumerate(rows)
    )
    return f"<table><tr>{th}</tr>{body}</table>"


def _fig(key: str, figures: dict[str, Any]) -> str:
    return f'<div class="fig" data-figure="{_e(key)}"></div>' if key in figures else ""


def _bar(title: str, x: list[Any], series: dict[str, list[Any]], orientation: str = "v") -> dict[str, Any]:
    data = []
    for name, values in series.items():
        clean = [_finite(v) for v in values]
        trace: dict[str, Any] = {"type": "bar", "name": name, "orientation": orientation}
        trace.update(
            {"x": clean, "y": [str(v) for v in x]} if orientation == "h" else {"x": [str(v) for v in x], "y": clean}
        )
        data.append(trace)
    return {"data": data, "layout": {"title": {"text": title}, "barmode": "group", "height": 300, "margin": {"l": 120}}}


# --- sections ------------------------------------------------------------------------------------------------


def _summary(config: dict[str, Any], details: dict[str, Any], model: str, flags: list[dict[str, Any]]) -> str:
    label_rule = (
        f"value above {_num(config.get('label_threshold'))}"
        if config.get("label_threshold") is not None
        else ", ".join(_e(v) for v in config.get("positive_label_values") or [])
    )
    facets = "; ".join(
        _e(f["name"])
        + (
            f" (sensitive: above {_num(f['threshold'])})"
            if f.get("threshold") is not None
            else (f" (sensitive: {', '.join(_e(v) for v in f['values'])})" if f.get("values") else " (each value)")
        )
        for f in config.get("facets") or []
    )
    rows = [
        ["Label", f"<code>{_e(config.get('label'))}</code>, positive: {label_rule}"],
        ["Facets", facets],
        ["Group variable", _e(config.get("group") or "–")],
        ["Trusted reference", _e(config.get("reference") or "–")],
        ["Model", _e(model or "none (pre-training metrics only)")],
    ]
    sample = details.get("sample") or {}
    data = sample.get("data") or {}
    if data:
        text = f"{_num(data.get('rows'))} of {_num(data.get('rows_total'))} rows"
        if data.get("sampled"):
            text += f" (a seeded uniform sample, seed {data.get('seed')}, cap {_num(data.get('cap'))})"
        rows.append(["Rows for pre-training metrics", text])
    m = sample.get("model") or {}
    if m:
        text = f"{_num(m.get('rows'))} of {_num(m.get('rows_total'))} rows"
        if m.get("sampled"):
            text += f" (a seeded uniform sample, seed {m.get('seed')}, cap {_num(m.get('cap'))})"
        rows.append(["Rows for the model part", text])
    info = details.get("model") or {}
    if info:
        rows.append(["Predicted label", _e(info.get("predicted_label_rule"))])
        rows.append(["Accuracy (positive vs negative)", _num(info.get("accuracy"))])
    flagged = sum(1 for f in flags if f["flagged"])
    rows.append(
        ["Flags", f"<span class='{'flag' if flagged else 'ok'}'>{flagged} of {len(flags)} metric values flagged</span>"]
    )
    for key in ("note", "reweigh_note"):
        if details.get(key):
            rows.append(["Note", _e(details[key])])
    return "<section id='summary'><h2>Summary</h2>" + _table(["", ""], rows) + "</section>"


def _metrics(stage: str, title: str, flags: list[dict[str, Any]]) -> str:
    rows, classes = [], []
    for f in flags:
        if f["stage"] != stage:
            continue
        value = _num(f["value"]) if f["value"] is not None else f"– <span class='note'>{_e(f.get('error'))}</span>"
        low, high = (f.get("range") or [None, None]) + [None, None][len(f.get("range") or []) :]
        rows.append(
            [
                _e(f["facet"]),
                _e(f["value_or_threshold"]),
                f"<b>{_e(f['name'])}</b><br><span class='note'>{_e(f.get('description'))}</span>",
                value,
                _num(f["ideal"]),
                f"{_num(low)} to {_num(high)}",
                _num(f["threshold"]),
                "<span class='flag'>flagged</span>" if f["flagged"] else "<span class='ok'>ok</span>",
                _e(f.get("meaning")),
                _e(", ".join(f.get("bias_kinds") or [])),
            ]
        )
        classes.append("flagged" if f["flagged"] else "")
    if not rows:
        return ""
    head = [
        "facet",
        "sensitive group",
        "metric",
        "value",
        "ideal",
        "range",
        "threshold",
        "flag",
        "meaning",
        "can reveal",
    ]
    return f"<section id='{stage}'><h2>{_e(title)}</h2>{_table(head, rows, classes)}</section>"


def _ft_notes(analysis: dict[str, Any]) -> str:
    """How FlipTest read the features (text one-hot encoded, wide columns left out) and on how many rows."""
    notes = []
    for facet, groups in ((analysis.get("post_training_bias_metrics") or {}).get("facets") or {}).items():
        for group in groups:
            for metric in group.get("metrics") or []:
                if metric.get("name") != "FT":
                    continue
                encoding = metric.get("feature_encoding") or {}
                sample = metric.get("sample") or {}
                text = str(encoding.get("description") or "Every feature is numeric: FT reads them as they are.")
                if sample:
                    rows, of = _num(sample.get("rows")), _num(sample.get("of"))
                    text += f" FT ran on {rows} of {of} rows (seed {sample.get('seed')})."
                notes.append(
                    f"<p class='note'>FlipTest, {_e(facet)} = {_e(group.get('value_or_threshold'))}: {_e(text)}</p>"
                )
    return "".join(dict.fromkeys(notes))


def _breakdown_rows(breakdown: Any) -> list[tuple[str, dict[str, Any]]]:
    """(facet, entry) for the engine's chart data, whether grouped by facet as a list or as a mapping."""
    out: list[tuple[str, dict[str, Any]]] = []
    if isinstance(breakdown, dict):
        facets = breakdown.get("facets", breakdown)
        for facet, entries in (facets or {}).items():
            if isinstance(entries, dict):
                entries = (
                    entries.get("values")
                    or entries.get("groups")
                    or [{"value": k, **v} for k, v in entries.items() if isinstance(v, dict)]
                )
            for entry in entries or []:
                if isinstance(entry, dict):
                    out.append((str(facet), entry))
    return out


def _breakdown(details: dict[str, Any], figures: dict[str, Any]) -> str:
    rows_data = _breakdown_rows(details.get("breakdown_predicted") or details.get("breakdown"))
    if not rows_data:
        return ""
    rows, cms = [], []
    by_facet: dict[str, list[dict[str, Any]]] = {}
    for facet, entry in rows_data:
        value = entry.get("value", entry.get("value_or_threshold"))
        rows.append(
            [
                _e(facet),
                _e(value),
                _num(entry.get("n")),
                _num(entry.get("label_positive_rate")),
                _num(entry.get("predicted_positive_rate")),
            ]
        )
        by_facet.setdefault(facet, []).append({**entry, "value": value})
        cm = entry.get("confusion_matrix")
        if isinstance(cm, list) and len(cm) == 2:
            cms.append([_e(facet), _e(value), _num(cm[0][0]), _num(cm[0][1]), _num(cm[1][0]), _num(cm[1][1])])
    charts = ""
    for i, (facet, entries) in enumerate(by_facet.items()):
        series = {"label positive rate": [e.get("label_positive_rate") for e in entries]}
        if any(e.get("predicted_positive_rate") is not None for e in entries):
            series["predicted positive rate"] = [e.get("predicted_positive_rate") for e in entries]
        figures[f"breakdown.{i}"] = _bar(f"Rates per value of {facet}", [e["value"] for e in entries], series)
        charts += _fig(f"breakdown.{i}", figures)
    out = (
        "<section id='breakdown'><h2>Facets: label and prediction rates</h2>"
        + _table(["facet", "value", "rows", "label positive rate", "predicted positive rate"], rows)
        + f"<div class='grid'>{charts}</div>"
    )
    if cms:
        out += "<h3>Confusion matrices per facet value</h3>" + _table(
            ["facet", "value", "true negatives", "false positives", "false negatives", "true positives"], cms
        )
    return out + "</section>"


def _disagreement_table(part: dict[str, Any], what: str) -> str:
    rows = []
    for facet, groups in (part.get("facets") or {}).items():
        for g in groups:
            rows.append(
                [
                    _e(facet),
                    _e(g.get("value_or_threshold")),
                    f"{_num(g.get('label_positive_rate_d'))} / {_num(g.get('label_positive_rate_a'))}",
                    f"{_num(g.get('reference_positive_rate_d'))} / {_num(g.get('reference_positive_rate_a'))}",
                    f"{_num(g.get('disagreement_d'))} / {_num(g.get('disagreement_a'))}",
                    _num(g.get("difference")),
                ]
            )
    head = [
        "facet",
        "sensitive group d",
        f"{what} positive rate d / a",
        "reference positive rate d / a",
        f"{what} error rate d / a",
        "difference (d − a)",
    ]
    return _table(head, rows)


def _measurement(details: dict[str, Any]) -> str:
    labels, predictions = details.get("measurement"), details.get("measurement_predictions")
    if not labels:
        return ""
    out = (
        "<section id='measurement'><h2>Measurement bias (against the trusted reference)</h2>"
        f"<p class='note'>The label's error rate is the share of rows where it disagrees with the reference column "
        f"{_e(labels.get('reference'))}. A difference between the sensitive group d and the rest a means the label "
        "was recorded worse for one of them.</p>" + _disagreement_table(labels, "label")
    )
    if predictions:
        out += "<h3>The model's predictions against the reference</h3>" + _disagreement_table(predictions, "prediction")
    return out + "</section>"


def _explanations(details: dict[str, Any], figures: dict[str, Any]) -> str:
    shap = details.get("shap") or {}
    mean_abs = shap.get("mean_abs") or {}
    if not mean_abs:
        return ""
    ranked = sorted(mean_abs, key=lambda f: -(_finite(mean_abs[f]) or 0.0))
    spread = shap.get("spread") or {}
    rows = [
        [_e(f), _num(mean_abs[f]), _num((spread.get(f) or {}).get("p10")), _num((spread.get(f) or {}).get("p90"))]
        for f in ranked
    ]
    top = ranked[:20][::-1]
    figures["shap.bar"] = _bar("Mean |SHAP value|", top, {"mean |SHAP|": [mean_abs[f] for f in top]}, orientation="h")
    text = (
        f"Method: {_e(shap.get('method'))} on {_num(shap.get('n_rows'))} rows; explains {_e(shap.get('output'))}; "
        f"expected value {_num(shap.get('expected_value'))}"
        + (f"; background {_num(shap.get('background_size'))} rows" if shap.get("background_size") else "")
        + (f"; {_num(shap.get('nsamples'))} samples per row" if shap.get("nsamples") else "")
        + "."
    )
    out = (
        "<section id='explanations'><h2>Explanations (SHAP)</h2>"
        f"<p class='note'>{text}</p>{_fig('shap.bar', figures)}"
        + _table(["feature", "mean |SHAP|", "p10", "p90"], rows)
    )
    pdp = (details.get("pdp") or {}).get("pdp") or []
    charts = ""
    for i, p in enumerate(pdp):
        key = f"pdp.{i}"
        figures[key] = {
            "data": [
                {
                    "type": "scatter" if p.get("data_type") == "numerical" else "bar",
                    "x": [str(v) if p.get("data_type") != "numerical" else v for v in p.get("feature_values") or []],
                    "y": [_finite(v) for v in p.get("model_predictions") or []],
                    "name": p.get("feature_name"),
                }
            ],
            "layout": {"title": {"text": f"Partial dependence: {p.get('feature_name')}"}, "height": 280},
        }
        charts += _fig(key, figures)
    if charts:
        out += f"<h3>Partial dependence</h3><div class='grid'>{charts}</div>"
        out += "".join(
            f"<h3>{_e(p.get('feature_name'))}</h3>"
            + _table(
                ["value", "mean prediction"],
                [
                    [_e(v), _num(y)]
                    for v, y in zip(p.get("feature_values") or [], p.get("model_predictions") or [], strict=False)
                ],
            )
            for p in pdp
        )
    for pair in (details.get("pdp") or {}).get("interactions") or []:
        a, b = (str(f) for f in pair.get("features") or ["", ""])
        head = [f"{a} \\ {b}", *(str(v) for v in pair.get("values_b") or [])]
        rows = [
            [f"<b>{_e(va)}</b>", *(_num(p) for p in preds)]
            for va, preds in zip(pair.get("values_a") or [], pair.get("predictions") or [], strict=False)
        ]
        out += f"<h3>Interaction: {_e(a)} × {_e(b)} (mean prediction)</h3>" + _table(head, rows)
    return out + "</section>"


def _kinds() -> str:
    rows = [[f"<b>{_e(title)}</b>", _e(BIAS_KINDS[key])] for key, title in BIAS_KIND_TITLES.items()]
    return (
        "<section id='bias-kinds'><h2>What kind of bias</h2>"
        + _table(["kind", "how this report sees it"], rows)
        + "</section>"
    )


def _compare(compare: dict[str, Any] | None, mitigation: str) -> str:
    if not compare:
        return ""
    acc = compare.get("accuracy") or {}
    rows = [
        [
            _e(m["name"]),
            _e(m["facet"]),
            _e(m["value_or_threshold"]),
            _num(m["before"]),
            _num(m["after"]),
            _num(m["ideal"]),
            "toward the ideal" if m["toward_ideal"] else ("away from the ideal" if m["toward_ideal"] is False else "–"),
        ]
        for m in compare.get("metrics") or []
    ]
    return (
        f"<section id='compare'><h2>Before / after: {_e(mitigation)}</h2>"
        f"<p>Accuracy before {_num(acc.get('before'))}, after {_num(acc.get('after'))} "
        f"(change {_num(acc.get('change'))}).</p>"
        + (f"<p class='note'>{_e(compare['note'])}</p>" if compare.get("note") else "")
        + _table(["metric", "facet", "group", "before", "after", "ideal", "moved"], rows)
        + "</section>"
    )


def report_to_html(
    *,
    title: str,
    dataset: str,
    model: str,
    created_at: str,
    config: dict[str, Any],
    analysis: dict[str, Any],
    details: dict[str, Any],
    flags: list[dict[str, Any]],
    compare: dict[str, Any] | None = None,
    mitigation: str = "",
) -> str:
    """The whole page. `analysis` in SageMaker's analysis.json shape (numbers, ±inf as floats), `flags` from
    apps.clarify.services.report_flags, `details` as the job stored them."""
    figures: dict[str, Any] = {}
    body = "".join(
        [
            _summary(config, details, model, flags),
            _compare(compare, mitigation),
            _metrics("pre_training", "Pre-training bias metrics (the data)", flags),
            _metrics("post_training", "Post-training bias metrics (the model's predictions)", flags),
            _ft_notes(analysis),
            _kinds(),
            _breakdown(details, figures),
            _measurement(details),
            _explanations(details, figures),
        ]
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{REPORT_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>{_e(title)}</h1><p>Clarify bias report · {_e(dataset)}"
        f"{' · ' + _e(model) if model else ''} · {_e(created_at)} · analysis.json version "
        f"{_e(analysis.get('version'))}</p></header><main>{body}</main>"
        f'<script type="application/json" id="clarify-figures">{json_for_script(figures)}</script>'
        f"<script>{plotly_js()}</script><script>{_INIT}</script></body></html>\n"
    )
