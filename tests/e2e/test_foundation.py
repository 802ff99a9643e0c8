"""The Foundation in a real browser: sign in, switch project, run a job and watch it live over the WebSocket,
see its chart, sign out; a labeler's landing page and the 403 page; an admin's invitations.

Run with ATELIER_SCREENSHOTS=1 to (re)write docs/screenshots/*.png.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from apps.accounts.models import Invitation, Project
from apps.accounts.services import membership_add
from apps.core.storage import project_root, walk_files
from tests.e2e.conftest import login, off_loop, screenshot, wait_for_scripts
from tests.factories import ProjectFactory, UserFactory

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

JOB_TIMEOUT_MS = 30_000

# Runs in every document of the page (before the page's own scripts): records each live job update the page
# applies, with the DOM state right after it was applied and an id of the document, in sessionStorage, which
# survives the reload the job page does by itself once the job is final.
RECORD_JOB_EVENTS = """
(() => {
  const docId = Math.random().toString(36).slice(2);
  document.addEventListener("atelier:job", (ev) => {
    const job = ev.detail;
    const el = document.querySelector('.job-progress[data-job-id="' + job.id + '"]');
    const events = JSON.parse(sessionStorage.getItem("e2e-job-events") || "[]");
    events.push({
      doc: docId, id: job.id, status: job.status, progress: job.progress, live: document.body.dataset.live || "",
      domStatus: el ? el.getAttribute("data-status") : null,
      pct: el ? el.querySelector(".pct").textContent.trim() : null,
      width: el ? el.querySelector(".bar").style.width : null,
    });
    sessionStorage.setItem("e2e-job-events", JSON.stringify(events));
  });
})();
"""


@pytest.fixture
def project_files() -> Iterator[Callable[[Project, dict[str, int]], None]]:
    """Put files of given sizes into a project's storage folder; removed again at teardown."""
    roots: list[str] = []

    def put(project: Project, files: dict[str, int]) -> None:
        root = project_root(project.pk)
        _remove_tree(root)
        roots.append(root)
        for name, size in files.items():
            default_storage.save(f"{root}/{name}", ContentFile(b"\0" * size))

    yield put
    for root in roots:
        _remove_tree(root)


def _remove_tree(prefix: str) -> None:
    for path, _size in list(walk_files(prefix)):
        default_storage.delete(path)


