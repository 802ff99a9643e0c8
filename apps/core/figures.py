"""Sizing rules shared by every plotly figure builder: charts sized to their content, every tick label shown.

Plain module: no Django, no plotly import. Figures are ``{"data": [...], "layout": {...}}`` dicts. The rules:

* a category axis names every category (``tickvals`` = all of them); a long name is shown shortened with an
  ellipsis (``ticktext``) and in full on hover (the trace keeps the full name as its x/y value);
* margins are computed from the longest shown label, so labels are not cut and the plot area is not squashed;
* a title longer than fits a phone-sized chart is wrapped on word boundaries and the top margin grows with it;
* a heatmap is square cells sized to its column count (a fixed ``width``/``height``): its card scrolls when the
  page is narrower than the heatmap, instead of the heatmap shrinking to a sliver.

Text passed in must already be safe plotly text (see ``apps.datasets.charts.label``).
"""

from __future__ import annotations

import math
from typing import Any

TICK_CHARS = 18  # the longest tick label shown in full; longer ones are shortened with "…"
TITLE_CHARS = 44  # a title line fits a 390 px phone's chart at 14 px
CHAR_PX = 7.0  # average width of a 12 px tick label character
TITLE_LINE_PX = 20
PHONE_PLOT_PX = 260  # the plot area of a chart card on a 390 px phone
WIDE_PX = 480  # a figure wider than this gets a whole row of its grid


def short(text: str, limit: int = TICK_CHARS) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis in the middle, so names that differ only at the end
    (``customer_spend_2023`` / ``customer_spend_2024``) stay apart; the full text goes in the hover."""
    if len(text) <= limit:
        return text
    tail = (limit - 1) // 2
    head, end = text[: limit - 1 - tail], text[len(text) - tail :]
    amp = head.rfind("&")
    if amp >= 0 and ";" not in head[amp:]:  # never cut an HTML entity (labels are escaped) in half
        head = head[:amp]
    semi = end.find(";")
    if semi >= 0 and "&" not in end[:semi]:
        end = end[semi + 1 :]
    return head + "…" + end


def wrap_title(text: str, width: int = TITLE_CHARS) -> tuple[str, int]:
    """``text`` wrapped on spaces into lines of at most ``width`` characters (``<br>`` between), and the line count."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "<br>".join(lines), max(1, len(lines))


def title(text: str) -> tuple[dict[str, Any], int]:
    """A plotly title dict that wraps, and the top margin it needs."""
    wrapped, lines = wrap_title(text)
    # Plotly centres a multi-line title on its anchor: `place_title` puts that centre in the middle of the top margin.
    head = {"text": wrapped, "font": {"size": 14}, "x": 0.01, "xanchor": "left", "yref": "container"}
    return head, 24 + TITLE_LINE_PX * lines


def place_title(layout: dict[str, Any]) -> dict[str, Any]:
    """Centre the title in the top margin (call once the layout's height and margins are final)."""
    title = layout.get("title")
    if isinstance(title, dict) and layout.get("height"):
        title.update(y=round(1 - layout["margin"]["t"] / 2 / layout["height"], 4), yanchor="middle")
    return layout


def layout(
    title_text: str,
    *,
    height: int = 320,
    margin: dict[str, int] | None = None,
    legend_room: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    """A figure's layout: a title that wraps (the top margin grows with it, and the plot keeps its `height` below
    it), margins big enough for labels, the white template; `extra` goes in as plotly layout keys. `legend_room`: px
    under the title for a legend placed above the plot (y 1.02, anchored at its bottom)."""
    head, top = title(title_text)
    out: dict[str, Any] = {
        "title": head,
        "margin": {"l": 60, "r": 20, "b": 50, **(margin or {}), "t": top + legend_room},
        "height": height,
        "template": "plotly_white",
    }
    out.update(extra)
    out["height"] += top + legend_room - 44  # the room the title takes is not taken from the plot
    place_title(out)
    if legend_room:  # the title in the top part of the margin, the legend under it
        out["title"].update(y=round(1 - top / 2 / out["height"], 4))
    return out


def label_px(names: list[str], limit: int = TICK_CHARS) -> int:
    """The width in px of the longest tick label once shortened."""
    return int(CHAR_PX * max((len(short(n, limit)) for n in names), default=1)) + 12


def category_axis(names: list[str], *, angle: int | None = None, **extra: Any) -> dict[str, Any]:
    """A category axis that shows every name (shortened past ``TICK_CHARS``)."""
    axis: dict[str, Any] = {
        "type": "category",
        "tickmode": "array",
        "tickvals": list(names),
        "ticktext": [short(n) for n in names],
        "automargin": True,
    }
    if angle is not None:
        axis["tickangle"] = angle
    axis.update(extra)
    return axis


def rotated_px(names: list[str], angle: int) -> int:
    """Vertical room for x tick labels drawn at ``angle`` degrees."""
    a = math.radians(angle)
    return int(label_px(names) * abs(math.sin(a)) + 14 * abs(math.cos(a))) + 24


def x_angle(names: list[str], plot_px: float) -> int:
    """0 when every shortened name fits under its bar, -45 when the bars are wide enough for slanted labels not to
    overlap (their spacing across the slant is the bar width × sin 45°, for 12 px text), else -90."""
    if not names:
        return 0
    per = plot_px / len(names)
    if label_px(names) <= per:
        return 0
    return -45 if per * math.sin(math.radians(45)) >= 17 else -90


def bar_width(names: list[str], *, px_per_bar: int = 22, min_plot: int = 0) -> int | None:
    """A fixed width for a vertical bar chart with many bars (every label readable), None when it fits a card."""
    plot = len(names) * px_per_bar
    return plot + 120 if plot > max(min_plot, 520) else None


def heatmap_cell(n: int, *, side: int = 560, low: int = 18, high: int = 44) -> int:
    """Cell size in px: the matrix aims at ``side`` px, cells stay between ``low`` and ``high`` px."""
    return int(min(high, max(low, side / max(n, 1))))


def is_wide(figure: dict[str, Any] | None) -> bool:
    """True when the figure has a fixed width that needs a whole grid row."""
    width = ((figure or {}).get("layout") or {}).get("width")
    return bool(width and width > WIDE_PX)
