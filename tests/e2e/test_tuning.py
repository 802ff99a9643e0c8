"""Tuning jobs in a real browser with two real workers: load an algorithm's default ranges, start a job with two
parallel trials, watch the trial chart fill in live, then open the best trial exported as a Canvas candidate.

Run with ATELIER_SCREENSHOTS=1 to (re)write docs/screenshots/tuning_*.png.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import login, screenshot, wait_for_scripts

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

TUNING_TIMEOUT_MS = 90_000


@pytest.fixture
def project(churn_project: object) -> object:
    return churn_project


def test_tuning_job_live_trials_and_exported_candidate(browser, studio_worker, project):
    page = browser.new_page()
    page.goto("/canvas/tuning/")
    login(page, "dana")
    expect(page.locator("main h1")).to_have_text("Tuning jobs")
    expect(page.locator("#tuning-jobs .empty .title")).to_have_text("No tuning jobs yet")
    wait_for_scripts(page)

    page.locator("#id_target").select_option("churn")
    page.select_option("#id_algorithm", "random_forest")
    page.select_option("#id_problem_type", "binary")
    page.locator("#load-ranges").click()
    leaf = page.locator("#range-rows tr.range-row").filter(has=page.locator("input[value='min_samples_leaf']"))
    expect(leaf).to_have_count(1)
    leaf.locator("[name=ranges_high]").fill("16")  # the user edits a range
    page.select_option("#id_strategy", "bayesian")
    page.locator("#id_max_trials").fill("8")
    page.locator("#id_max_parallel").fill("2")
    page.locator("#id_early_stopping").check()
    screenshot(page, "tuning_setup")

    studio_worker()
    studio_worker()
    page.locator("#start-tuning").click()
    expect(page).to_have_url(re.compile(r"/canvas/tuning/\d+/$"))
    # Live: the chart gets points and the finished count grows while the job runs, then the page reloads.
    expect(page.locator("#count-complete")).not_to_have_text("0", timeout=TUNING_TIMEOUT_MS)
    expect(page.locator("#tuning-status")).to_have_text("Succeeded", timeout=TUNING_TIMEOUT_MS)
    expect(page.locator("#candidate-link")).to_be_visible(timeout=15_000)
    wait_for_scripts(page)
    expect(page.locator("#trials-chart .main-svg").first).to_be_attached()
    expect(page.locator("#trials tr.trial")).to_have_count(8)
    expect(page.locator("#stop-reason")).to_contain_text("maximum number of trials")
    workers = set(page.locator("#trials tr.trial td:last-child").all_inner_texts())
    assert workers == {"w0", "w1"}, workers  # both parallel slots ran trials
    screenshot(page, "tuning_job")

    page.locator("#candidate-link").click()
    expect(page).to_have_url(re.compile(r"/canvas/builds/\d+/$"))
    expect(page.locator("#leaderboard tr.candidate")).to_have_count(1)
    expect(page.locator("#leaderboard")).to_contain_text("random_forest-tuned")
    expect(page.locator("#whatif-prediction")).to_have_text(re.compile(r"^(yes|no)$"), timeout=15_000)
