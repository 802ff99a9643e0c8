"""Clarify in a real browser, with a real worker: from a dataset version's page run a bias report (a refused start
first, its error next to the field), read the flags, set a threshold and see the flag go; from a registry version's
page run a report with the model (post-training metrics and SHAP); run a mitigation (resampling) and see before /
after. Screenshots at 390 and 1440 px wide.

Run with ATELIER_SCREENSHOTS=1 to (re)write docs/screenshots/clarify_*.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.conftest import clean_project_storage
from tests.e2e.conftest import login, off_loop, screenshot, wait_for_scripts
from tests.factories import ProjectFactory, UserFactory, make_version, trained_build

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

REPORT_TIMEOUT_MS = 180_000


def loans_frame(n: int = 600, seed: int = 3) -> pd.DataFrame:
    """Loan decisions biased against gender F (30 % approved against 60 %), with income and age that matter."""
    rng = np.random.default_rng(seed)
    gender = rng.choice(["M", "F"], size=n, p=[0.65, 0.35])
    age = rng.integers(18, 70, size=n)
    income = rng.normal(50, 15, size=n).round(1)
    logit = 0.05 * (income - 50) + np.where(gender == "F", -1.2, 0.4)
    approved = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "Yes", "No")
    return pd.DataFrame(
        {
            "gender": pd.array(gender, "string"),
            "age": age,
            "income": income,
            "approved": pd.array(approved, "string"),
        }
    )


@pytest.fixture
def lending() -> Iterator[dict[str, Any]]:
    """Project "Lending": data scientist dana, MLOps omar, dataset "loans", a Canvas build on it and its best
    candidate registered as model version "loans-model" v1."""
    from apps.automl.services import automl_register

    project = ProjectFactory(name="Lending", slug="lending", description="Loan approvals.")
    dana = UserFactory(username="dana", personas=["data_scientist"], projects=[project])
    UserFactory(username="omar", personas=["mlops_engineer"], projects=[project])
    clean_project_storage(project)
    frame = loans_frame()
    version = make_version(project, dana, frame, name="loans")
    build = trained_build(project, dana, frame, "approved", budget=20.0)
    build.dataset_version = version
    build.save(update_fields=["dataset_version"])
    model_version = automl_register(build=build, created_by=dana, name="loans-model")
    yield {"project": project, "version": version, "build": build, "model_version": model_version}
    off_loop(clean_project_storage, project)


def _wait_for_report(page: Any) -> None:
    expect(page).to_have_url(re.compile(r"/clarify/\d+/$"))
    expect(page.locator("#metrics")).to_be_visible(timeout=REPORT_TIMEOUT_MS)  # the page reloads when the job ends
    wait_for_scripts(page)


def _pick(page: Any, label: str, label_values: list[str], facet: str, facet_values: list[str]) -> None:
    page.select_option("#id_label", label)
    page.select_option("#id_label_values", label_values)
    page.select_option("#id_facet_1", facet)
    page.select_option("#id_facet_1_values", facet_values)


def _row(page: Any, facet: str, value: str, metric: str) -> Any:
    return page.locator(f'table.metric-table[data-facet="{facet}"][data-value="{value}"] tr[data-metric="{metric}"]')


def _shots(page: Any, name: str) -> None:
    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(300)  # charts resize
        screenshot(page, f"{name}_{width}")
    page.set_viewport_size({"width": 1366, "height": 900})


def test_bias_report_thresholds_model_and_mitigation(browser, studio_worker, lending):
    version, model_version = lending["version"], lending["model_version"]
    page = browser.new_page()
    page.goto(f"/data/datasets/{version.dataset_id}/")
    login(page, "dana")
    expect(page.locator("#clarify-reports")).to_contain_text("No bias report yet")

    # "Check bias" opens the start form with this version chosen; the value pickers follow the chosen column.
    page.locator("#check-bias").click()
    expect(page).to_have_url(re.compile(rf"/clarify/\?version={version.pk}#report-setup$"))
    wait_for_scripts(page)
    expect(page.locator("#id_version")).to_have_value(str(version.pk))
    page.select_option("#id_label", "approved")
    expect(page.locator('#id_label_values optgroup[data-column="approved"]')).to_be_visible()
    expect(page.locator('#id_label_values optgroup[data-column="gender"]')).to_be_hidden()
    # A column whose values are all known is picked, never typed; a numeric one takes a threshold.
    expect(page.locator("#id_label_values_text")).to_be_hidden()
    expect(page.locator("#id_label_threshold")).to_be_hidden()
    page.select_option("#id_facet_2", "age")
    expect(page.locator("#id_facet_2_threshold")).to_be_visible()
    expect(page.locator("#id_facet_2_values")).to_be_hidden()
    page.select_option("#id_facet_2", "")

    # Refused: no positive label value; the error is next to the field and the facet choice is kept.
    page.select_option("#id_facet_1", "gender")
    page.select_option("#id_facet_1_values", ["F"])
    page.locator("#start-report").click()
    expect(page.locator("#label_values-error")).to_contain_text("Pick the positive label value(s) or give a threshold")
    wait_for_scripts(page)
    assert page.eval_on_selector("#id_facet_1_values", "el => [...el.selectedOptions].map(o => o.value)") == ["F"]
    _shots(page, "clarify_setup")

    studio_worker()
    _pick(page, "approved", ["Yes"], "gender", ["F"])
    page.locator("#id_name").fill("Loans by gender")
    page.locator("#start-report").click()
    _wait_for_report(page)
    data_report_url = page.url
    dpl = _row(page, "gender", "F", "DPL")
    expect(dpl.locator(".metric-flag")).to_have_text("flagged")  # 0.6 vs 0.3 approved
    expect(page.locator("#flag-count")).to_contain_text("past")
    expect(page.locator("#bias-kinds")).to_contain_text("Out of scope for automated checks")
    expect(page.locator("#chart-rates-0.js-plotly-plot .main-svg").first).to_be_attached()
    _shots(page, "clarify_data")

    # A threshold of the user's: the DPL flag goes, the value stays.
    value = dpl.locator(".metric-value").inner_text()
    page.locator("#id_t_DPL").fill("0.9")
    page.locator("#save-thresholds").click()
    expect(page).to_have_url(re.compile(r"/clarify/\d+/#thresholds$"))
    dpl = _row(page, "gender", "F", "DPL")
    expect(dpl.locator(".metric-flag")).to_have_text("passes")
    expect(dpl.locator(".metric-threshold")).to_have_text("0.9")
    assert dpl.locator(".metric-value").inner_text() == value
    # Emptied, the box puts DPL back to its default threshold: flagged again.
    page.locator("#id_t_DPL").fill("")
    page.locator("#save-thresholds").click()
    expect(_row(page, "gender", "F", "DPL").locator(".metric-flag")).to_have_text("flagged")

    # From the model version's page: the form comes with the model and its target; post-training metrics and SHAP.
    page.goto(f"/registry/versions/{model_version.pk}/")
    page.locator("#check-bias").click()
    wait_for_scripts(page)
    expect(page.locator("#id_model")).to_have_value(f"mv:{model_version.pk}")
    expect(page.locator("#id_label")).to_have_value("approved")
    page.select_option("#id_label_values", ["Yes"])
    page.select_option("#id_facet_1", "gender")
    page.select_option("#id_facet_1_values", ["F"])
    page.locator("#start-report").click()
    _wait_for_report(page)
    expect(page.locator("#report-model")).to_contain_text("loans-model v1")
    expect(_row(page, "gender", "F", "DPPL")).to_be_visible()
    expect(_row(page, "gender", "F", "DI")).to_be_visible()
    expect(page.locator("#chart-shap-bar.js-plotly-plot .main-svg").first).to_be_attached()
    expect(page.locator("#chart-confusion-0-0.js-plotly-plot .main-svg").first).to_be_attached()
    _shots(page, "clarify_report")
    page.goto(f"/registry/versions/{model_version.pk}/")
    expect(page.locator("#clarify-reports li")).to_have_count(1)

    # Mitigation on the data report: resample, then before / after.
    page.goto(data_report_url)
    wait_for_scripts(page)
    page.select_option("#id_kind", "resample")
    page.select_option("#id_facet", "gender")
    page.locator("#start-mitigation").click()
    _wait_for_report(page)
    expect(page.locator("#parent-report")).to_contain_text("Loans by gender")
    panel = page.locator("#before-after")
    expect(panel).to_be_visible()
    before_after = panel.locator('tr[data-metric="DPL"]')
    expect(before_after).to_be_visible()
    cells = before_after.locator("td.num")
    before, after = (float(cells.nth(i).inner_text().replace("−", "-")) for i in (0, 1))
    assert abs(after) < abs(before) / 2, (before, after)  # resampling moves DPL toward 0
    _shots(page, "clarify_before_after")
