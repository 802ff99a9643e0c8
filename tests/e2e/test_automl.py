"""Canvas in a real browser, with a real worker: choose a dataset version and target, check the data, start a
quick build and watch its progress live, open the leaderboard and the analysis charts, make a what-if prediction.

Run with ATELIER_SCREENSHOTS=1 to (re)write docs/screenshots/automl_*.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from apps.core.storage import project_root, storage, walk_files
from tests.e2e.conftest import login, off_loop, screenshot, wait_for_scripts
from tests.factories import ProjectFactory, UserFactory, make_version

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

BUILD_TIMEOUT_MS = 60_000


def churn_frame(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    tenure = rng.integers(1, 72, n)
    monthly = rng.normal(70, 20, n).round(2)
    plan = rng.choice(["basic", "plus", "pro"], n)
    logit = -0.06 * tenure + 0.03 * (monthly - 70) + (plan == "basic") * 1.0 + 1.0
    churn = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return pd.DataFrame(
        {
            "customer_id": np.arange(5000, 5000 + n),
            "tenure_months": tenure,
            "monthly_fee": monthly,
            "plan": pd.array(plan, "string"),
            "churn": churn,
        }
    )


@pytest.fixture
def project() -> Iterator[object]:
    project = ProjectFactory(name="Customer care", slug="care", description="Churn models.")
    user = UserFactory(username="dana", personas=["data_scientist"], projects=[project])

    def clean() -> None:
        for path, _ in list(walk_files(project_root(project.pk))):
            storage().delete(path)

    clean()
    make_version(project, user, churn_frame(), name="subscribers")
    yield project
    off_loop(clean)


def test_quick_build_leaderboard_charts_and_whatif(browser, studio_worker, project):
    page = browser.new_page()
    page.goto("/canvas/")
    login(page, "dana")
    expect(page).to_have_url(re.compile(r"/canvas/$"))
    expect(page.locator("main h1")).to_have_text("Canvas")
    expect(page.locator("#builds .empty .title")).to_have_text("No builds yet")
    wait_for_scripts(page)

    # Set up and check first: warnings are shown, nothing blocks.
    page.locator("#id_target").fill("churn")
    page.select_option("#id_mode", "quick")
    page.locator("#id_time_budget_s").fill("5")
    page.locator("#check-data").click()
    expect(page.locator("#checklist")).to_be_visible()
    expect(page.locator("#checklist")).to_contain_text("'customer_id' looks like an identifier")
    expect(page.locator("#start-build")).to_be_enabled()
    screenshot(page, "automl_setup")

    studio_worker()
    page.locator("#start-build").click()
    expect(page).to_have_url(re.compile(r"/canvas/builds/\d+/$"))
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

    # What-if: the form is prefilled; changing a value updates the prediction without a reload.
    prediction = page.locator("#whatif-prediction")
    expect(prediction).to_have_text(re.compile(r"^(yes|no)$"))
    expect(page.locator("#whatif-probabilities .prob-row")).to_have_count(2)
    page.evaluate("window.__marker = 1")
    page.locator('[data-column="tenure_months"]').fill("1")
    page.locator('[data-column="plan"]').fill("basic")
    page.locator('[data-column="monthly_fee"]').fill("120")
    expect(prediction).to_have_text("yes")
    page.locator('[data-column="tenure_months"]').fill("many")
    expect(page.locator("#whatif-error")).to_contain_text("tenure_months")
    page.locator('[data-column="tenure_months"]').fill("70")
    page.locator('[data-column="plan"]').fill("pro")
    page.locator('[data-column="monthly_fee"]').fill("30")
    expect(prediction).to_have_text("no")
    expect(page.locator("#whatif-error")).to_be_hidden()
    assert page.evaluate("window.__marker") == 1  # no page reload
    page.locator("#whatif").scroll_into_view_if_needed()
    screenshot(page, "automl_whatif")
