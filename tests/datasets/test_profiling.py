"""apps.datasets.profiling (+ charts and report_html): values on frames whose answers are known."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

from apps.core.charts import label
from apps.datasets.charts import report_figures
from apps.datasets.profiling import ProfileConfig, profile_dataframe, to_jsonable, variance_inflation_factors
from apps.datasets.report_html import json_for_script, report_to_html

N = 400


def column(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in report["columns"] if c["name"] == name)


def warning_codes(report: dict[str, Any], column_name: str | None = None) -> set[str]:
    return {w["code"] for w in report["warnings"] if column_name is None or w["column"] == column_name}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, N)
    target = (a + rng.normal(0, 1, N) > 0).astype(int)
    text = np.array(["alpha", "beta", "gamma"], dtype=object)[rng.integers(0, 3, N)]
    text[:4] = ["", "  ", None, "\t"]
    df = pd.DataFrame(
        {
            "id": np.arange(N),
            "x": np.arange(N, dtype=float) % 101,  # 0..100 repeated: known quantiles
            "a": a,
            "b": 2 * a + 1 + rng.normal(0, 1e-3, N),  # collinear with a
            "c": rng.normal(0, 1, N),
            "const": 7,
            "label": text,
            "leak": target.astype(float),  # equals the target
            "target": target,
        }
    )
    df.loc[5:14, "c"] = np.nan  # 10 missing values
    df.iloc[N - 3 :] = df.iloc[:3].to_numpy()  # 3 exact duplicate rows
    return df


@pytest.fixture(scope="module")
def report(frame: pd.DataFrame) -> dict[str, Any]:
    calls: list[float] = []
    result = profile_dataframe(frame, target="target", progress=lambda f, _m: calls.append(f), seed=1)
    result["_progress"] = calls
    return result


def test_report_is_plain_json(report: dict[str, Any]) -> None:
    text = json.dumps({k: v for k, v in report.items() if k != "_progress"}, allow_nan=False)
    assert json.loads(text)["summary"]["rows"] == N
    assert set(report) >= {
        "version",
        "summary",
        "columns",
        "correlations",
        "target",
        "leakage",
        "quick_model",
        "anomalies",
        "multicollinearity",
        "warnings",
        "timings",
    }


def test_progress_is_reported_in_order(report: dict[str, Any]) -> None:
    calls = report["_progress"]
    assert calls[0] == 0.0 and calls[-1] == 1.0 and calls == sorted(calls) and len(calls) > 8


def test_summary_counts_duplicates_and_missing(report: dict[str, Any]) -> None:
    s = report["summary"]
    assert s["rows"] == N and s["columns"] == 9
    assert s["duplicate_rows"] == 3 and s["duplicate_ratio"] == pytest.approx(3 / N)
    assert s["duplicate_examples"][0]["count"] == 2 and s["duplicate_examples"][0]["values"]["id"] == 0
    assert s["missing_cells"] == 10 + 1 + 1  # c, label (row 2 and its duplicate)
    assert "duplicates" in warning_codes(report)


def test_missing_and_blank_strings(report: dict[str, Any]) -> None:
    c = column(report, "c")
    assert c["missing"] == 10 and c["missing_ratio"] == pytest.approx(10 / N)
    lab = column(report, "label")
    assert lab["missing"] == 2 and lab["empty_strings"] == 2 and lab["whitespace_only"] == 3
    assert "blank_strings" in warning_codes(report, "label")


def test_numeric_statistics_match_numpy(frame: pd.DataFrame, report: dict[str, Any]) -> None:
    x = frame["x"].to_numpy()
    num = column(report, "x")["numeric"]
    assert num["min"] == 0 and num["max"] == 100
    assert num["mean"] == pytest.approx(x.mean()) and num["std"] == pytest.approx(x.std(ddof=1))
    for q in (5, 25, 50, 75, 95):
        assert num["quantiles"][f"p{q}"] == pytest.approx(np.quantile(x, q / 100))
    assert num["skew"] == pytest.approx(pd.Series(x).skew()) and num["kurtosis"] == pytest.approx(pd.Series(x).kurt())
    edges = num["histogram"]["edges"]
    assert sum(num["histogram"]["counts"]) == N and edges[0] == -0.5 and edges[-1] >= 100.5
    assert set(np.diff(edges)) == {4.0}  # whole-number bins: 101 values in 26 bins of width 4
    assert column(report, "x")["distinct"] == 101
    assert num["outliers"]["count"] == 0 and "modified z-score" in num["outliers"]["rule"]


def test_outliers_by_modified_z_score() -> None:
    df = pd.DataFrame({"v": [10.0, 11, 12, 13, 14, 15, 16, 17, 18, 1000]})
    out = column(profile_dataframe(df), "v")["numeric"]["outliers"]
    assert out["count"] == 1 and out["upper"] == pytest.approx(14.5 + 3.5 * 2.5 / 0.6745)


def test_top_values_and_distinct(report: dict[str, Any]) -> None:
    lab = column(report, "label")
    assert lab["distinct"] == 6  # alpha, beta, gamma, "", "  ", "\t"
    assert [t["value"] for t in lab["top_values"][:3]] == sorted(
        [t["value"] for t in lab["top_values"][:3]],
        key=lambda v: -next(t["count"] for t in lab["top_values"] if t["value"] == v),
    )
    assert sum(t["count"] for t in lab["top_values"]) == N - 2


def test_constant_and_identifier_warnings(report: dict[str, Any]) -> None:
    assert column(report, "const")["distinct"] == 1
    assert "constant" in warning_codes(report, "const")
    assert column(report, "id")["type"] == "identifier" and "identifier" in warning_codes(report, "id")


def test_perfect_leak_is_flagged(report: dict[str, Any]) -> None:
    features = {f["column"]: f for f in report["leakage"]["features"]}
    assert features["leak"]["score"] == pytest.approx(1.0) and features["leak"]["flag"] is True
    assert features["c"]["score"] < 0.3 and features["c"]["flag"] is False
    assert report["leakage"]["sample_size"] == N
    assert "target_leakage" in warning_codes(report, "leak")
    assert report["warnings"][0]["severity"] == "high"


def test_target_analysis_classification(report: dict[str, Any], frame: pd.DataFrame) -> None:
    t = report["target"]
    assert t["problem_type"] == "binary"
    counts = frame["target"].value_counts()
    assert {c["count"] for c in t["classes"]} == set(counts.tolist())
    assert t["imbalance_ratio"] == pytest.approx(counts.max() / counts.min())


def test_quick_model_scores_and_importance(report: dict[str, Any]) -> None:
    m = report["quick_model"]
    assert m["algorithm"] == "LightGBM" and m["metric"] == "ROC AUC" and m["score"] > 0.95
    assert m["sample_size"] == N and m["folds"] == 3
    assert m["feature_importance"][0]["column"] == "leak"
    assert sum(f["importance"] for f in m["feature_importance"]) == pytest.approx(1.0)
    assert {e["column"] for e in m["excluded"]} == {"id", "const"}


def test_vif_high_for_collinear_columns(report: dict[str, Any]) -> None:
    vif = {c["column"]: c["vif"] for c in report["multicollinearity"]["columns"]}
    assert vif["a"] > 1000 and vif["b"] > 1000 and vif["c"] < 1.5
    assert "high_vif" in warning_codes(report, "a")


def test_vif_perfect_collinearity_is_infinite() -> None:
    rng = np.random.default_rng(3)
    a, c = rng.normal(size=200), rng.normal(size=200)
    vif = variance_inflation_factors(np.column_stack([a, 3 * a - 2, c]))
    assert math.isinf(vif[0]) and math.isinf(vif[1]) and vif[2] == pytest.approx(1.0, abs=0.05)


def test_correlations_and_associations(report: dict[str, Any]) -> None:
    corr = report["correlations"]
    cols = corr["pearson"]["columns"]
    pearson = corr["pearson"]["values"]
    assert pearson[cols.index("a")][cols.index("b")] == pytest.approx(1.0, abs=1e-4)
    assert corr["spearman"]["values"][cols.index("a")][cols.index("b")] == pytest.approx(1.0, abs=1e-3)
    assert corr["sample_size"] == N
    assert "high_correlation" in warning_codes(report, "a")


def test_cramers_v_and_correlation_ratio() -> None:
    rng = np.random.default_rng(4)
    g = rng.choice(["p", "q", "r"], 300)
    noise = rng.choice(["u", "v"], 300)
    df = pd.DataFrame(
        {
            "g": g,
            "g2": pd.Series(g).map({"p": "P", "q": "Q", "r": "R"}),
            "noise": noise,
            "by_group": pd.Series(g).map({"p": 1.0, "q": 5.0, "r": 9.0}) + rng.normal(0, 0.01, 300),
            "other": rng.normal(size=300),
        }
    )
    corr = profile_dataframe(df)["correlations"]
    names = corr["cramers_v"]["columns"]
    v = corr["cramers_v"]["values"]
    assert v[names.index("g")][names.index("g2")] == pytest.approx(1.0, abs=1e-6)
    assert v[names.index("g")][names.index("noise")] < 0.15
    eta = corr["correlation_ratio"]
    assert eta["values"][eta["rows"].index("g")][eta["columns"].index("by_group")] == pytest.approx(1.0, abs=1e-3)


def test_regression_target_and_leak() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=500)
    y = 3 * x + rng.normal(0, 0.1, 500)
    df = pd.DataFrame({"x": x, "noise": rng.normal(size=500), "copy": y, "y": y})
    result = profile_dataframe(df, target="y")
    assert result["target"]["problem_type"] == "regression"
    assert result["target"]["distribution"]["histogram"]["counts"]
    leak = {f["column"]: f for f in result["leakage"]["features"]}
    assert leak["copy"]["flag"] and leak["copy"]["metric"] == "R²" and leak["noise"]["score"] < 0.1
    assert result["quick_model"]["metric"] == "R²" and result["quick_model"]["score"] > 0.9


def test_multiclass_target() -> None:
    rng = np.random.default_rng(6)
    cls = rng.choice(["a", "b", "c"], 300, p=[0.6, 0.3, 0.1])
    df = pd.DataFrame({"f": rng.normal(size=300) + (cls == "c") * 3, "cls": cls})
    result = profile_dataframe(df, target="cls")
    assert result["target"]["problem_type"] == "multiclass" and result["target"]["class_count"] == 3
    assert result["quick_model"]["metric"] == "accuracy"
    assert result["leakage"]["features"][0]["column"] == "f" and not result["leakage"]["features"][0]["flag"]


def test_invalid_values_for_declared_type() -> None:
    df = pd.DataFrame({"n": ["1", "2", "x", "3", "", None, "y", "x"]})
    result = profile_dataframe(
        df, schema=[{"name": "n", "type": "numeric", "pandas_dtype": "float64", "nullable": True, "reason": "user"}]
    )
    col = column(result, "n")
    assert col["invalid"] == 3 and col["invalid_examples"] == ["x", "y"]
    assert col["numeric"]["max"] == 3 and col["empty_strings"] == 1
    assert "invalid_values" in warning_codes(result, "n")


def test_no_target_and_tiny_frames() -> None:
    result = profile_dataframe(pd.DataFrame({"a": [1, 2, 3]}))
    assert result["target"] is None and result["leakage"] is None and result["quick_model"] is None
    assert "skipped" in result["anomalies"]
    empty = profile_dataframe(pd.DataFrame({"a": pd.Series([], dtype=float), "b": pd.Series([], dtype=str)}))
    assert empty["summary"]["rows"] == 0 and empty["summary"]["duplicate_rows"] == 0
    assert column(empty, "a")["distinct"] == 0
    with pytest.raises(ValueError, match="'nope'"):
        profile_dataframe(pd.DataFrame({"a": [1]}), target="nope")


def test_samples_are_stated_and_used() -> None:
    rng = np.random.default_rng(7)
    n = 3000
    df = pd.DataFrame(
        {"a": rng.normal(size=n), "b": rng.normal(size=n), "k": rng.integers(0, 2000, n), "t": rng.integers(0, 2, n)}
    )
    cfg = ProfileConfig(sample_size=1000, model_sample=500, anomaly_sample=300, vif_sample=400, stats_exact_rows=2000)
    result = profile_dataframe(df, target="t", config=cfg)
    assert result["correlations"]["sample_size"] == 1000
    assert result["leakage"]["sample_size"] == 1000 and result["quick_model"]["sample_size"] == 500
    assert result["anomalies"]["sample_size"] == 300 and result["multicollinearity"]["sample_size"] == 400
    k = column(result, "k")
    assert k["stats_exact"] is False and k["stats_sample_size"] == 2000 and "hash" in k["distinct_note"]
    assert k["distinct"] == df["k"].nunique()


def test_to_jsonable_cleans_numpy_and_nan() -> None:
    value = to_jsonable(
        {
            "a": np.float64("nan"),
            "b": np.int64(3),
            "c": [np.inf, np.bool_(True)],
            "d": pd.Timestamp("2020-01-01"),
            "e": pd.NA,
        }
    )
    assert value == {"a": None, "b": 3, "c": [None, True], "d": "2020-01-01T00:00:00", "e": None}
    assert type(value["b"]) is int


# --------------------------------------------------------------------------------------------------- charts / HTML
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def hostile_report() -> dict[str, Any]:
    rng = np.random.default_rng(8)
    df = pd.DataFrame(
        {
            HOSTILE: rng.normal(size=120),
            "cat": rng.choice(["<b>x</b>", "</script><!--", "ok"], 120),
            "y": rng.integers(0, 2, 120),
        }
    )
    return profile_dataframe(df, target="y")


def test_charts_build_plain_figures(hostile_report: dict[str, Any]) -> None:
    figures = report_figures(hostile_report)
    assert {
        "overview.missing",
        "column.0.histogram",
        "column.1.top_values",
        "target.distribution",
        "leakage.scores",
        "quick_model.importance",
    } <= set(figures)
    hist = figures["column.0.histogram"]
    assert hist["data"][0]["type"] == "bar" and sum(hist["data"][0]["y"]) == 120
    assert HOSTILE not in json.dumps(figures)  # labels are escaped for plotly's pseudo-HTML
    assert label(HOSTILE) == "&lt;script&gt;alert(1)&lt;/script&gt;"


def test_html_is_self_contained_and_escaped(hostile_report: dict[str, Any]) -> None:
    page = report_to_html(hostile_report, title=f"Report {HOSTILE}")
    assert HOSTILE not in page and "<b>x</b>" not in page and "</script><!--" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert re.search(r"<(script|link|img|iframe)[^>]*\b(src|href)=", page) is None  # nothing loaded from outside
    assert page.count("<script") == 3 and "Plotly.newPlot" in page and len(page) > 3_000_000
    start = page.index('<script type="application/json" id="atelier-figures">') + len(
        '<script type="application/json" id="atelier-figures">'
    )
    embedded = page[start : page.index("</script>", start)]
    assert "<" not in embedded and json.loads(embedded)["column.0.histogram"]["data"][0]["type"] == "bar"


def test_html_report_inlines_the_vendored_strict_plotly(hostile_report: dict[str, Any]) -> None:
    """The same plotly.js as the pages (static/vendor/plotly: the strict build), not the plotly Python package's."""
    page = report_to_html(hostile_report, title="Report")
    assert "plotly.js (strict - minified) v4.1.1" in page


def test_json_for_script_escapes_closing_sequences() -> None:
    text = json_for_script({"k": "</script><!-- & \u2028"})
    assert "</" not in text and "<!--" not in text and "\u2028" not in text
    assert json.loads(text) == {"k": "</script><!-- & \u2028"}
