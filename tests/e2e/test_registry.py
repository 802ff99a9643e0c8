"""The Model Registry in a real browser: an MLOps engineer opens a version registered from Canvas, approves it with
a description and sees the history entry; then compares two versions side by side and downloads the MLflow export.

Run with ATELIER_SCREENSHOTS=1 to (re)write docs/screenshots/registry_*.png.
"""

from __future__ import annotations

import re
import tempfile
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.automl.models import AutomlBuild
from apps.core.storage import project_root, storage, walk_files
from apps.registry import services
from apps.registry.models import ModelVersion
from tests.e2e.conftest import login, off_loop, screenshot, wait_for_scripts
from tests.factories import ProjectFactory, UserFactory, make_version
from tests.registry.conftest import canvas_version, churn_frame, crafted_pickles, logistic_skops

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

NOTE = "Bias review passed; p95 latency 12 ms on the staging endpoint."


@pytest.fixture
def versions() -> Iterator[list[ModelVersion]]:
    project = ProjectFactory(name="Customer care", slug="care", description="Churn models.")
    dana = UserFactory(username="dana", personas=["data_scientist"], projects=[project])
    UserFactory(username="omar", personas=["mlops_engineer"], projects=[project])

    def clean() -> None:
        for path, _ in list(walk_files(project_root(project.pk))):
            storage().delete(path)

    clean()
    data = make_version(project, dana, churn_frame(), name="subscribers")
    build = AutomlBuild.objects.create(
        project=project,
        created_by=dana,
        dataset_version=data,
        target="churn",
        problem_type="binary",
        objective="roc_auc",
        name="Churn build",
    )
    v1 = canvas_version(project, dana, group="churn-model", seed=0, dataset_version=data, automl_build=build)
    v2 = canvas_version(project, dana, group="churn-model", seed=1, dataset_version=data, automl_build=build)
    services.alias_set(version=v1, name="champion")
    services.version_update(version=v2, description="Refit with two more trials.", tags={"team": "retention"})
    services.group_update(group=v1.group, description="Predicts which subscribers cancel next month.")
    yield [v1, v2]
    off_loop(clean)


def test_approve_a_version_and_compare(browser, versions, tmp_path):
    _, v2 = versions
    page = browser.new_page()
    page.goto("/registry/")
    login(page, "omar")
    expect(page).to_have_url(re.compile(r"/registry/$"))
    row = page.locator('#groups tr[data-group="churn-model"]')
    expect(row).to_contain_text("2")
    expect(row).to_contain_text("Pending approval")

    row.locator("a").click()
    expect(page.locator("main h1")).to_have_text("churn-model")
    expect(page.locator("#versions tr[data-version]")).to_have_count(2)
    expect(page.locator("#group-aliases")).to_contain_text("@champion")
    screenshot(page, "registry_group")
    page.locator('#versions tr[data-version="2"] a').first.click()

    expect(page).to_have_url(re.compile(rf"/registry/versions/{v2.pk}/$"))
    expect(page.locator("#version-status")).to_have_text("Pending approval")
    expect(page.locator("#signature")).to_contain_text("colour")
    expect(page.locator("#lineage-dataset")).to_have_text("subscribers v1")
    expect(page.locator("#lineage-build")).to_be_visible()
    page.locator("#approval-note").fill(NOTE)
    page.locator("#approve").click()

    expect(page).to_have_url(re.compile(rf"/registry/versions/{v2.pk}/#approval$"))
    expect(page.locator("#version-status")).to_have_text("Approved")
    expect(page.locator(".messages")).to_contain_text("now approved")
    latest = page.locator("#history tr.history-entry").first
    expect(latest).to_contain_text("Pending approval")
    expect(latest).to_contain_text("Approved")
    expect(latest).to_contain_text("omar")
    expect(latest).to_contain_text(NOTE)
    expect(page.locator("#history tr.history-entry")).to_have_count(2)
    expect(page.locator("#approve")).to_be_disabled()
    assert off_loop(lambda: ModelVersion.objects.get(pk=v2.pk).approval_by.username) == "omar"
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "registry_version")

    with page.expect_download() as download_info:
        page.locator("#export-mlflow").click()
    download = download_info.value
    assert download.suggested_filename == "churn-model-v2-mlflow.zip"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert "churn-model-v2/MLmodel" in zipfile.ZipFile(saved).namelist()

    page.locator("#compare-link").click()
    expect(page).to_have_url(re.compile(r"/registry/compare/\?versions="))
    wait_for_scripts(page)
    expect(page.locator("#compare-chart .main-svg").first).to_be_attached()
    expect(page.locator("#compare-metrics td.best").first).to_be_visible()
    expect(page.locator("#compare th").nth(1)).to_contain_text("churn-model v2")
    screenshot(page, "registry_compare")


def test_import_form_refuses_a_pickle_and_imports_skops(browser, versions, tmp_path):
    """Through the real ASGI server: a crafted pickle is refused (the canary never appears), a skops file imports."""
    canary = Path(tempfile.gettempdir()) / f"atelier-canary-{uuid.uuid4().hex}"
    evil = tmp_path / "model.pkl"
    evil.write_bytes(crafted_pickles(canary)["model.pkl"])
    good = tmp_path / "pipeline.skops"
    good.write_bytes(logistic_skops())

    page = browser.new_page()
    page.goto("/registry/import/")
    login(page, "dana")
    expect(page.locator("main h1")).to_have_text("Import a model")
    page.locator("#id_file").set_input_files(str(evil))
    page.locator("#id_group").fill("notebook-model")
    page.locator("#import-submit").click()
    expect(page.locator("#import-form")).to_contain_text("pickles are never loaded")
    assert not canary.exists()
    screenshot(page, "registry_import_refused")

    page.locator("#id_file").set_input_files(str(good))
    page.locator("#import-submit").click()
    expect(page).to_have_url(re.compile(r"/registry/versions/\d+/$"))
    expect(page.locator(".messages")).to_contain_text("Imported notebook-model v1 (skops (imported))")
    expect(page.locator("#signature")).to_contain_text("income")
    expect(page.locator("#approval-rule")).to_be_visible()  # a data scientist does not approve
    assert not canary.exists()
