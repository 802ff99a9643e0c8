"""Every page of the URL resolver at phone (390 px), tablet (768 px) and desktop (1440 px) widths, in a real Chromium
against one server (issue 13, item 2). A page fails when it scrolls sideways, when an element sticks out of the
viewport or of its card (elements inside a scroll container that itself fits are fine: that is how wide tables
scroll), or when the browser logs a console error.

The routes come from Django's resolver, so a new page cannot slip by: each named route is either in PAGES (how to
fill its URL for the world built below, and who looks at it) or in SKIPPED (with the reason it is no page). A new
app adds its pages to PAGES, and a function to WORLD_BUILDERS that makes the objects they need (with the real
services; jobs run once, in this process).

Run with ATELIER_SCREENSHOTS=1 to (re)write docs/screenshots/<page>_390.png and <page>_1440.png for the pages in
SCREENSHOTS (the home, a dataset, its report, a flow, a build, a tuning job, a registry version, an endpoint).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.conftest import clean_project_storage
from tests.e2e.conftest import SCREENSHOT_DIR, login, off_loop
from tests.factories import ProjectFactory, UserFactory

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

WIDTHS = (390, 768, 1440)
HEIGHT = 900
ADMIN, DS, MLOPS, LABELER, ANON = "ada", "dana", "omar", "lena", ""

World = dict[str, Any]
Kwargs = Callable[[World], dict[str, Any]]


@dataclass(frozen=True)
class Page:
    """How to open one route: its URL kwargs from the world, a query string, and who looks at it (an admin sees
    every page and every action on it; list other personas where their page differs, e.g. the labeler's shell)."""

    kwargs: Kwargs | None = None
    query: str = ""
    who: tuple[str, ...] = (ADMIN,)


def pk(key: str) -> Kwargs:
    return lambda w: {"pk": w[key].pk}


# --- the pages, per app (add yours here) ------------------------------------------------------------------------
PAGES: dict[str, Page] = {
    # accounts
    "accounts:login": Page(who=(ANON,)),
    "accounts:invitation_accept": Page(lambda w: {"token": w["invitation_token"]}, who=(ANON,)),
    "accounts:password_change": Page(),
    "accounts:profile": Page(who=(ADMIN, LABELER)),
    "accounts:project_list": Page(),
    "accounts:project_detail": Page(pk("project")),
    "accounts:workteam_list": Page(),
    "accounts:workteam_detail": Page(pk("team")),
    "accounts:invitation_list": Page(),
    # core and jobs
    "workspace:home": Page(who=(ADMIN, DS, MLOPS)),
    "workspace:notifications": Page(),
    "jobs:list": Page(),
    "jobs:detail": Page(pk("job")),
    # Data Wrangler
    "datasets:list": Page(),
    "datasets:detail": Page(pk("dataset")),
    "datasets:report": Page(pk("version")),
    "datasets:sql": Page(),
    "datasets:flow_list": Page(),
    "datasets:flow_detail": Page(pk("flow")),
    # Canvas: AutoML, tuning, built-in algorithms
    "automl:list": Page(),
    "automl:detail": Page(pk("build")),
    "automl:tuning_list": Page(),
    "automl:tuning_detail": Page(pk("tuning")),
    "unsupervised:list": Page(),
    "unsupervised:detail": Page(pk("run")),
    # Clarify: the list with the start form prefilled from a model version, and a report after a mitigation (its
    # metrics, charts and the before / after panel)
    "clarify:list": Page(query="?build={build.pk}", who=(ADMIN, DS, MLOPS)),
    "clarify:detail": Page(pk("clarify_after"), who=(ADMIN, DS, MLOPS)),
    # Ground Truth, studio side: the jobs, the new-job form, a consolidated job (charts, workers, items), its review
    "labeling:list": Page(who=(ADMIN, DS, MLOPS)),
    "labeling:create": Page(who=(ADMIN, DS)),
    "labeling:detail": Page(pk("labeling_job"), who=(ADMIN, DS, MLOPS)),
    "labeling:review": Page(pk("labeling_job"), query="?show=all", who=(ADMIN, DS)),
    # Model Registry
    "registry:list": Page(),
    "registry:import": Page(),
    "registry:compare": Page(query="?versions={v1},{v2}"),
    "registry:group": Page(pk("group")),
    "registry:version": Page(pk("model_version"), who=(ADMIN, MLOPS)),
    # Endpoints
    "endpoints:list": Page(),
    "endpoints:create": Page(),
    "endpoints:detail": Page(pk("endpoint"), who=(ADMIN, DS)),
    "endpoints:batch_list": Page(),
    "endpoints:batch_detail": Page(pk("batch")),
    # API pages a person reads
    "api:docs": Page(),
    # The Django admin console: its index and a few changelists and a change form (its routes are generated per
    # model; see SKIPPED_NAMESPACES)
    # Ground Truth: the labeler's pages (My work, and the labeling form of a job of their team)
    "labeling:my_work": Page(who=(LABELER,)),
    "labeling:work": Page(pk("labeling_work_job"), who=(LABELER,)),
    "admin:index": Page(),
    "admin:jobs_job_changelist": Page(),
    "admin:accounts_user_changelist": Page(),
    "admin:registry_modelversion_changelist": Page(),
    "admin:automl_automlbuild_change": Page(lambda w: {"object_id": w["build"].pk}),
}

POST_ONLY = "POST only: the target of a form or button on another page, no page of its own"
ATTACHMENT = "a file download (attachment), not a page"
PROBE = "a plain-text health probe for load balancers"
JSON_API = "the JSON API (DEFAULT_RENDERER_CLASSES is JSON only): no HTML"
REDIRECT = "redirects to a page listed in PAGES"

# Routes that are not pages; every GET-able one says why.
SKIPPED: dict[str, str] = {
    "healthz": PROBE,
    "readyz": PROBE,
    "datasets:index": REDIRECT,
    "accounts:my_work": REDIRECT,  # the old address of labeling:my_work
    "workspace:notification_open": REDIRECT,  # marks the notification read, then redirects to its object
    "datasets:report_download": ATTACHMENT,
    "datasets:flow_export": ATTACHMENT,
    "registry:version_export": ATTACHMENT,
    **{
        name: POST_ONLY
        for name in (
            "accounts:logout",
            "accounts:token_create",
            "accounts:token_revoke",
            "accounts:project_switch",
            "accounts:project_member_add",
            "accounts:project_member_remove",
            "accounts:invitation_revoke",
            "accounts:workteam_invite",
            "accounts:workteam_invitation_revoke",
            "workspace:storage_report_start",
            "jobs:cancel",
            "datasets:import_sql",
            "datasets:delete",
            "datasets:retype",
            "datasets:profile_start",
            "datasets:flow_step_add",
            "datasets:flow_step_edit",
            "datasets:flow_step_delete",
            "datasets:flow_source_add",
            "datasets:flow_source_delete",
            "datasets:flow_run",
            "datasets:flow_delete",
            "datasets:flow_analysis_add",
            "datasets:flow_analysis_delete",
            "automl:select",
            "automl:batch_predict",
            "automl:package",
            "clarify:thresholds",
            "clarify:mitigate",
            "labeling:preview",
            "labeling:action",
            "registry:version_approval",
            "registry:version_alias",
            "registry:version_edit",
            "endpoints:update",
            "endpoints:webhook_secret_rotate",
            "endpoints:delete",
            "endpoints:key_create",
            "endpoints:try_key",
            "endpoints:key_revoke",
        )
    },
}
# Whole namespaces: the API's routes are JSON (its HTML pages are listed in PAGES); the admin's routes are generated
# per registered model (the ones in PAGES stand for the rest: they share the admin's templates and stylesheet).
SKIPPED_NAMESPACES = {"api": JSON_API, "admin": "generated per model by the Django admin; a sample is in PAGES"}

# The must-show pages written to docs/screenshots/<name>_<width>.png with ATELIER_SCREENSHOTS=1.
SCREENSHOTS = {
    "workspace:home": "home",
    "datasets:detail": "dataset",
    "datasets:report": "report",
    "datasets:flow_detail": "flow",
    "automl:detail": "build",
    "automl:tuning_detail": "tuning",
    "registry:version": "registry_version",
    "clarify:list": "clarify_list",
    "clarify:detail": "clarify_after",
    "endpoints:detail": "endpoint",
}
SCREENSHOT_WIDTHS = (390, 1440)


def resolver_routes() -> dict[str, tuple[str, Any]]:
    """Every named route of the resolver as `namespace:name` → (its namespace's first part or '', its view)."""
    named: dict[str, tuple[str, Any]] = {}

    def walk(resolver: URLResolver, namespace: str | None) -> None:
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                ns = namespace
                if entry.namespace:
                    ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
                walk(entry, ns)
            elif isinstance(entry, URLPattern) and entry.name:
                name = f"{namespace}:{entry.name}" if namespace else entry.name
                named[name] = ((namespace or "").split(":")[0], entry.callback)

    walk(get_resolver(), None)
    return named


def _answers_get(view: Any) -> bool:
    view_class = getattr(view, "view_class", None)
    return view_class is not None and "get" in view_class.http_method_names and hasattr(view_class, "get")


def test_every_route_is_a_page_or_skipped_with_a_reason() -> None:
    routes = resolver_routes()
    missing = sorted(
        name
        for name, (ns, _) in routes.items()
        if name not in PAGES and name not in SKIPPED and ns not in SKIPPED_NAMESPACES
    )
    assert not missing, (
        f"Routes missing from {__name__}: add each to PAGES (with the objects its URL needs) or to SKIPPED "
        f"(with the reason it is no page): {missing}"
    )
    stale = sorted((PAGES.keys() | SKIPPED.keys()) - routes.keys())
    assert not stale, f"PAGES or SKIPPED name routes that no longer exist: {stale}"
    assert not PAGES.keys() & SKIPPED.keys()
    # A form's target that now answers GET too is a page: move it to PAGES.
    answering_get = sorted(
        name for name, reason in SKIPPED.items() if reason == POST_ONLY and _answers_get(routes[name][1])
    )
    assert not answering_get, f"SKIPPED says POST only, but these answer GET (add them to PAGES): {answering_get}"


# --- the world the pages show: one project with one of everything, built by the real services and jobs ---------


def churn_frame(n: int = 240) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    tenure = rng.integers(1, 72, n)
    monthly = rng.normal(70, 20, n).round(2)
    plan = rng.choice(["basic", "plus", "pro"], n)
    region = rng.choice(["north-east metropolitan area", "south", "west coast"], n)
    logit = -0.06 * tenure + 0.03 * (monthly - 70) + (plan == "basic") * 1.0 + 1.0
    churn = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return pd.DataFrame(
        {
            "customer_id": np.arange(5000, 5000 + n),
            "tenure_months": tenure,
            "monthly_fee": monthly,
            "plan": pd.array(plan, "string"),
            "customer_region_long_column_name": pd.array(region, "string"),
            "churn": churn,
        }
    )


def _run(job: Any) -> None:
    """Run a job in this process, as a worker would (the rows are committed: transactional_db)."""
    from apps.jobs.models import Job
    from apps.jobs.services import job_run

    job_run(job_id=job.pk)
    done = Job.objects.get(pk=job.pk)
    assert done.status == "succeeded", f"{done.kind}: {done.status} {done.message} {done.error}"


def _dataset_version(project: Any, user: Any, frame: pd.DataFrame, name: str) -> Any:
    from tests.factories import DatasetVersionFactory

    return DatasetVersionFactory(project=project, created_by=user, frame=frame, name=name)


def accounts_world(w: World) -> None:
    from apps.accounts.services import invitation_create, work_team_save

    project = ProjectFactory(name="Customer care", slug="care", description="Churn models for the retention team.")
    admin = UserFactory(username=ADMIN, personas=["admin"], projects=[project])
    w["users"] = {
        ADMIN: admin,
        DS: UserFactory(username=DS, personas=["data_scientist"], projects=[project]),
        MLOPS: UserFactory(username=MLOPS, personas=["mlops_engineer"], projects=[project]),
        LABELER: UserFactory(username=LABELER, personas=["labeler"], projects=[project]),
    }
    clean_project_storage(project)
    w["project"] = project
    w["team"] = work_team_save(project=project, name="Annotators", members=[w["users"][LABELER]])
    _, w["invitation_token"] = invitation_create(
        email="newcomer@example.test", personas=["labeler"], project=project, created_by=admin
    )


def data_world(w: World) -> None:
    from apps.datasets.services import flow_analysis_add, flow_create, flow_step_add, profile_start

    dana = w["users"][DS]
    version = _dataset_version(w["project"], dana, churn_frame(), name="subscribers")
    _run(profile_start(version=version, created_by=dana, target="churn"))
    flow = flow_create(project=w["project"], created_by=dana, name="Subscribers cleanup", sources=[version])
    flow, step_id, _ = flow_step_add(flow=flow, op="drop_columns", parameters={"columns": ["customer_id"]})
    flow_analysis_add(flow=flow, created_by=dana, kind="histogram", step_id=step_id, params={"column": "monthly_fee"})
    w.update(version=version, dataset=version.dataset, flow=flow)


def canvas_world(w: World) -> None:
    from apps.automl.services import automl_build_start
    from apps.automl.tuning import tuning_start
    from apps.unsupervised.services import unsupervised_run_start

    common = {"project": w["project"], "created_by": w["users"][DS], "version": w["version"]}
    build = automl_build_start(**common, target="churn", mode="quick", time_budget_s=5)
    tuning = tuning_start(**common, target="churn", spec={"algorithm": "linear", "max_trials": 3, "max_parallel": 1})
    run = unsupervised_run_start(
        **common, algorithm="kmeans", options={"k": 3}, columns=["tenure_months", "monthly_fee"]
    )
    for row in (build, tuning, run):
        _run(row.job)
        row.refresh_from_db()
    w.update(build=build, job=build.job, tuning=tuning, run=run)


def registry_world(w: World) -> None:
    from apps.automl.services import automl_register
    from apps.registry.services import version_approval_update

    v1 = automl_register(build=w["build"], created_by=w["users"][DS], name="churn-model")
    v2 = automl_register(build=w["build"], created_by=w["users"][DS], name="churn-model")
    v2 = version_approval_update(version=v2, user=w["users"][MLOPS], status="Approved", description="Reviewed.")
    w.update(group=v1.group, model_version=v2, v1=v1.pk, v2=v2.pk)


def endpoints_world(w: World) -> None:
    from apps.endpoints.services import batch_transform_start, endpoint_create

    version = w["model_version"]
    w["endpoint"], _ = endpoint_create(
        project=w["project"], user=w["users"][MLOPS], name="churn-live", variants=[{"model_version": version}]
    )
    batch = batch_transform_start(user=w["users"][DS], model_version=version, dataset_version=w["version"])
    _run(batch.job)
    batch.refresh_from_db()
    w["batch"] = batch


def clarify_world(w: World) -> None:
    """A bias report of the build's best candidate on the subscribers (facet plan = basic, a numeric facet, SHAP and
    a 2-feature partial dependence), a threshold of the user's, then a reweighing and its report (before / after)."""
    from apps.clarify.choices import MitigationKind
    from apps.clarify.services import mitigation_start, report_start, report_thresholds_set

    dana = w["users"][DS]
    config = {
        "label": "churn",
        "positive_label_values": ["yes"],
        "label_threshold": None,
        "facets": [
            {"name": "plan", "values": ["basic"], "threshold": None},
            {"name": "tenure_months", "values": [], "threshold": 24.0},
        ],
        "group": "customer_region_long_column_name",
        "reference": None,
        "probability_threshold": 0.5,
        "explain": {"shap": True, "pdp_features": 3, "pdp_pairs": [["tenure_months", "monthly_fee"]]},
    }
    report = report_start(
        project=w["project"],
        created_by=dana,
        dataset_version=w["version"],
        config=config,
        automl_build=w["build"],
        candidate=w["build"].best_candidate,
        name="Churn by plan",
    )
    _run(report.job)
    report.refresh_from_db()
    report = report_thresholds_set(report=report, thresholds={"CI": 0.5})
    after = mitigation_start(report=report, kind=MitigationKind.REWEIGH, params={"facet": "plan"}, created_by=dana)
    _run(after.job)
    after.refresh_from_db()
    w.update(clarify_report=report, clarify_after=after)


def labeling_world(w: World) -> None:
    """A text job answered by three workers and consolidated by the engine's Job (review step on), and a preference
    job (tests/labeling/studio_data.py)."""
    from tests.labeling.studio_data import demo_jobs

    jobs = demo_jobs(w["project"], w["users"][DS], w["team"])
    w.update(labeling_job=jobs["text"], preference_job=jobs["preference"])


def labeling_work_world(w: World) -> None:
    """A text-classification job for the labeler's team, with long labels and a long text (the form must wrap)."""
    from tests.factories import labeling_job

    text = "The delivery was late by three days and the box was damaged, " * 4
    w["labeling_work_job"] = labeling_job(
        w["project"],
        team=w["team"],
        name="Support ticket sentiment",
        labels=["positive", "negative", "neutral", "mixed feelings about the delivery"],
        items=[{"text": text}, {"text": "Fine."}],
        instructions="Choose the **main** feeling of the customer.",
    )


# Each adds the objects its app's pages need to the world (in this order: later ones use earlier ones' objects).
WORLD_BUILDERS: list[Callable[[World], None]] = [
    accounts_world,
    data_world,
    canvas_world,
    registry_world,
    endpoints_world,
    clarify_world,
    labeling_world,
    labeling_work_world,
]


def build_world() -> World:
    w: World = {}
    for builder in WORLD_BUILDERS:
        builder(w)
    return w


@pytest.fixture
def world(transactional_db) -> Iterator[World]:  # type: ignore[no-untyped-def]
    built = build_world()
    yield built
    off_loop(clean_project_storage, built["project"])


# --- what is checked on each page ----------------------------------------------------------------------------------

# Page-level sideways scrolling, and the outermost visible elements that stick out of the viewport or of their card,
# except inside a box that clips or scrolls sideways (a table's scroll wrapper, a chart): that box is checked itself.
LAYOUT_PROBLEMS = """
() => {
  const vw = window.innerWidth;
  const problems = [];
  const overflow = document.documentElement.scrollWidth - vw;
  if (overflow > 0) problems.push(`the page scrolls sideways by ${overflow}px`);
  const fits = (r) => r.left >= -1 && r.right <= vw + 1;
  const reported = new Set();
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (typeof el.className === "string" && el.className.trim() ? "." + el.className.trim().split(/\\s+/).join(".") : "");
  for (const el of document.body.querySelectorAll("*")) {
    if (!el.checkVisibility({ visibilityProperty: true, opacityProperty: true })) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    // Inside a box that clips or scrolls sideways: that box is checked itself (fine when it fits). Inside a card:
    // the card is the box to fit in.
    let inside = false, card = null;
    for (let p = el.parentElement; p && p !== document.body && !inside && !card; p = p.parentElement) {
      inside = reported.has(p) || getComputedStyle(p).overflowX !== "visible";
      if (p.classList.contains("card")) card = p;
    }
    if (inside) continue;
    const box = card ? card.getBoundingClientRect() : null;
    // Off to the left of the page (plotly's measuring element): nobody can scroll there, nothing widens the page.
    if ((fits(r) && (!box || (r.left >= box.left - 1 && r.right <= box.right + 1))) || r.right <= 0) continue;
    reported.add(el);
    if (reported.size <= 5) {
      const path = [el.parentElement, el].filter(Boolean).map(name).join(" > ");
      const bounds = box && fits(r) ? `its card's ${Math.round(box.left)}..${Math.round(box.right)}px` : "the viewport";
      problems.push(`${path} spans ${Math.round(r.left)}..${Math.round(r.right)}px, beyond ${bounds}`);
    }
  }
  if (reported.size > 5) problems.push(`... and ${reported.size - 5} more elements`);
  return problems;
}
"""

# Loaded, scripts run, every chart drawn.
SETTLED = """
document.readyState === "complete" && [...document.querySelectorAll("[data-figure]")].every(
  (el) => !window.Plotly || !document.getElementById(el.dataset.figure) || el.querySelector(".main-svg"))
"""


def _url(name: str, page: Page, w: World) -> str:
    return reverse(name, kwargs=page.kwargs(w) if page.kwargs else None) + page.query.format(**w)


def _menu_opens_on_a_phone(tab: Any, problems: list[str], shots: bool) -> None:
    """At 390 px the top bar holds the menu button; the button shows the modules and Log out, inside the viewport."""
    from tests.e2e.conftest import wait_until

    tab.set_viewport_size({"width": WIDTHS[0], "height": HEIGHT})
    tab.goto("/accounts/profile/")
    wait_until(tab, SETTLED)
    toggle, logout, nav = tab.locator(".menu-toggle"), tab.locator("#logout"), tab.locator("nav.sidebar")
    if not toggle.is_visible() or logout.is_visible() or nav.is_visible():
        problems.append("at 390px the top bar should show the menu button and hide the modules and Log out")
        return
    toggle.click()
    box = logout.bounding_box() if logout.is_visible() else None
    if box is None or box["x"] < 0 or box["x"] + box["width"] > WIDTHS[0] or not nav.is_visible():
        problems.append(f"at 390px the menu button should show the modules and Log out in the viewport ({box})")
    if toggle.get_attribute("aria-expanded") != "true":
        problems.append("the open menu button should say aria-expanded=true")
    if shots:
        tab.screenshot(path=str(SCREENSHOT_DIR / "menu_390.png"), animations="disabled", caret="hide")
    tab.keyboard.press("Escape")
    if logout.is_visible() or toggle.get_attribute("aria-expanded") != "false":
        problems.append("Escape should close the open menu")


def test_every_page_fits_phones_tablets_and_desktops(browser, world) -> None:  # type: ignore[no-untyped-def]
    from tests.e2e.conftest import wait_until

    shots = os.environ.get("ATELIER_SCREENSHOTS") == "1"
    if shots:
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    urls = {name: _url(name, page, world) for name, page in PAGES.items()}
    personas = sorted({who for page in PAGES.values() for who in page.who})
    problems: list[str] = []
    console: list[str] = []
    visited = 0

    for who in personas:
        tab = browser.new_page()
        tab.set_viewport_size({"width": WIDTHS[0], "height": HEIGHT})

        def on_console(msg: Any, who: str = who, tab: Any = tab) -> None:
            # The admin's pages declare no icon, so the browser asks for /favicon.ico (404): not the page's fault.
            if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):
                console.append(f"{tab.url} ({who or 'anonymous'}): {msg.text}")

        tab.on("console", on_console)
        tab.on("pageerror", lambda exc, tab=tab: console.append(f"{tab.url}: uncaught {exc}"))
        if who:
            tab.goto("/accounts/login/")
            login(tab, who)
            tab.wait_for_url(lambda url: "/accounts/login/" not in url)
        if who:
            _menu_opens_on_a_phone(tab, problems, shots and who == ADMIN)
        for width in WIDTHS:
            tab.set_viewport_size({"width": width, "height": HEIGHT})
            for name, page in PAGES.items():
                if who not in page.who:
                    continue
                url = urls[name]
                response = tab.goto(url)
                visited += 1
                where = f"{name} {url} at {width}px ({who or 'anonymous'})"
                if response is None or response.status != 200 or response.request.redirected_from is not None:
                    problems.append(f"{where}: HTTP {response.status if response else '?'} at {tab.url}")
                    continue
                wait_until(tab, SETTLED)
                problems.extend(f"{where}: {p}" for p in tab.evaluate(LAYOUT_PROBLEMS))
                if shots and width in SCREENSHOT_WIDTHS and name in SCREENSHOTS and who == ADMIN:
                    path = SCREENSHOT_DIR / f"{SCREENSHOTS[name]}_{width}.png"
                    tab.screenshot(path=str(path), full_page=True, animations="disabled", caret="hide")
        tab.context.close()

    assert visited >= len(PAGES) * len(WIDTHS)
    assert not console, "console errors:\n" + "\n".join(console)
    assert not problems, f"{len(problems)} layout problems:\n" + "\n".join(problems)
