"""The data quality report's charts are sized to their content and name every column; the counts written beside a
table agree with the table (apps.datasets.charts, apps.core.figures, apps.datasets.report_html)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import pytest
from django.urls import reverse

from apps.core import figures as fx
from apps.datasets import selectors
from apps.datasets.charts import correlation_heatmap, report_figures
from apps.datasets.models import ProfileReport
from apps.datasets.profiling import profile_dataframe
from apps.datasets.report_html import anomaly_table, percent
from apps.jobs.choices import JobStatus
from apps.jobs.models import Job
from tests.datasets.conftest import make_version


def _names(n: int, stem: str = "customer_lifetime_spend_") -> list[str]:
    return [f"{stem}{i:02d}" for i in range(n)]


def _matrix(names: list[str]) -> dict[str, Any]:
    rng = np.random.default_rng(len(names))
    values = rng.uniform(-1, 1, (len(names), len(names)))
    return {"columns": names, "values": values.round(3).tolist()}


def _title_lines(layout: dict[str, Any]) -> list[str]:
    return layout["title"]["text"].split("<br>")


@pytest.mark.parametrize("n", [2, 5, 12, 30])
def test_heatmap_names_every_column_and_grows_with_them(n: int) -> None:
    names = _names(n)
    fig = correlation_heatmap(_matrix(names), "Correlation ratio (categorical vs numeric)")
    assert fig is not None
    layout = fig["layout"]
    for axis in (layout["xaxis"], layout["yaxis"]):
        assert axis["tickmode"] == "array" and axis["tickvals"] == names  # every label, none skipped
        assert len(axis["ticktext"]) == n and all(len(t) <= fx.TICK_CHARS for t in axis["ticktext"])
        assert len(set(axis["ticktext"])) == n  # shortened names stay apart (ellipsis in the middle)
    assert fig["data"][0]["x"] == names  # the hover shows the full name
    margin = layout["margin"]
    plot_w = layout["width"] - margin["l"] - margin["r"]
    plot_h = layout["height"] - margin["t"] - margin["b"]
    assert plot_w >= 18 * n and plot_w >= 80 and plot_h == plot_w  # square cells, never a sliver
    assert margin["l"] >= fx.CHAR_PX * max(len(t) for t in layout["yaxis"]["ticktext"])  # room for the y labels
    assert all(len(line) <= fx.TITLE_CHARS for line in _title_lines(layout))  # the title wraps instead of being cut
    assert margin["t"] >= 20 * len(_title_lines(layout))
    assert layout["width"] <= 1000 and layout["height"] <= 1000  # the sane cap (30 columns at most)


def test_heatmap_size_follows_column_count() -> None:
    figures = [correlation_heatmap(_matrix(_names(n)), "Pearson") for n in (3, 12, 30)]
    sizes = [f["layout"]["width"] for f in figures if f]
    assert sizes[0] < sizes[1] <= sizes[2]
    assert [fx.is_wide(f) for f in figures] == [False, True, True]  # a big one gets a whole row of its grid


def test_bar_charts_name_every_bar() -> None:
    names = _names(40, "a_rather_long_column_name_")
    report = {
        "columns": [{"name": c, "missing_ratio": i / 40} for i, c in enumerate(names)],
        "multicollinearity": {"columns": [{"column": c, "vif": 1.0 + i} for i, c in enumerate(names)]},
        "quick_model": {
            "algorithm": "LightGBM",
            "metric": "ROC AUC",
            "score": 0.8,
            "feature_importance": [{"column": c, "importance": 1 / (i + 1)} for i, c in enumerate(names)],
        },
    }
    figures = report_figures(report)
    for key in ("overview.missing", "multicollinearity.vif"):
        layout = figures[key]["layout"]
        assert layout["xaxis"]["tickvals"] == names, key
        assert layout["margin"]["b"] >= 60  # rotated labels have room
        assert layout["width"] >= 22 * 40  # 40 bars get their own width (the card scrolls) instead of squashing
    imp = figures["quick_model.importance"]["layout"]
    assert imp["yaxis"]["tickvals"] == figures["quick_model.importance"]["data"][0]["y"]
    assert len(imp["yaxis"]["tickvals"]) == 20 and "top 20 of 40 columns" in imp["title"]["text"].replace("<br>", " ")
    assert imp["margin"]["l"] >= fx.label_px(names)
    assert imp["height"] >= 26 * 20


def test_every_report_title_fits_a_phone() -> None:
    rng = np.random.default_rng(3)
    df = pd.DataFrame({f"a_very_long_measurement_name_{i}": rng.normal(size=150) for i in range(6)})
    df["segment_of_the_customer_base"] = rng.choice(["north", "south", "east"], 150)
    df["y"] = rng.integers(0, 2, 150)
    for key, fig in report_figures(profile_dataframe(df, target="y")).items():
        for line in _title_lines(fig["layout"]):
            assert len(re.sub(r"&\w+;", "x", line)) <= fx.TITLE_CHARS, (key, line)


def test_short_keeps_both_ends_and_whole_entities() -> None:
    assert fx.short("customer_spend_2023") != fx.short("customer_spend_2024")
    assert fx.short("&lt;script&gt;alert(1)&lt;/script&gt;").count("&") == fx.short(
        "&lt;script&gt;alert(1)&lt;/script&gt;"
    ).count(";")


# --------------------------------------------------------------------------------------------------- counts
def _anomalies(scores: list[float], cutoff: float, sample: int) -> dict[str, Any]:
    flagged = sum(s > cutoff for s in scores)  # the examples are the top scores: any flagged row is among them
    return {
        "sample_size": sample,
        "score_cutoff": cutoff,
        "anomaly_count": flagged,
        "anomaly_ratio": flagged / sample,
        "examples": [{"row": i, "score": s, "values": {"a": i}} for i, s in enumerate(scores)],
    }


def test_anomaly_caption_names_what_the_table_shows_when_nothing_is_flagged() -> None:
    table = anomaly_table(_anomalies([0.61, 0.6, 0.59, 0.58, 0.57, 0.56], 0.7, 400), limit=5)
    assert table is not None and table["shown"] == len(table["rows"]) == 5
    assert table["caption"].startswith("The 5 most unusual rows of a sample of 400")
    assert "None of the 400 rows scores above the cutoff" in table["caption"]
    assert not any(r["flagged"] for r in table["rows"]) and not re.search(r"\b0 rows", table["caption"])


def test_anomaly_caption_counts_agree_with_marked_rows() -> None:
    table = anomaly_table(_anomalies([0.9, 0.8, 0.75, 0.6, 0.5, 0.4, 0.3], 0.7, 1000), limit=5)
    assert table is not None
    assert table["flagged"] == 3 and sum(r["flagged"] for r in table["rows"]) == table["flagged_shown"] == 3
    assert "3 of the 1,000 rows (0.3 %) score above the cutoff" in table["caption"]
    assert "3 of the 5 rows here are (marked)" in table["caption"]


def test_report_page_and_download_count_what_their_tables_show(client_for, ds_user, project_a, run_job) -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            "amount_spent_last_quarter": rng.normal(100, 10, 300),
            "visits_per_month_average": rng.normal(5, 1, 300),
            "segment": rng.choice(["a", "b", "c"], 300),
            "y": rng.integers(0, 2, 300),
        }
    )
    frame.loc[:1, "visits_per_month_average"] = np.nan  # 2 of 1,200 cells missing: 0.2 %, not "0 %"
    version = make_version(project_a, frame, name="counts")
    client = client_for(ds_user)
    client.post(reverse("datasets:profile_start", args=[version.pk]), {"target": "y"})
    assert run_job(Job.objects.get(kind="datasets.profile")).status == JobStatus.SUCCEEDED
    page = client.get(reverse("datasets:report", args=[version.pk])).content.decode()
    report = ProfileReport.objects.get()
    part = selectors.report_data(report=report)["anomalies"]

    card = page[page.index('id="anomalies"') : page.index('id="columns"')]
    caption = re.search(r'id="anomalies-caption">([^<]*)<', card).group(1)  # type: ignore[union-attr]
    shown = int(re.search(r"The (\d+) most unusual rows", caption).group(1))  # type: ignore[union-attr]
    body = card[card.index("<tbody>") : card.index("</tbody>")]
    assert body.count("<tr") == shown == min(5, len(part["examples"]))
    marked = body.count('<span class="sev high">yes</span>')
    assert marked == sum(ex["score"] > part["score_cutoff"] for ex in part["examples"][:shown])
    if part["anomaly_count"]:
        assert f"{part['anomaly_count']:,} of the {part['sample_size']:,} rows" in caption
        assert f"{marked} of the {shown} rows here" in caption
    else:
        assert "None of the" in caption and marked == 0
    assert "0.2 %" in page  # missing cells beside "2 cells"

    # Heatmaps sit in a card that scrolls when the page is narrower than them (a phone) instead of squashing them.
    cards = re.findall(
        r'class="(card chart-card[^"]*)"><div class="chart" data-figure="fig-\d+" data-key="correl', page
    )
    assert len(cards) == 4

    download = client.get(reverse("datasets:report_download", args=[report.pk]), {"format": "html"}).content.decode()
    section = download[download.index('<section id="anomalies">') :]
    section = section[: section.index("</section>")]
    assert f"The {len(part['examples'])} most unusual rows" in section
    assert section.count("<tr>") - 1 == len(part["examples"])


@pytest.mark.parametrize(
    ("ratio", "text"),
    [
        (0.0, "0 %"),
        (0.0004, "<0.1 %"),
        (0.003, "0.3 %"),
        (0.05, "5 %"),
        (0.123, "12 %"),
        (0.9996, ">99.9 %"),
        (1, "100 %"),
    ],
)
def test_percent_never_rounds_a_count_away(ratio: float, text: str) -> None:
    assert percent(ratio) == text
