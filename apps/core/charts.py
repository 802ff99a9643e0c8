"""What every app's chart builders share: the palette and safe labels.

Plain module: no Django imports and no plotly import (figures are plain ``{"data": [...], "layout": {...}}`` dicts
that ``Plotly.newPlot`` and ``plotly.graph_objects.Figure`` both accept). Every user-supplied string placed in a
figure goes through :func:`label`, which escapes ``<``, ``>`` and ``&`` so plotly shows it as text instead of reading
its pseudo-HTML tags.
"""

from __future__ import annotations

import html
from typing import Any

Figure = dict[str, Any]

ACCENT = "#3b6fd4"  # the one series of a chart, the best of a comparison
DANGER = "#d4493b"  # errors, anomalies, a threshold crossed
MUTED = "#9aa5b8"  # the rest, the baseline

# Series colours in order (versions, variants, clusters): the accent first, then colours apart from each other.
PALETTE = ["#3b6fd4", "#e08a2c", "#2f9e6f", "#a855f7", "#d4493b", "#64748b", "#17becf", "#e377c2", "#bcbd22", "#8c564b"]


def label(value: Any) -> str:
    """A user-supplied value as safe plotly text."""
    return html.escape("" if value is None else str(value), quote=False)
