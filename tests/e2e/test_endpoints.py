"""Endpoints in a real browser: an MLOps engineer deploys an approved version (the key is shown once), uses "try it"
with a temporary key (the request goes through the real /endpoints/<name>/invocations hot path of the same server),
sees a schema error named, sends more requests and watches the latency chart fill in; then revokes a key.

Run with ATELIER_SCREENSHOTS=1 to (re)write docs/screenshots/endpoints_*.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from apps.core.storage import project_root, storage, walk_files
from tests.e2e.conftest import login, off_loop, screenshot, wait_for_scripts, wait_until
from tests.factories import ProjectFactory, UserFactory, binary_model, register

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


@pytest.fixture
def world(transactional_db) -> Iterator[dict]:  # type: ignore[no-untyped-def]
    project = ProjectFactory(name="Retention", slug="retention")
    omar = UserFactory(username="omar", personas=["mlops_engineer"], projects=[project])

    def clean() -> None:
        for path, _ in list(walk_files(project_root(project.pk))):
            storage().delete(path)

    clean()
    version = register(project, omar, binary_model(), group="churn", approve_by=omar)
    register(project, omar, binary_model(flip=True), group="churn-pending")  # not approved: never offered
    yield {"project": project, "user": omar, "version": version}
    clean()


def test_deploy_try_it_and_latency_chart(browser, world) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    page.goto("/deployments/")
    login(page, "omar")
    page.goto("/deployments/")
    wait_for_scripts(page)
    page.locator("#new-endpoint").click()
    expect(page.locator("#id_model_version")).to_contain_text("churn v1")
    assert "churn-pending" not in page.locator("#id_model_version").inner_text()
    screenshot(page, "endpoints_create")
    page.locator("#id_name").fill("churn-live")
    page.locator("#id_capture_percent").fill("100")
    page.locator("#deploy").click()
    expect(page.locator("#new-key-value")).to_have_text(re.compile(r"^ep_[A-Za-z0-9_-]{40,}$"))
    wait_for_scripts(page)

    # "try it" with a temporary key, through the real invocation URL
    page.locator("#try-temp-key").click()
    expect(page.locator("#try-key")).to_have_value(re.compile(r"^ep_"))
    expect(page.locator("#try-status")).to_contain_text("ready")
    expect(page.locator("#try-body")).to_contain_text("dataframe_records")
    page.locator("#try-send").click()
    expect(page.locator("#try-status")).to_contain_text("HTTP 200", timeout=20_000)
    expect(page.locator("#try-response")).to_contain_text('"predictions"')

    # a schema error names the column
    page.locator("#try-body").fill('{"dataframe_records": [{"x1": 1.0, "colour": "red"}]}')
    page.locator("#try-send").click()
    expect(page.locator("#try-status")).to_contain_text("HTTP 400")
    expect(page.locator("#try-response")).to_contain_text('"x2"')

    # more traffic, then the charts fill in (metrics are flushed by the server, the page refreshes itself)
    page.locator("#try-body").fill('{"dataframe_records": [{"x1": 1.0, "x2": 0.5, "colour": "red"}]}')
    page.locator("#try-proba").check()
    for _ in range(8):
        page.locator("#try-send").click()
        expect(page.locator("#try-status")).to_contain_text("HTTP 200")
    expect(page.locator("#try-response")).to_contain_text('"probabilities"')
    wait_until(
        page,
        "(() => { const el = document.getElementById('chart-latency');"
        " return el && el.data && el.data[0].y.some(v => v !== null); })()",
        timeout=20_000,
    )
    expect(page.locator("#total-invocations")).not_to_have_text("0", timeout=10_000)
    p50 = page.evaluate("document.getElementById('chart-latency').data[0].y.filter(v => v !== null)")
    assert p50 and all(v > 0 for v in p50)
    errors = page.evaluate("document.getElementById('chart-errors').data[0].y.filter(v => v !== null)")
    assert errors and max(errors) > 0, "the 400 shows in the error rate"
    expect(page.locator("#snippet-curl")).to_contain_text("/endpoints/churn-live/invocations")
    expect(page.locator("#snippet-python")).to_contain_text("requests.post")
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "endpoints_detail")

    # keys: two active (the first and the temporary one); revoke the first
    page.goto("/deployments/")
    page.get_by_role("link", name="churn-live").click()
    expect(page.locator("#new-key-value")).to_have_count(0)  # the key was shown once
    expect(page.locator("#keys .revoke-key")).to_have_count(2)
    page.locator("#keys .revoke-key").first.click()
    expect(page.locator("#keys .badge.failed")).to_have_count(1)
    from apps.endpoints.models import EndpointKey

    states = off_loop(lambda: sorted(k.revoked_at is None for k in EndpointKey.objects.all()))
    assert states == [False, True]
