"""The Data Wrangler in a real browser, with a real worker: upload a CSV and watch the import live, open the table
and the Data Quality and Insights report, build a flow of three transforms (each previewed before it is added),
run it on the full data and open the new version; the SQL editor on the way.

Run with ATELIER_SCREENSHOTS=1 to (re)write docs/screenshots/wrangler_*.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.conftest import clean_project_storage
from tests.e2e.conftest import login, off_loop, screenshot, wait_for_scripts
from tests.factories import ProjectFactory, UserFactory

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

JOB_TIMEOUT_MS = 45_000


def sales_csv() -> bytes:
    lines = ["order_id,region,price,qty,when"]
    for i in range(1, 241):
        region = ["north", "south", "east", "west"][i % 4]
        price = "" if i % 9 == 0 else f"{5 + (i * 37) % 120 + 0.25 * (i % 4):.2f}"
        lines.append(f"{i},{region},{price},{i % 6 + 1},2024-{(i % 12) + 1:02d}-{(i % 27) + 1:02d}")
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def project() -> Iterator[object]:
    project = ProjectFactory(name="Retail analytics", slug="retail", description="Store sales, cleaned weekly.")
    UserFactory(username="dana", personas=["data_scientist"], projects=[project])

    clean_project_storage(project)
    yield project
    off_loop(clean_project_storage, project)


def test_upload_profile_and_build_a_flow(browser, studio_worker, project):
    page = browser.new_page()
    page.goto("/data/datasets/")
    login(page, "dana")
    expect(page).to_have_url(re.compile(r"/data/datasets/$"))
    expect(page.locator("main h1")).to_have_text("Data Wrangler")
    expect(page.locator("#datasets .empty .title")).to_have_text("No datasets yet")
    wait_for_scripts(page)

    # Upload a CSV: the import is a job, followed live on the page.
    page.set_input_files("#id_file", files=[{"name": "sales.csv", "mimeType": "text/csv", "buffer": sales_csv()}])
    page.locator("#upload-submit").click()
    expect(page).to_have_url(re.compile(r"/data/datasets/\?job=\d+#imports$"))
    expect(page.locator("#imports .job-progress")).to_have_attribute("data-status", "queued")
    studio_worker()
    row = page.locator("#datasets table tbody tr", has_text="sales")
    expect(row).to_contain_text("240", timeout=JOB_TIMEOUT_MS)
    expect(row).to_contain_text("v1")
    expect(page.locator("#imports .badge").first).to_have_text("Succeeded")
    screenshot(page, "wrangler_datasets")

    # The dataset: versions, lineage, a paged table with a mini histogram per column.
    row.locator("a", has_text="sales").click()
    expect(page.locator("#dataset-name")).to_have_text("sales")
    expect(page.locator("#table-view h2")).to_have_text("Rows 1–50 of 240")
    expect(page.locator("#data-table thead svg.hist")).to_have_count(5)
    expect(page.locator("#data-table tbody tr")).to_have_count(50)
    page.locator("#next-page").click()
    expect(page.locator("#table-view h2")).to_have_text("Rows 51–100 of 240")
    screenshot(page, "wrangler_dataset")

    # The Data Quality and Insights report, computed by the worker with a target.
    page.locator("#open-report").click()
    expect(page.locator("main h1")).to_have_text("Data quality and insights")
    expect(page.locator("main .empty .title")).to_have_text("No report yet")
    page.locator("#target").select_option("qty")
    page.locator("#profile-start").click()
    expect(page.locator("#warnings")).to_be_visible(timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#warnings")).to_contain_text("price is missing")
    expect(page.locator("#target-analysis h2")).to_have_text("Target: qty")
    expect(page.locator('#charts .chart[data-key="overview.missing"] svg').first).to_be_visible(timeout=20_000)
    expect(page.locator("#download-html")).to_have_attribute("href", re.compile(r"format=html$"))
    screenshot(page, "wrangler_report")

    # A flow from this version: three transforms, each previewed on a sample before it is added.
    page.locator("#report-dataset").click()
    page.locator("#new-flow").click()
    page.locator("#id_name").fill("Clean sales")
    page.locator("#flow-create-submit").click()
    expect(page.locator("#flow-name")).to_have_text("Clean sales")
    wait_for_scripts(page)

    def add_step(op: str, fill, check_preview: str) -> None:  # type: ignore[no-untyped-def]
        page.locator("#op-select").select_option(op)
        expect(page.locator("#step-form input[name=op]")).to_have_value(op)
        fill()
        page.locator("#step-preview").click()
        expect(page.locator("#preview-title")).to_contain_text("Preview of the new step")
        expect(page.locator("#preview")).to_contain_text(check_preview)
        page.locator("#step-save").click()
        expect(page.locator(".messages")).to_contain_text("added")
        wait_for_scripts(page)

    add_step(
        "fill_missing",
        lambda: (page.locator("#id_p_columns").select_option(["price"]), page.locator("#id_p_value").fill("0")),
        "240 rows × 5 columns",
    )
    add_step("filter_rows", lambda: page.locator("#id_p_expression").fill("qty > 2"), "160 rows × 5 columns")
    add_step("drop_columns", lambda: page.locator("#id_p_columns").select_option(["when"]), "160 rows × 4 columns")
    expect(page.locator("#step-list li")).to_have_count(3)
    expect(page.locator("#step-list")).to_contain_text("Drop columns")
    expect(page.locator("#preview-table thead th")).to_have_count(4)

    # An analysis of the last step, saved with the flow.
    page.locator("#id_kind").select_option("box")
    expect(page.locator('[data-analysis-field="column"]')).to_be_visible()
    page.locator("#id_column").select_option("price")
    page.locator("#id_by").select_option("region")
    page.locator("#analysis-add").click()
    expect(page.locator("#analyses .analysis")).to_have_count(1)
    expect(page.locator("#analyses .analysis .chart svg").first).to_be_visible(timeout=20_000)
    expect(page.locator('[data-analysis-field="by"]')).to_be_hidden()  # the form is back on histogram
    page.evaluate("window.scrollTo(0, 0)")  # the page opened at #analyses; shoot it from the top
    screenshot(page, "wrangler_flow")

    # Run the flow on the full data: a job that writes a new dataset version.
    page.locator("#id_output_name").fill("sales clean")
    page.locator("#run-flow").click()
    expect(page).to_have_url(re.compile(r"/data/flows/\d+/\?job=\d+#run$"))
    output = page.locator("#run-outputs a", has_text="sales clean v1")
    expect(output).to_be_visible(timeout=JOB_TIMEOUT_MS)
    output.click()
    expect(page.locator("#dataset-name")).to_have_text("sales clean")
    expect(page.locator("#table-view h2")).to_have_text("Rows 1–50 of 160")
    expect(page.locator("#lineage")).to_contain_text("sales v1")
    expect(page.locator("#version")).to_contain_text("Clean sales")
    screenshot(page, "wrangler_flow_output")

    # The SQL editor over the project's datasets.
    page.goto("/data/sql/")
    page.locator("#id_query").fill(
        "SELECT region, count(*) AS orders, round(avg(price), 2) AS avg_price\n"
        "FROM sales_clean GROUP BY region ORDER BY orders DESC"
    )
    page.locator("#sql-run").click()
    expect(page.locator("#sql-result h2")).to_contain_text("4 rows")
    expect(page.locator("#sql-result table tbody tr")).to_have_count(4)
    screenshot(page, "wrangler_sql")
