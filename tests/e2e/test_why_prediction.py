"""Canvas what-if "why this prediction" in a real browser: open a build, enter a row, and see the row's SHAP
contributions as a waterfall from the base value to the probability the what-if shows; a new row redraws it.

Run with ATELIER_SCREENSHOTS=1 to (re)write docs/screenshots/automl_why_prediction.png.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import churn_frame, login, screenshot, wait_for_scripts, wait_until
from tests.factories import trained_build

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

CHART = "document.getElementById('whatif-why-chart')"


def _waterfall(page) -> dict:  # type: ignore[no-untyped-def]
    return page.evaluate(
        f"(() => {{ const t = {CHART}.data[0]; return {{type: t.type, y: t.y, x: t.x, measure: t.measure,"
        f" prediction: Number({CHART}.dataset.prediction), output: {CHART}.dataset.output}}; }})()"
    )


def test_whatif_shows_why_this_prediction_as_a_waterfall(browser, churn_project) -> None:  # type: ignore[no-untyped-def]
    from apps.accounts.models import User

    dana = User.objects.get(username="dana")
    build = trained_build(churn_project, dana, churn_frame(), "churn", budget=15.0)
    page = browser.new_page()
    page.goto(f"/canvas/builds/{build.pk}/")
    login(page, "dana")
    page.goto(f"/canvas/builds/{build.pk}/")
    wait_for_scripts(page)
    expect(page.locator("#whatif-prediction")).to_have_text(re.compile(r"^(yes|no)$"))

    # A row the model reads as likely to churn: short tenure, high fee, the basic plan.
    page.locator('[data-column="tenure_months"]').fill("2")
    page.select_option('[data-column="plan"]', "basic")
    page.select_option('[data-column="paperless"]', "Y")
    page.locator('[data-column="monthly_fee"]').fill("115")
    expect(page.locator("#whatif-prediction")).to_have_text("yes")
    wait_until(
        page,
        f"{CHART}.data && {CHART}.data[0].y.includes('plan = basic')"
        f" && {CHART}.data[0].y.includes('tenure_months = 2')",
    )
    expect(page.locator("#whatif-why-chart .main-svg").first).to_be_attached()
    fig = _waterfall(page)
    assert fig["type"] == "waterfall"
    assert fig["y"][0] == "base value" and fig["y"][-1] == "prediction"
    assert fig["measure"][0] == "absolute" and fig["measure"][-1] == "total"
    assert fig["output"] == "probability of 'yes'"
    # the bars add up to the probability the card shows for the predicted class
    steps = sum(x for x, m in zip(fig["x"], fig["measure"], strict=True) if m != "total")
    assert steps == pytest.approx(fig["prediction"], abs=1e-9)
    shown = page.locator('#whatif-probabilities .prob-row[data-class="yes"] .small').inner_text()
    assert float(shown.strip().split()[0]) == pytest.approx(fig["prediction"] * 100, abs=0.051)
    contributions = dict(zip(fig["y"][1:-1], fig["x"][1:-1], strict=True))
    assert set(contributions) >= {"tenure_months = 2", "plan = basic", "monthly_fee = 115"}
    assert contributions["tenure_months = 2"] > 0  # a short tenure pushes towards churn
    expect(page.locator("#whatif-why-method")).to_contain_text("base value")
    expect(page.locator("#whatif-why-error")).to_be_hidden()
    page.locator("#whatif").scroll_into_view_if_needed()
    screenshot(page, "automl_why_prediction")

    # Another row: the waterfall follows (the latest row's answer, no reload).
    page.evaluate("window.__marker = 1")
    page.locator('[data-column="tenure_months"]').fill("70")
    page.select_option('[data-column="plan"]', "pro")
    page.locator('[data-column="monthly_fee"]').fill("30")
    expect(page.locator("#whatif-prediction")).to_have_text("no")
    wait_until(page, f"{CHART}.data[0].y.includes('plan = pro') && {CHART}.data[0].y.includes('tenure_months = 70')")
    fig = _waterfall(page)
    assert fig["output"] == "probability of 'no'"
    assert page.evaluate("window.__marker") == 1
