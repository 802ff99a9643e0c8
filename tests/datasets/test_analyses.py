"""Analyses on demand (plain module): values in the figures, not only their presence."""

from __future__ import annotations

import pandas as pd
import pytest

from apps.datasets.analyses import AnalysisError, build


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "y": [2.0, 4.0, 6.0, 8.0, 10.0, 12.0],
            "region": ["north", "north", "south", "south", "east", "east"],
            "tier": ["a", "b", "a", "b", "a", "b"],
        }
    )


def test_scatter_colour_by_category_is_one_trace_per_group(frame):
    title, fig = build(frame, "scatter", {"x": "x", "y": "y", "color": "tier"})
    assert title == "y against x by tier"
    assert {t["name"]: t["x"] for t in fig["data"]} == {"a": [1.0, 3.0, 5.0], "b": [2.0, 4.0, 6.0]}


def test_scatter_facet_by_makes_one_panel_per_value(frame):
    title, fig = build(frame, "scatter", {"x": "x", "y": "y", "color": "tier", "facet": "region"})
    assert title.endswith("one panel per region")
    assert fig["layout"]["grid"] == {"rows": 1, "columns": 3, "pattern": "independent"}
    panels = {a["text"]: a["xref"] for a in fig["layout"]["annotations"]}
    assert set(panels) == {"region = north", "region = south", "region = east"}
    by_axis: dict[str, list[float]] = {}
    for trace in fig["data"]:
        by_axis.setdefault(trace["xaxis"], []).extend(trace["x"])
    north_axis = panels["region = north"].split()[0]
    assert sorted(by_axis[north_axis]) == [1.0, 2.0]
    assert sum(t["showlegend"] for t in fig["data"]) == 2, "each colour group appears once in the legend"


def test_scatter_rejects_non_numeric_axis_and_unknown_facet(frame):
    with pytest.raises(AnalysisError, match="not numeric"):
        build(frame, "scatter", {"x": "region", "y": "y"})
    with pytest.raises(AnalysisError, match="No column 'nope'"):
        build(frame, "scatter", {"x": "x", "y": "y", "facet": "nope"})
