"""Canvas in a real browser, with a real worker: choose a dataset version and target, check the data, start a
quick build and watch its progress live, open the leaderboard and the analysis charts, make a what-if prediction.

The dataset is stored as an import stores it (booleans with the user's tokens): the yes/no target is predicted as
yes/no and the Y/N feature is offered as Y and N in the what-if form.

Run with ATELIER_SCREENSHOTS=1 to (re)write docs/screenshots/automl_*.png.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import login, screenshot, wait_for_scripts

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

BUILD_TIMEOUT_MS = 60_000


@pytest.fixture
def project(churn_project: object) -> object:
    return churn_project


def test_quick_build_leaderboard_charts_and_whatif(browser, studio_worker, project):
    page = browser.new_page()
    page.goto("/canvas/")
    login(page, "dana")
    expect(page).to_have_url(re.compile(r"/canvas/$"))
    expect(page.locator("main h1")).to_have_text("Canvas")
    expect(page.locator("#builds .empty .title")).to_have_text("No builds yet")
    wait_for_scripts(page)

    # Set up and check first: warnings are shown, nothing blocks.
    page.locator("#id_target").select_option("churn")
    page.select_option("#id_mode", "quick")
    page.locator("#id_time_budget_s").fill("5")
    page.locator("#check-data").click()
    expect(page.locator("#checklist")).to_be_visible()
    expect(page.locator("#checklist")).to_contain_text("'customer_id' looks like an identifier")
    expect(page.locator("#start-build")).to_be_enabled()
    screenshot(page, "automl_setup")

    studio_worker()
    page.locator("#start-build").click()
    expect(page).to_have_url(re.compile(r"/canvas/builds/\d+/(#.*)?$"))  # a fragment of the check page may stay
    expect(page.locator("#build-progress")).to_be_visible()
    # Live progress: trials are counted while the job runs, then the page reloads with the leaderboard.
    expect(page.locator("#trials-done")).not_to_have_text("0", timeout=BUILD_TIMEOUT_MS)
    expect(page.locator("#build-status")).to_have_text("Succeeded", timeout=BUILD_TIMEOUT_MS)
    expect(page.locator("#leaderboard")).to_be_visible(timeout=15_000)
    wait_for_scripts(page)
    rows = page.locator("#leaderboard tr.candidate")
    expect(rows.first).to_contain_text("best")
    assert rows.count() >= 1
    expect(page.locator("#history-chart .main-svg").first).to_be_attached()
    for name in ("importance", "confusion", "roc", "pr"):
        expect(page.locator(f"#chart-{name} .main-svg").first).to_be_attached()
    screenshot(page, "automl_leaderboard")

    # What-if: the form is prefilled; changing a value updates the prediction without a reload. Labels and yes/no
    # features are chosen from the values the user wrote, numbers are typed into number inputs.
    prediction = page.locator("#whatif-prediction")
    expect(prediction).to_have_text(re.compile(r"^(yes|no)$"))
    expect(page.locator("#whatif-probabilities .prob-row")).to_have_count(2)
    assert sorted(page.locator("#whatif-probabilities .prob-row").evaluate_all(
        "rows => rows.map(r => r.dataset.class)")) == ["no", "yes"]  # fmt: skip
    assert sorted(page.locator('select[data-column="paperless"] option').all_inner_texts()) == ["(missing)", "N", "Y"]
    assert sorted(page.locator('select[data-column="plan"] option').all_inner_texts()) == [
        "(missing)", "basic", "plus", "pro"]  # fmt: skip
    expect(page.locator('input[data-column="tenure_months"]')).to_have_attribute("type", "number")
    page.evaluate("window.__marker = 1")
    page.locator('[data-column="tenure_months"]').fill("1")
    page.select_option('[data-column="plan"]', "basic")
    page.select_option('[data-column="paperless"]', "Y")
    page.locator('[data-column="monthly_fee"]').fill("120")
    expect(prediction).to_have_text("yes")
    page.locator('[data-column="tenure_months"]').fill("70")
    page.select_option('[data-column="plan"]', "pro")
    page.select_option('[data-column="paperless"]', "N")
    page.locator('[data-column="monthly_fee"]').fill("30")
    expect(prediction).to_have_text("no")
    expect(page.locator("#whatif-error")).to_be_hidden()
    assert page.evaluate("window.__marker") == 1  # no page reload
    page.locator("#whatif").scroll_into_view_if_needed()
    screenshot(page, "automl_whatif")
