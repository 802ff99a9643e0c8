"""Built-in algorithms in a real browser, with a real worker: pick a dataset version, columns and options, see a bad
option refused next to its field, start a k-means run and watch it finish live, read its charts and open the output
dataset version; then an isolation forest with its score histogram and most anomalous rows, and a PCA.

Run with ATELIER_SCREENSHOTS=1 to (re)write docs/screenshots/unsupervised_*.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from apps.core.storage import project_root, storage, walk_files
from tests.e2e.conftest import login, off_loop, screenshot, wait_for_scripts
from tests.factories import ProjectFactory, UserFactory
from tests.unsupervised.data import make_version

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

RUN_TIMEOUT_MS = 60_000


def sensors_frame(n: int = 300) -> pd.DataFrame:
    """Three operating regimes of a machine, plus four readings that mix the regimes (each value is usual on its
    own, the combination is not)."""
    rng = np.random.default_rng(11)
    regime = rng.integers(0, 3, n)
    centres = np.array([[20.0, 1.0, 0.2], [35.0, 1.6, 0.5], [50.0, 1.2, 1.1]])
    spread = np.array([2.0, 0.08, 0.06])
    X = centres[regime] + rng.normal(size=(n, 3)) * spread
    X[:4] = [[20.0, 1.0, 1.1], [50.0, 1.0, 0.2], [50.0, 1.6, 0.2], [20.0, 1.6, 0.5]]
    return pd.DataFrame(
        {
            "reading_id": np.arange(1, n + 1),
            "temperature": X[:, 0].round(2),
            "pressure": X[:, 1].round(3),
            "vibration": X[:, 2].round(3),
            "site": pd.array(rng.choice(["north", "south"], n), "string"),
        }
    )


@pytest.fixture
def project() -> Iterator[object]:
    project = ProjectFactory(name="Plant floor", slug="plant", description="Sensor data.")
    user = UserFactory(username="dana", personas=["data_scientist"], projects=[project])

    def clean() -> None:
        for path, _ in list(walk_files(project_root(project.pk))):
            storage().delete(path)

    clean()
    make_version(project, user, sensors_frame(), name="sensors")
    yield project
    off_loop(clean)


def _wait_for_result(page) -> None:  # type: ignore[no-untyped-def]
    expect(page).to_have_url(re.compile(r"/canvas/unsupervised/\d+/$"))
    expect(page.locator("#run-progress")).to_be_visible()
    expect(page.locator("#run-status")).to_have_text("Succeeded", timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#charts")).to_be_visible(timeout=15_000)  # the page reloads when the job ends
    wait_for_scripts(page)


def test_kmeans_and_isolation_forest_runs(browser, studio_worker, project):
    page = browser.new_page()
    page.goto("/canvas/unsupervised/")
    login(page, "dana")
    expect(page).to_have_url(re.compile(r"/canvas/unsupervised/$"))
    expect(page.locator("main h1")).to_have_text("Unsupervised")
    expect(page.locator("#runs .empty .title")).to_have_text("No runs yet")
    wait_for_scripts(page)

    # Only the chosen algorithm's options show.
    expect(page.locator("#id_algorithm")).to_have_value("kmeans")
    expect(page.locator('fieldset[data-algorithm="kmeans"]')).to_be_visible()
    expect(page.locator('fieldset[data-algorithm="pca"]')).to_be_hidden()
    expect(page.locator('fieldset[data-algorithm="isolation_forest"]')).to_be_hidden()

    # A bad option is refused next to its field, and the choices are kept.
    page.select_option("#id_columns", ["temperature", "pressure", "vibration"])
    page.locator("#id_k").fill("1")
    page.locator("#start-run").click()
    expect(page.locator("#k-error")).to_contain_text("k must be 'auto' or a whole number of at least 2")
    wait_for_scripts(page)
    selected = page.eval_on_selector("#id_columns", "el => Array.from(el.selectedOptions).map(o => o.value)")
    assert selected == ["temperature", "pressure", "vibration"]
    screenshot(page, "unsupervised_setup")

    page.locator("#id_k").fill("auto")
    page.locator("#id_k_max").fill("6")
    studio_worker()
    page.locator("#start-run").click()
    _wait_for_result(page)
    expect(page.locator("#info-k")).to_contain_text("3")
    expect(page.locator("#info-new-columns")).to_have_text("cluster")
    for name in ("k", "sizes", "scatter"):
        expect(page.locator(f"#chart-{name}.js-plotly-plot .main-svg").first).to_be_attached()
    expect(page.locator("#chart-k")).to_contain_text("chosen k = 3")
    screenshot(page, "unsupervised_kmeans")

    # The output is a new dataset version with the cluster column.
    page.locator("#output-version a").click()
    expect(page).to_have_url(re.compile(r"/data/datasets/\d+/\?v=\d+$"))
    expect(page.locator("main h1")).to_contain_text("sensors kmeans")
    expect(page.locator("#data-table thead .cname").last).to_have_text("cluster")

    # An isolation forest on the same data: the score histogram with its threshold and the top rows.
    page.goto("/canvas/unsupervised/")
    wait_for_scripts(page)
    page.select_option("#id_algorithm", "isolation_forest")
    expect(page.locator('fieldset[data-algorithm="kmeans"]')).to_be_hidden()
    page.select_option("#id_columns", ["temperature", "pressure", "vibration"])
    page.locator("#id_contamination").fill("0.02")
    page.locator("#start-run").click()
    _wait_for_result(page)
    expect(page.locator("#chart-scores.js-plotly-plot .main-svg").first).to_be_attached()
    expect(page.locator("#chart-scores")).to_contain_text("threshold")
    rows = page.locator("#top-rows tr.anomaly")
    expect(rows).to_have_count(20)
    top_four = {rows.nth(i).locator("td").first.inner_text() for i in range(4)}
    assert top_four == {"1", "2", "3", "4"}  # the four planted readings score highest
    expect(page.locator("#info-flagged")).to_contain_text("of 300")
    screenshot(page, "unsupervised_isolation_forest")

    # PCA on every usable column (none picked): the id column is left out, the label column one-hot encoded.
    page.goto("/canvas/unsupervised/")
    wait_for_scripts(page)
    page.select_option("#id_algorithm", "pca")
    page.locator("#id_n_components").fill("3")
    page.locator("#start-run").click()
    _wait_for_result(page)
    expect(page.locator("#info-columns")).to_have_text("temperature, pressure, vibration, site")
    expect(page.locator("#info-new-columns")).to_have_text("pc1, pc2, pc3")
    for name in ("variance", "scatter"):
        expect(page.locator(f"#chart-{name}.js-plotly-plot .main-svg").first).to_be_attached()
    screenshot(page, "unsupervised_pca")

    page.goto("/canvas/unsupervised/")
    expect(page.locator("#runs tbody tr")).to_have_count(3)
    expect(page.locator("#runs tbody")).not_to_contain_text("Failed")
    screenshot(page, "unsupervised_list")