def test_data_scientist_signs_in_switches_project_and_watches_a_job_live(browser, studio_worker, project_files):
    churn = ProjectFactory(
        name="Churn forecasting", slug="churn", description="Monthly churn model for the retail customers."
    )
    fraud = ProjectFactory(name="Fraud detection", slug="fraud", description="Card transactions scored in real time.")
    project_files(
        fraud,
        {
            "datasets/transactions-2026-10.parquet": 1_800_000,
            "datasets/transactions-2026-11.parquet": 2_100_000,
            "models/fraud-lgbm-v3.skops": 650_000,
        },
    )
    UserFactory(username="dana", personas=["data_scientist"], projects=[churn, fraud])
    colleague = UserFactory(username="omar", personas=["mlops_engineer"], projects=[fraud])
    membership_add(project=churn, user=colleague)

    page = browser.new_page()
    page.context.add_init_script(RECORD_JOB_EVENTS)
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))

    # Signed out: every page sends you to the login form.
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    expect(page.locator("h1")).to_have_text("Sign in")
    screenshot(page, "login")
    login(page, "dana")
    expect(page).to_have_url(browser.base_url + "/")
    expect(page.locator("#user-menu")).to_have_text("dana")
    # The first project (by name) is the current one.
    expect(page.locator("main h1")).to_have_text("Churn forecasting")

    # Switch project with the switcher in the top bar (it submits on change once the page's script runs).
    wait_for_scripts(page)
    page.locator("#project-select").select_option(label="Fraud detection")
    expect(page.locator("main h1")).to_have_text("Fraud detection")
    expect(page.locator("#project-select")).to_have_value(str(fraud.pk))
    expect(page.locator("main")).to_contain_text("Card transactions scored in real time.")
    expect(page.locator("main .empty .title")).to_have_text("No jobs yet")

    # Start the demo job: no worker runs yet, so the job page opens on a queued job.
    page.locator("#start-storage-report").click()
    expect(page).to_have_url(re.compile(r"/jobs/\d+/$"))
    job_id = int(re.search(r"/jobs/(\d+)/$", page.url).group(1))  # type: ignore[union-attr]
    expect(page.locator(".messages")).to_contain_text("Storage report for Fraud detection started.")
    expect(page.locator("main h1")).to_contain_text(f"Project storage report #{job_id}")
    progress = page.locator(f'.job-progress[data-job-id="{job_id}"]')
    expect(progress).to_have_attribute("data-status", "queued")
    expect(page.locator("body")).to_have_attribute("data-live", "ws", timeout=JOB_TIMEOUT_MS)

    # A real Celery worker picks the job up; the page follows it over the WebSocket.
    studio_worker()
    expect(progress).to_have_attribute("data-status", "succeeded", timeout=JOB_TIMEOUT_MS)
    expect(progress.locator(".pct")).to_have_text("100 %", timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#job-status")).to_have_text("Succeeded", timeout=JOB_TIMEOUT_MS)
    expect(page.locator("body")).to_have_attribute("data-live", "ws", timeout=JOB_TIMEOUT_MS)

    # Once final, the page reloads itself (400 ms later) to show the result: a plotly chart (an svg inside
    # div.chart) and the table. Only read page state once that reload is over.
    chart = page.locator("#job-result div.chart")
    expect(chart.locator("svg").first).to_be_visible(timeout=JOB_TIMEOUT_MS)
    expect(chart.locator(".bars path").first).to_be_attached(timeout=JOB_TIMEOUT_MS)
    expect(page.locator("body")).to_have_attribute("data-live", "ws", timeout=JOB_TIMEOUT_MS)
    assert page.evaluate("document.body.dataset.live") == "ws"

    # The final state reached the page over the WebSocket and was drawn in the document that was open while
    # the job was queued: 100 % appeared live, before and without any reload.
    events = [
        e for e in json.loads(page.evaluate("sessionStorage.getItem('e2e-job-events') || '[]'")) if e["id"] == job_id
    ]
    watched = [e for e in events if e["domStatus"] == "queued"]  # the job page while the job waited for a worker
    assert watched, events
    done = [e for e in events if e["doc"] == watched[0]["doc"] and e["status"] == "succeeded"]
    assert done, f"the page that watched the queued job never got the final state live: {events}"
    final = done[0]
    seen = (final["live"], final["domStatus"], final["pct"], final["width"])
    assert seen == ("ws", "succeeded", "100 %", "100%"), final
    assert final["progress"] == 1.0, final
    ws_states = [json.loads(f)["job"] for f in frames if f.startswith("{")]
    assert any(s["id"] == job_id and s["status"] == "succeeded" and s["progress"] == 1.0 for s in ws_states), ws_states

    expect(page.locator("#job-result table")).to_contain_text("job: core.storage_report")
    expect(page.locator("#job-result table tr", has_text="files: datasets")).to_contain_text("3.7 MB")
    expect(page.locator("#job-log")).to_contain_text("Walked 3 files in 2 folders")
    screenshot(page, "job_detail")

    # Home lists the job among the recent jobs of the project.
    page.goto("/")
    expect(page.locator("main h1")).to_have_text("Fraud detection")
    row = page.locator("main table tbody tr", has_text=f"#{job_id}")
    expect(row.locator(".badge")).to_have_text("Succeeded")
    expect(row.locator(".pct")).to_have_text("100 %")
    screenshot(page, "home")

    page.locator("nav.sidebar").get_by_role("link", name="Jobs", exact=True).click()
    expect(page.locator("main h1")).to_have_text("Jobs")
    expect(page.locator("main table tbody tr", has_text=f"#{job_id}")).to_contain_text("dana")
    screenshot(page, "jobs_list")
    page.locator("main select[name=status]").select_option("failed")
    expect(page).to_have_url(re.compile(r"/jobs/\?status=failed$"))
    expect(page.locator("main .empty .title")).to_have_text("No jobs here")

    page.goto("/accounts/projects/")
    expect(page.locator("main h1")).to_have_text("Projects")
    expect(page.locator("main table tbody tr")).to_have_count(2)
    expect(page.locator("main table")).to_contain_text("Churn forecasting")
    screenshot(page, "projects")

    page.goto("/accounts/profile/")
    page.locator("#id_name").fill("nightly-retrain")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("#new-token")).to_contain_text("nightly-retrain")
    expect(page.locator("#new-token-key")).to_have_text(re.compile(r"\S{20,}"))
    expect(page.locator("main table tbody tr", has_text="nightly-retrain")).to_contain_text("active")
    screenshot(page, "profile_token")

    # Sign out: back on the login form, and the studio is closed again.
    page.locator("#logout").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.locator("#login-form")).to_be_visible()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    expect(page.locator("#login-form")).to_be_visible()


def test_labeler_lands_on_my_work_and_may_not_open_jobs(browser):
    project = ProjectFactory(name="Street signs", slug="signs")
    UserFactory(username="lena", personas=["labeler"], projects=[project])

    page = browser.new_page()
    page.goto("/accounts/login/")
    login(page, "lena")
    expect(page).to_have_url(re.compile(r"/labeling/work/$"))
    expect(page.locator("main h1")).to_have_text("My work")
    expect(page.locator("nav.sidebar")).not_to_contain_text("Jobs")

    response = page.goto("/jobs/")
    assert response is not None and response.status == 403
    expect(page.locator("h1")).to_have_text("Not allowed")
    expect(page.locator("body")).to_contain_text("Your persona does not give access to this page.")
    screenshot(page, "forbidden_403")


def test_admin_creates_an_invitation_link(browser):
    project = ProjectFactory(name="Churn forecasting", slug="churn")
    UserFactory(username="ada", personas=["admin"])

    page = browser.new_page()
    page.goto("/accounts/login/?next=/accounts/invitations/")
    login(page, "ada")
    expect(page).to_have_url(re.compile(r"/accounts/invitations/$"))
    expect(page.locator("main h1")).to_have_text("Invitations")
    expect(page.locator("main .empty .title")).to_have_text("No invitations")

    form = page.locator("#invite-form")
    form.get_by_label("Email").fill("lena@example.test")
    form.get_by_label("Labeler").check()
    form.get_by_label("Project").select_option(label=project.name)
    form.get_by_role("button", name="Create invitation link").click()
    expect(page.locator("#invite-url")).to_contain_text(re.compile(r"/accounts/invite/\S+/$"))
    row = page.locator("main table tbody tr", has_text="lena@example.test")
    expect(row).to_contain_text("Churn forecasting")
    expect(row.locator(".badge")).to_have_text("open")
    screenshot(page, "invitations")
    assert off_loop(lambda: Invitation.objects.filter(email="lena@example.test").count()) == 1
