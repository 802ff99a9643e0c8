"""The app under its Content-Security-Policy in a real Chromium (issue 12, item 9): chart pages with every plotly
trace type the app draws (WebGL scatter included), Swagger UI, a job page with its live WebSocket and the admin's
periodic-task form run without a single CSP violation or console error."""

from __future__ import annotations

from typing import Any

import pytest

from apps.accounts.models import Project
from apps.datasets.models import FlowAnalysis
from apps.jobs.models import Job
from tests.e2e.conftest import login, wait_for_scripts, wait_until
from tests.factories import ProjectFactory, UserFactory
from tests.permissions import _build_data

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

# Recorded in every document before its own scripts run: the policy violations the browser reports.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (ev) => {
  window.__cspViolations.push(ev.violatedDirective + " blocked " + (ev.blockedURI || "inline") + " at " +
    ev.sourceFile + ":" + ev.lineNumber);
});
"""

# One figure per plotly trace type the app's chart builders use (apps/*/charts.py, apps/datasets/analyses.py).
FIGURES: dict[str, dict[str, Any]] = {
    "scattergl": {"data": [{"type": "scattergl", "mode": "markers", "x": [1, 2, 3, 4], "y": [3, 1, 4, 1]}]},
    "scatter": {"data": [{"type": "scatter", "mode": "lines+markers", "x": [1, 2, 3], "y": [2, 7, 1]}]},
    "bar": {"data": [{"type": "bar", "x": ["a", "b"], "y": [3, 5]}]},
    "histogram": {"data": [{"type": "histogram", "x": [1, 1, 2, 3, 3, 3]}]},
    "box": {"data": [{"type": "box", "y": [1, 2, 3, 4, 10]}]},
    "heatmap": {"data": [{"type": "heatmap", "z": [[1, 0.2], [0.2, 1]], "x": ["u", "v"], "y": ["u", "v"]}]},
}


def _watch(page: Any, problems: list[str]) -> None:
    """Collect console errors (Chromium also logs every CSP refusal there) and uncaught exceptions of the page."""
    page.add_init_script(RECORD_VIOLATIONS)

    def on_console(msg: Any) -> None:
        # The admin's pages declare no icon, so the browser asks for /favicon.ico (404): not a policy matter.
        if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):
            problems.append(f"{page.url}: console {msg.type}: {msg.text} {msg.location}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))


def _violations(page: Any) -> list[str]:
    return page.evaluate("window.__cspViolations || []")


def test_charts_swagger_job_and_admin_work_under_the_policy(browser) -> None:  # type: ignore[no-untyped-def]
    project_a = ProjectFactory(name="Alpha", slug="alpha")
    project_b = ProjectFactory(name="Bravo", slug="bravo")
    dana = UserFactory(username="dana", personas=["data_scientist"], projects=[project_a])
    UserFactory(username="ada", personas=["admin"])
    owner_b = UserFactory(username="bob", personas=["data_scientist"], projects=[project_b])
    data = _build_data({"a": project_a, "b": project_b}, {"a": dana, "b": owner_b})
    flow = data.flows["a"]
    for kind, figure in FIGURES.items():
        FlowAnalysis.objects.create(flow=flow, kind="histogram", title=f"csp-{kind}", step_id="s1", figure=figure)
    analyses = {a.title: a.pk for a in FlowAnalysis.objects.filter(flow=flow, title__startswith="csp-")}
    job = Job.objects.create(
        kind="core.storage_report", project=Project.objects.get(pk=project_a.pk), title="csp job", created_by=dana
    )

    problems: list[str] = []
    page = browser.new_page()
    _watch(page, problems)
    page.goto("/accounts/login/")
    login(page, "dana")
    page.wait_for_url("**/")

    # Charts: every trace type draws (a plot container with an SVG layer; WebGL scatter also its canvas).
    response = page.goto(f"/data/flows/{flow.pk}/")
    policy = response.headers.get("content-security-policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}  # their order varies
    assert directives.get("script-src") == ["'self'"] and "unsafe-eval" not in policy, policy
    wait_for_scripts(page)
    for kind in FIGURES:
        chart = page.locator(f"#analysis-{analyses[f'csp-{kind}']} .chart")
        expect(chart.locator(".plot-container svg.main-svg").first).to_be_visible()
    expect(page.locator(f"#analysis-{analyses['csp-scattergl']} .chart canvas").first).to_be_attached()
    expect(page.locator(f"#analysis-{analyses['csp-bar']} .chart g.point").first).to_be_attached()
    assert not _violations(page), _violations(page)
    # Confirmations are data-confirm attributes handled once by atelier.js (no inline onsubmit): asked once, and
    # dismissing it keeps the flow.
    dialogs: list[str] = []

    def dismiss(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.locator("form[data-confirm] button.danger").first.click()
    page.remove_listener("dialog", dismiss)
    assert dialogs == ["Delete this flow and its analyses? Dataset versions it wrote stay."]
    expect(page.locator(f"#analysis-{analyses['csp-bar']}")).to_be_visible()

    # A job page: its live WebSocket (connect-src) opens and delivers the job's state.
    page.goto(f"/jobs/{job.pk}/")
    wait_for_scripts(page)
    wait_until(page, "document.body.dataset.live === 'ws'", timeout=15_000)
    assert not _violations(page), _violations(page)

    # Swagger UI (drf-spectacular-sidecar's files and the split view's init script) renders the schema.
    page.goto("/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Atelier API", timeout=30_000)
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    assert not _violations(page), _violations(page)

    # The admin console, including the periodic-task form whose inline script became a static file.
    admin_page = browser.new_page()
    _watch(admin_page, problems)
    admin_page.goto("/admin/login/")
    admin_page.locator("#id_username").fill("ada")
    admin_page.locator("#id_password").fill("correct-horse-battery")
    admin_page.locator("input[type=submit]").click()
    admin_page.wait_for_url("**/admin/")
    admin_page.goto("/admin/django_celery_beat/periodictask/add/")
    expect(admin_page.locator(".field-crontab_translation").first).to_be_hidden()
    expect(admin_page.locator("#id_crontab")).to_be_attached()
    assert not _violations(admin_page), _violations(admin_page)

    assert not problems, "\n".join(problems)
