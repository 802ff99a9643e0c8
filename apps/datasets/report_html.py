"""The data profile as one self-contained HTML file (plotly.js inline, no network).

Plain module: no Django imports. Every user-supplied string (column names, values, title) is HTML-escaped;
figure data travels as JSON inside ``<script type="application/json">`` with ``<``, ``>``, ``&`` and the JS line
separators written as ``\\uXXXX`` escapes, so no value can close the script element or open a comment. A
Content-Security-Policy forbids every network request from the page.
"""

from __future__ import annotations

import html
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from apps.datasets.charts import report_figures

REPORT_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; font-src data:"
)
_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2433;background:#f6f7fb}
header{background:#1d2433;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#c4cad6}main{padding:20px 28px;max-width:1280px}
section{background:#fff;border:1px solid #e1e5ee;border-radius:8px;padding:16px 20px;margin:0 0 18px}
h2{font-size:18px;margin:0 0 10px}h3{font-size:15px;margin:0 0 8px}
table{border-collapse:collapse;font-size:13px}td,th{padding:3px 10px 3px 0;text-align:left;vertical-align:top}
th{color:#5b6577;font-weight:500}.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:14px}
.sev-high{color:#b3261e;font-weight:600}.sev-medium{color:#a05a00;font-weight:600}.sev-low{color:#5b6577}
.tag{display:inline-block;border-radius:10px;padding:0 8px;background:#e8eefb;color:#2c4f9e;font-size:12px}
.note{color:#5b6577;font-size:12px}.fig{min-height:220px}details{margin:0 0 12px}summary{cursor:pointer}
code{background:#f0f2f7;padding:0 4px;border-radius:3px}
"""
_INIT = """
(function () {
  var figures = JSON.parse(document.getElementById("atelier-figures").textContent);
  function draw(el) {
    var fig = figures[el.getAttribute("data-figure")];
    if (fig && !el.hasAttribute("data-drawn")) {
      el.setAttribute("data-drawn", "1");
      Plotly.newPlot(el, fig.data, fig.layout, {responsive: true, displaylogo: false});
    }
  }
  var nodes = document.querySelectorAll("[data-figure]");
  if ("IntersectionObserver" in window) {
    var seen = new IntersectionObserver(function (entries) {
      entries.forEach(function (e) { if (e.isIntersecting) { draw(e.target); seen.unobserve(e.target); } });
    }, {rootMargin: "400px"});
    nodes.forEach(function (n) { seen.observe(n); });
  } else {
    nodes.forEach(draw);
  }
  document.querySelectorAll("details").forEach(function (d) {
    d.addEventListener("toggle", function () { d.querySelectorAll("[data-figure]").forEach(draw); });
  });
})();
"""


# The copy of plotly.js the pages use (static/vendor/plotly/README.md: the strict build, no eval).
PLOTLY_JS = Path(__file__).resolve().parents[2] / "static" / "vendor" / "plotly" / "plotly.min.js"


@lru_cache(maxsize=1)
def plotly_js() -> str:
    """The vendored plotly.js, safe to inline in a <script> element (shared by every self-contained report)."""
    return re.sub(r"</(script)", r"<\\/\1", PLOTLY_JS.read_text(encoding="utf-8"), flags=re.IGNORECASE)


def json_for_script(data: Any) -> str:
    """JSON that is safe inside a <script> element: no ``</``, ``<!--``, ``]]>`` or raw U+2028/U+2029."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return text


def escape_text(value: Any, limit: int | None = None) -> str:
    """`value` as HTML text (None as empty), cut to `limit` characters with an ellipsis."""
    text = "" if value is None else str(value)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return html.escape(text, quote=True)


_e = escape_text  # short, for the many f-strings below


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}g}" if abs(value) < 1e6 else f"{value:.4e}"
    return _e(value)


def percent(ratio: float | None) -> str:
    """A share as people read it next to its count: never "0 %" for a non-zero count nor "100 %" for less than all
    (``0.3 %``, ``<0.1 %``, ``12 %``, ``>99.9 %``)."""
    try:
        value = float(ratio) * 100  # type: ignore[arg-type]
    except (TypeError, ValueError):  # absent from an older report (None, or "" from a template)
        return "–"
    if value <= 0 or value >= 100:
        return f"{value:.0f} %"
    if value < 0.1:
        return "<0.1 %"
    if value > 99.9:
        return ">99.9 %"
    if value < 10 or value > 90:
        return f"{value:.1f} %".replace(".0 %", " %")
    return f"{value:.0f} %"


def _pct(value: float | None) -> str:
    return percent(value)


def anomaly_table(part: dict[str, Any] | None, limit: int | None = None) -> dict[str, Any] | None:
    """What the anomalous-rows table shows and the sentence above it, computed from the same rows.

    The profile keeps the ``examples`` with the highest IsolationForest scores (the most unusual rows, whether or not
    they pass the cutoff) and counts, over the whole sample, the rows that score above the cutoff. The table shows
    the top ``limit`` of the examples, each marked when it passes the cutoff; the sentence says both numbers."""
    part = part or {}
    examples = list(part.get("examples") or [])[:limit]
    if not examples:
        return None
    cutoff = part.get("score_cutoff")
    rows = [{**ex, "flagged": cutoff is not None and ex["score"] > cutoff} for ex in examples]
    shown, flagged = len(rows), int(part.get("anomaly_count") or 0)
    sample = int(part.get("sample_size") or 0)
    marked = sum(r["flagged"] for r in rows)
    head = f"The {shown} most unusual rows of a sample of {sample:,} (highest anomaly score first)."
    if flagged == 0:
        tail = f" None of the {sample:,} rows scores above the cutoff, so none is flagged as an anomaly."
    else:
        tail = (
            f" {flagged:,} of the {sample:,} rows ({percent(flagged / sample if sample else None)}) score"
            f"{'s' if flagged == 1 else ''} above the cutoff and {'is' if flagged == 1 else 'are'} flagged as"
            " anomalous;"
            f" {marked} of the {shown} rows here {'is' if marked == 1 else 'are'} (marked)."
        )
    return {
        "columns": list(examples[0]["values"]),
        "rows": rows,
        "shown": shown,
        "flagged": flagged,
        "flagged_shown": marked,
        "cutoff": cutoff,
        "caption": head + tail,
    }


def _table(rows: list[tuple[str, str]]) -> str:
    """Rows of (label, already-escaped HTML value)."""
    return "<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"


def _fig(key: str, figures: dict[str, Any]) -> str:
    return f'<div class="fig" data-figure="{_e(key)}"></div>' if key in figures else ""


# --------------------------------------------------------------------------------------------------- sections
def _overview(report: dict[str, Any], figures: dict[str, Any]) -> str:
    s = report["summary"]
    types = ", ".join(f"{_e(k)}: {v}" for k, v in sorted(s.get("column_types", {}).items()))
    rows = [
        ("Rows", _num(s["rows"])),
        ("Columns", _num(s["columns"])),
        ("Memory", f"{s['memory_bytes'] / 1e6:,.1f} MB"),
        ("Missing cells", f"{_num(s['missing_cells'])} ({_pct(s['missing_cells_ratio'])})"),
        ("Duplicate rows", f"{_num(s['duplicate_rows'])} ({_pct(s['duplicate_ratio'])})"),
        ("Column types", types),
    ]
    dupes = ""
    if s.get("duplicate_examples"):
        items = "".join(
            f"<li>row {_e(d['row'])} appears {d['count']} times: "
            f"<code>{_e(json.dumps(d['values'], ensure_ascii=False), 400)}</code></li>"
            for d in s["duplicate_examples"]
        )
        dupes = f"<h3>Duplicate row examples</h3><ul>{items}</ul>"
    return (
        f'<section id="overview"><h2>Overview</h2><div class="grid"><div>{_table(rows)}{dupes}</div>'
        f"<div>{_fig('overview.missing', figures)}</div></div></section>"
    )


def _warnings_section(report: dict[str, Any]) -> str:
    warnings = report.get("warnings") or []
    if not warnings:
        return '<section id="warnings"><h2>Warnings</h2><p>No warnings.</p></section>'
    items = "".join(
        f'<tr><td class="sev-{_e(w["severity"])}">{_e(w["severity"])}</td><td><span class="tag">{_e(w["code"])}'
        f"</span></td><td>{_e(w['column'] or '')}</td><td>{_e(w['message'])}</td></tr>"
        for w in warnings
    )
    return (
        f'<section id="warnings"><h2>Warnings ({len(warnings)})</h2><table><tr><th>severity</th><th>code</th>'
        f"<th>column</th><th>message</th></tr>{items}</table></section>"
    )


def _column_rows(col: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [
        ("Type", f"{_e(col['type'])} <span class='note'>({_e(col['pandas_dtype'])})</span>"),
        ("Missing", f"{_num(col['missing'])} ({_pct(col['missing_ratio'])})"),
        ("Empty strings", _num(col.get("empty_strings", 0))),
        ("Whitespace only", _num(col.get("whitespace_only", 0))),
        ("Invalid", _num(col.get("invalid", 0))),
        ("Distinct", f"{_num(col['distinct'])}" + ("" if col.get("stats_exact", True) else " (estimated)")),
    ]
    if col.get("invalid_examples"):
        rows.append(("Invalid examples", ", ".join(f"<code>{_e(v)}</code>" for v in col["invalid_examples"])))
    num = col.get("numeric")
    if num:
        rows += [
            (k.capitalize(), _num(num.get(k))) for k in ("min", "max", "mean", "median", "std", "skew", "kurtosis")
        ]
        rows.append(("Quantiles", ", ".join(f"{_e(k)} {_num(v)}" for k, v in (num.get("quantiles") or {}).items())))
        out = num.get("outliers") or {}
        rows.append(
            (
                "Outliers",
                f"{_num(out.get('count'))} ({_pct(out.get('ratio'))}) <span class='note'>{_e(out.get('rule'))}</span>",
            )
        )
    dt = col.get("datetime")
    if dt:
        rows += [
            ("Min", _e(dt["min"])),
            ("Max", _e(dt["max"])),
            ("Median", _e(dt["median"])),
        ]
    text = col.get("text")
    if text:
        rows.append(
            ("Length", f"{_num(text['min_length'])} to {_num(text['max_length'])}, mean {_num(text['mean_length'], 3)}")
        )
    if not col.get("stats_exact", True):
        rows.append(("Sample", f"statistics from {_num(col['stats_sample_size'])} rows"))
    return rows


def _columns_section(report: dict[str, Any], figures: dict[str, Any]) -> str:
    parts = []
    for i, col in enumerate(report.get("columns") or []):
        charts = _fig(f"column.{i}.histogram", figures) + _fig(f"column.{i}.top_values", figures)
        parts.append(
            f"<details{' open' if i < 3 else ''}><summary><b>{_e(col['name'])}</b> "
            f"<span class='tag'>{_e(col['type'])}</span></summary><div class='grid'>"
            f"<div>{_table(_column_rows(col))}</div><div>{charts}</div></div></details>"
        )
    return f'<section id="columns"><h2>Columns</h2>{"".join(parts)}</section>'


def _sample_note(part: dict[str, Any] | None) -> str:
    if not part:
        return ""
    size = part.get("sample_size")
    method = part.get("method") or part.get("note") or ""
    text = (f"Sample: {size:,} rows. " if isinstance(size, int) else "") + str(method)
    return f"<p class='note'>{_e(text)}</p>"


def _correlations_section(report: dict[str, Any], figures: dict[str, Any]) -> str:
    corr = report.get("correlations") or {}
    keys = ("correlations.pearson", "correlations.spearman", "correlations.cramers_v", "correlations.correlation_ratio")
    charts = "".join(_fig(k, figures) for k in keys)
    if not charts:
        return ""
    return (
        f'<section id="correlations"><h2>Correlations</h2>{_sample_note(corr)}<div class="grid">{charts}</div>'
        "</section>"
    )


def _target_section(report: dict[str, Any], figures: dict[str, Any]) -> str:
    target = report.get("target")
    if not target:
        return ""
    rows = [
        ("Target", _e(target["name"])),
        ("Problem type", _e(target["problem_type"])),
        ("Why", _e(target.get("guess_reason"))),
        ("Missing", _num(target.get("missing"))),
    ]
    if target.get("imbalance_ratio") is not None:
        rows.append(("Imbalance ratio", _num(target["imbalance_ratio"])))
    leak = report.get("leakage") or {}
    model = report.get("quick_model") or {}
    model_rows = []
    if model.get("score") is not None:
        model_rows = [
            ("Algorithm", _e(model["algorithm"])),
            ("Score", f"{_e(model['metric'])} {_num(model['score'])} ± {_num(model['score_std'])}"),
            ("Baseline", f"{_e(model['baseline']['description'])}: {_num(model['baseline']['score'])}"),
            ("Sample", f"{_num(model['sample_size'])} rows, {model['folds']}-fold cross-validation"),
        ]
    elif model.get("skipped"):
        model_rows = [("Quick model", _e(model["skipped"]))]
    return (
        f'<section id="target"><h2>Target: {_e(target["name"])}</h2><div class="grid"><div>{_table(rows)}</div>'
        f"<div>{_fig('target.distribution', figures)}</div></div><h3>Target leakage</h3>{_sample_note(leak)}"
        f"{_fig('leakage.scores', figures)}<h3>Quick model</h3>{_table(model_rows)}"
        f"{_fig('quick_model.importance', figures)}</section>"
    )


def _anomalies_section(report: dict[str, Any]) -> str:
    part = report.get("anomalies") or {}
    table = anomaly_table(part)
    if table is None:
        return ""
    names = table["columns"]
    head = "".join(f"<th>{_e(n)}</th>" for n in names)
    body = "".join(
        f"<tr><td>{_e(ex['row'])}</td><td>{_num(ex['score'], 3)}</td><td>{'yes' if ex['flagged'] else 'no'}</td>"
        + "".join(f"<td>{_e(ex['values'].get(n), 60)}</td>" for n in names)
        + "</tr>"
        for ex in table["rows"]
    )
    return (
        f'<section id="anomalies"><h2>Most unusual rows</h2>{_sample_note(part)}<p>{_e(table["caption"])}</p>'
        f'<div style="overflow-x:auto"><table><tr><th>row</th><th>score</th><th>anomalous</th>{head}</tr>{body}'
        "</table></div></section>"
    )


def _vif_section(report: dict[str, Any], figures: dict[str, Any]) -> str:
    part = report.get("multicollinearity") or {}
    if not part.get("columns"):
        return ""
    return (
        f'<section id="multicollinearity"><h2>Multicollinearity</h2>{_sample_note(part)}'
        f"{_fig('multicollinearity.vif', figures)}</section>"
    )


# --------------------------------------------------------------------------------------------------- entry point
def report_to_html(report: dict[str, Any], title: str) -> str:
    """A self-contained HTML page for a report from :func:`apps.datasets.profiling.profile_dataframe`."""
    figures = report_figures(report)
    body = "".join(
        [
            _overview(report, figures),
            _warnings_section(report),
            _target_section(report, figures),
            _columns_section(report, figures),
            _correlations_section(report, figures),
            _anomalies_section(report),
            _vif_section(report, figures),
        ]
    )
    generated = _e(report.get("generated_at", ""))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{REPORT_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>{_e(title)}</h1><p>Data Quality and Insights report · generated {generated}</p></header>"
        f"<main>{body}</main>"
        f'<script type="application/json" id="atelier-figures">{json_for_script(figures)}</script>'
        f"<script>{plotly_js()}</script><script>{_INIT}</script></body></html>\n"
    )
