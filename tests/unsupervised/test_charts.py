"""Figure builders of the built-in algorithms (plain module, no database): the engine's chart JSON in, plotly
figure dicts out, with user strings escaped and empty data giving no figure."""

from __future__ import annotations

import json

from apps.automl.engine.unsupervised import isolation_forest, kmeans, pca
from apps.unsupervised import charts
from tests.unsupervised.data import blobs_frame


def _info(result, names):  # type: ignore[no-untyped-def]
    return {**result.info, "new_columns": names, "rows": len(result.columns)}


def test_pca_figures_from_engine_output() -> None:
    result = pca(blobs_frame(), n_components=3)
    figures = dict(charts.run_figures("pca", result.chart, _info(result, ["pc1", "pc2", "pc3"])))
    assert list(figures) == ["variance", "scatter"]
    bars, line = figures["variance"]["data"]
    assert bars["x"] == ["pc1", "pc2", "pc3"] and bars["y"] == result.chart["explained_variance_ratio"]
    assert line["y"] == result.chart["cumulative"]
    assert figures["scatter"]["data"][0]["x"] == result.chart["scatter"]["x"]
    json.dumps(figures, allow_nan=False)


def test_one_component_pca_shows_its_distribution() -> None:
    result = pca(blobs_frame(), n_components=1)
    scatter = dict(charts.run_figures("pca", result.chart, _info(result, ["pc1"])))["scatter"]
    assert scatter["data"][0]["type"] == "histogram"


def test_kmeans_figures_mark_the_chosen_k() -> None:
    result = kmeans(blobs_frame(), columns=["a", "b", "c"], k_max=5)
    figures = dict(charts.run_figures("kmeans", result.chart, _info(result, ["cluster"])))
    assert list(figures) == ["k", "sizes", "scatter"]
    k = figures["k"]
    assert k["layout"]["shapes"][0]["x0"] == 3 and k["data"][2]["x"] == [3]
    assert k["data"][1]["yaxis"] == "y2"
    assert figures["sizes"]["data"][0]["y"] == result.chart["sizes"]
    scatter = figures["scatter"]["data"]
    assert [t["name"] for t in scatter] == ["cluster 0", "cluster 1", "cluster 2"]
    assert sum(len(t["x"]) for t in scatter) == 150
    given = kmeans(blobs_frame(), columns=["a", "b"], k=4)
    assert [name for name, _ in charts.run_figures("kmeans", given.chart, given.info)] == ["sizes", "scatter"]


def test_isolation_forest_histogram_has_the_threshold() -> None:
    result = isolation_forest(blobs_frame(outliers=2), contamination=0.05, n_jobs=1)
    fig = dict(charts.run_figures("isolation_forest", result.chart, result.info))["scores"]
    threshold = result.chart["threshold"]
    assert fig["layout"]["shapes"][0]["x0"] == threshold
    assert f"{result.info['n_flagged']:,} flagged" in fig["layout"]["annotations"][0]["text"]
    colours = fig["data"][0]["marker"]["color"]
    assert colours[0] == charts.ACCENT and colours[-1] == charts.DANGER


def test_user_strings_are_escaped_and_empty_data_gives_nothing() -> None:
    chart = {"sizes": [3, 4], "scatter": {"x": [0, 1], "y": [1, 0], "cluster": [0, 1]}}
    figures = dict(charts.run_figures("kmeans", chart, {"new_columns": ["<img src=x onerror=alert(1)>"]}))
    assert figures["sizes"]["layout"]["xaxis"]["title"]["text"] == "&lt;img src=x onerror=alert(1)&gt;"
    assert figures["scatter"]["data"][0]["name"] == "&lt;img src=x onerror=alert(1)&gt; 0"
    assert charts.run_figures("kmeans", {}, {}) == []
    assert charts.run_figures("unknown", chart, {}) == []
    assert charts.iforest_histogram_figure({"histogram": {"edges": [0, 1], "counts": []}}, {}) is None
    assert charts.pca_variance_figure({}, {}) is None
