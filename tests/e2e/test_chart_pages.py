"""Charts in a real browser at 1440 and 390 px: the quality report's heatmaps are drawn at a readable size with
every column named and their titles whole, and a Canvas build's live progress shows a message that agrees with its
counters and a best-score chart that ends at the final score on a 0–1 axis for a ROC AUC.

Run with ATELIER_SCREENSHOTS=1 to (re)write docs/screenshots/charts_*.png.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.conftest import clean_project_storage
from tests.e2e.conftest import SCREENSHOT_DIR, login, off_loop, wait_for_scripts, wait_until
from tests.factories import ProjectFactory, UserFactory, make_version

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect, PlaywrightError = sync_api.expect, sync_api.Error

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

WIDTHS = (1440, 390)
N_NUMERIC = 12


def wide_frame(n: int = 240) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    base = rng.normal(size=n)
    frame = pd.DataFrame(
        {f"customer_measurement_{i:02d}_{'q' * (i % 3)}": base * (i % 4) + rng.normal(size=n) for i in range(N_NUMERIC)}
    )
    frame["plan"] = pd.array(rng.choice(["basic", "plus", "pro"], n), "string")
    frame["churn"] = np.where(base + rng.normal(size=n) > 0, "yes", "no")
    return frame


@pytest.fixture
def project() -> Iterator[Any]:
    project = ProjectFactory(name="Chart checks", slug="charts", description="Charts sized to their content.")
    user = UserFactory(username="dana", personas=["data_scientist"], projects=[project])
    clean_project_storage(project)
    project.version = make_version(project, user, wide_frame(), name="wide")  # type: ignore[attr-defined]
    yield project
    off_loop(clean_project_storage, project)


def save(page: Any, name: str) -> None:
    if os.environ.get("ATELIER_SCREENSHOTS") == "1":
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT_DIR / f"{name}.png"), full_page=True, animations="disabled")


HEATMAP = """(key) => {
  const el = document.querySelector(`#charts .chart[data-key="${key}"]`);
  const svg = el.querySelector("svg.main-svg");
  const plot = el.querySelector(".nsewdrag").getBoundingClientRect();
  const title = el.querySelector(".gtitle").getBoundingClientRect();
  const box = svg.getBoundingClientRect();
  const card = el.closest(".card").getBoundingClientRect();
  return {
    x: Array.from(el.querySelectorAll(".xtick text")).map((t) => t.textContent),
    y: Array.from(el.querySelectorAll(".ytick text")).map((t) => t.textContent),
    plotWidth: plot.width, plotHeight: plot.height,
    titleInside: title.left >= box.left - 1 && title.right <= box.right + 1,
    cardRight: card.right, viewport: window.innerWidth,
  };
}"""


def test_report_heatmaps_are_readable_at_desktop_and_phone_widths(browser, studio_worker, project) -> None:
    page = browser.new_page()
    page.goto(f"/data/datasets/versions/{project.version.pk}/report/")
    login(page, "dana")
    wait_for_scripts(page)
    page.locator("#target").select_option("churn")
    page.locator("#profile-start").click()
    studio_worker()
    expect(page.locator("#warnings")).to_be_visible(timeout=60_000)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.reload()
        wait_for_scripts(page)
        for key in ("correlations.pearson", "correlations.spearman"):
            chart = page.locator(f'#charts .chart[data-key="{key}"]')
            chart.scroll_into_view_if_needed()
            expect(chart.locator(".nsewdrag")).to_have_count(1, timeout=20_000)
            info = page.evaluate(HEATMAP, key)
            n = N_NUMERIC + 1  # the numeric columns and the target
            assert len(info["x"]) == len(info["y"]) == n, info  # every column named, none skipped
            assert len(set(info["x"])) == n and all(len(t) <= 18 for t in info["x"]), info  # shortened, apart
            assert info["plotWidth"] >= 18 * n and abs(info["plotWidth"] - info["plotHeight"]) < 2, info
            assert info["titleInside"], info
            assert info["cardRight"] <= info["viewport"] + 1, info  # the card scrolls; it does not push the page
        caption = page.locator("#anomalies-caption").inner_text()
        shown = int(re.search(r"The (\d+) most unusual rows", caption).group(1))  # type: ignore[union-attr]
        expect(page.locator("#anomalies tbody tr")).to_have_count(shown)
        save(page, f"charts_report_{width}")


LIVE = """() => ({
  done: !!document.getElementById("leaderboard") || document.getElementById("automl-build").dataset.status !== "running"
    && document.getElementById("automl-build").dataset.status !== "queued",
  message: document.getElementById("build-message").textContent,
  trials: document.getElementById("trials-done").textContent,
  best: document.getElementById("best-score").textContent,
  objective: document.getElementById("best-objective").textContent,
})"""


def test_build_page_counters_agree_and_the_chart_ends_at_the_final_score(browser, studio_worker, project) -> None:
    page = browser.new_page()
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto("/canvas/")
    login(page, "dana")
    wait_for_scripts(page)
    from apps.accounts.models import User
    from apps.automl import services

    build = off_loop(
        services.automl_build_start,
        project=project,
        created_by=off_loop(User.objects.get, username="dana"),
        version=project.version,
        target="churn",
        mode="quick",
        time_budget_s=10,
    )
    page.goto(f"/canvas/builds/{build.pk}/")
    wait_for_scripts(page)
    studio_worker()
    seen = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            state = page.evaluate(LIVE)
        except PlaywrightError:  # the page reloads itself when the job ends
            page.wait_for_load_state()
            continue
        if state["done"]:
            break
        if "trial" in state["message"]:
            found = re.search(r"(\d+) trials? done", state["message"])
            assert found is not None and found.group(1) == state["trials"], state
            if state["best"] != "—":
                assert f"best {state['objective']} {state['best']}" in state["message"], state
            seen.append(state)
            if len(seen) == 3:
                save(page, "charts_build_running_1440")
        page.wait_for_timeout(300)
    assert seen, "the page never showed a running build"
    wait_until(page, "document.querySelector('#leaderboard') !== null", timeout=30_000)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.reload()
        wait_for_scripts(page)
        expect(page.locator("#history-chart .nsewdrag")).to_have_count(1, timeout=20_000)
        chart = page.evaluate(
            """() => { const gd = document.getElementById("history-chart");
                 return {y: gd.data[0].y, names: gd.data.map((t) => t.name), range: gd.layout.yaxis.range}; }"""
        )
        best = page.locator("#best-score").inner_text()
        assert f"{chart['y'][-1]:.4f}" == best and chart["names"][-1] == "final model", chart
        assert -0.01 <= chart["range"][0] and chart["range"][1] <= 1.01, chart
        save(page, f"charts_build_{width}")
