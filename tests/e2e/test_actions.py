"""Actions show what they started where the user clicked, and a refresh never re-sends a form (Post/Redirect/Get):
- "Predict every row" on a build page lands back on the batch card, which follows the started job live until it
  succeeds and links to the new dataset version;
- an Approved version's Deploy button opens the deploy form prefilled with that version; the form shows only the
  chosen type's settings; after Deploy the key is shown once and a reload neither re-posts nor fails.

Run with ATELIER_SCREENSHOTS=1 to (re)write docs/screenshots/actions_*.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from apps.core.storage import project_root, storage, walk_files
from tests.e2e.conftest import login, off_loop, screenshot, wait_for_scripts
from tests.factories import ProjectFactory, UserFactory, binary_frame, binary_model, register, trained_build

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


@pytest.fixture
def world(transactional_db) -> Iterator[dict]:  # type: ignore[no-untyped-def]
    project = ProjectFactory(name="Retention", slug="retention")
    dana = UserFactory(username="dana", personas=["data_scientist"], projects=[project])
    omar = UserFactory(username="omar", personas=["mlops_engineer"], projects=[project])

    def clean() -> None:
        for path, _ in list(walk_files(project_root(project.pk))):
            storage().delete(path)

    clean()
    yield {"project": project, "dana": dana, "omar": omar}
    off_loop(clean)


def _in_viewport(page, selector: str) -> bool:  # type: ignore[no-untyped-def]
    return page.evaluate(
        f"(() => {{ const r = document.querySelector({selector!r}).getBoundingClientRect();"
        " return r.top >= 0 && r.top < window.innerHeight; })()"
    )


def test_batch_prediction_shows_its_live_progress_in_the_batch_card(browser, studio_worker, world) -> None:  # type: ignore[no-untyped-def]
    build = trained_build(world["project"], world["dana"], binary_frame(80), "churn", budget=15.0)
    studio_worker()
    page = browser.new_page()
    page.goto(f"/canvas/builds/{build.pk}/")
    login(page, "dana")
    page.goto(f"/canvas/builds/{build.pk}/")
    wait_for_scripts(page)
    page.locator("#batch-start").click()

    assert re.search(r"\?job=\d+#batch$", page.url), page.url
    card = page.locator("#batch #started-job")
    expect(card).to_be_visible()
    assert _in_viewport(page, "#started-job"), "the started job is on screen, where the button was"
    expect(card.locator("[data-job-field=status]")).to_have_text("Succeeded", timeout=60_000)
    expect(page.locator("#started-job-result")).to_contain_text("predictions")  # the page reloaded at the end
    screenshot(page, "actions_batch_prediction")
    page.locator("#started-job-result").click()
    expect(page.locator("h1")).to_contain_text("predictions")


def test_deploy_from_the_registry_with_only_the_chosen_types_fields(browser, world) -> None:  # type: ignore[no-untyped-def]
    version = register(world["project"], world["omar"], binary_model(), group="churn", approve_by=world["omar"])
    page = browser.new_page()
    page.goto(f"/registry/versions/{version.pk}/")
    login(page, "omar")
    page.goto(f"/registry/versions/{version.pk}/")
    wait_for_scripts(page)
    page.locator("#deploy-version").click()

    expect(page.locator("#id_model_version")).to_have_value(str(version.pk))
    expect(page.locator("#id_name")).to_have_value("churn-v1")
    expect(page.locator("#id_type")).to_have_value("realtime")
    serverless = [page.locator("#id_idle_timeout_s"), page.locator("#id_max_concurrency")]
    webhook = page.locator("#id_webhook_url")
    for field in (*serverless, webhook):
        expect(field).to_be_hidden()
    page.locator("#id_type").select_option("serverless")
    for field in serverless:
        expect(field).to_be_visible()
    expect(webhook).to_be_hidden()
    page.locator("#id_type").select_option("async")
    expect(webhook).to_be_visible()
    for field in serverless:
        expect(field).to_be_hidden()
    screenshot(page, "actions_deploy_form")
    page.locator("#id_type").select_option("realtime")
    page.locator("#deploy").click()

    expect(page.locator("#new-key-value")).to_have_text(re.compile(r"^ep_[A-Za-z0-9_-]{40,}$"))
    assert re.search(r"/deployments/\d+/#new-key$", page.url), page.url
    page.reload()  # Post/Redirect/Get: a refresh is a GET of the endpoint page, not a second Deploy
    expect(page.locator("h1")).to_contain_text("churn-v1")
    expect(page.locator("#new-key-value")).to_have_count(0)  # the key was shown once
    assert "already exists" not in page.content()
    from apps.endpoints.models import Endpoint

    endpoints = off_loop(lambda: list(Endpoint.objects.values_list("name", "type", "idle_timeout_s")))
    assert [(n, t) for n, t, _ in endpoints] == [("churn-v1", "realtime")]
