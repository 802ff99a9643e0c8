"""Content-Security-Policy on every page (issue 12, item 9).

Every route of the URL resolver is requested the way the permission matrix probes it (tests/permissions.py; each
app's rows in tests/<app>/test_permissions.py), by a persona that may reach it, and so are the Django admin's pages,
the 403 and 404 pages and the sign-in page. Each response carries the strict policy; each HTML page has no inline
script without a nonce (JSON data blocks are not scripts), no event-handler attribute (on*=) and no javascript: URL."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from django.contrib import admin
from django.test import Client
from django.urls import NoReverseMatch, reverse

from apps.datasets.report_html import REPORT_CSP
from apps.labeling.images import IMAGE_CSP
from tests import permissions
from tests.permissions import (
    ADMIN,
    ANON,
    DS,
    LABELER,
    World,
    app_routes,
    body,
    probe_route,
)

world = permissions.world  # the matrix's fixture: two projects, every persona, objects of every kind

ROUTES = {name: route for routes in app_routes().values() for name, route in routes.items()}

DATA_SCRIPT_TYPES = {"application/json", "application/ld+json", "text/template"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data"}


def directives(header: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in header.split(";"):
        tokens = part.split()
        if tokens:
            out[tokens[0].lower()] = tokens[1:]
    return out


def policy_problems(header: str | None, host: str = "testserver") -> list[str]:
    if not header:
        return ["no Content-Security-Policy header"]
    policy = directives(header)
    problems = []
    script = policy.get("script-src", policy.get("default-src"))
    if not script or "'self'" not in script or any(t != "'self'" and not t.startswith("'nonce-") for t in script):
        problems.append(f"script-src is {script}")
    for name, wanted in {
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "default-src": ["'self'"],
    }.items():
        if policy.get(name) != wanted:
            problems.append(f"{name} is {policy.get(name)}, expected {wanted}")
    for name, values in policy.items():
        if "'unsafe-eval'" in values or ("'unsafe-inline'" in values and name != "style-src"):
            problems.append(f"{name} allows {values}")
    connect = policy.get("connect-src", [])
    if "'self'" not in connect or f"ws://{host}" not in connect or any(t in {"ws:", "wss:", "*"} for t in connect):
        problems.append(f"connect-src is {connect}: 'self' and ws://{host} only")
    return problems


class _PageScan(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name.lower(): (value or "") for name, value in attrs}
        for name, value in names.items():
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}={value[:60]!r}>: inline event handler")
            if name in URL_ATTRIBUTES and value.strip().lower().replace("\t", "").startswith("javascript:"):
                self.problems.append(f"<{tag} {name}={value[:60]!r}>: javascript: URL")
        if tag == "script" and "src" not in names and "nonce" not in names:
            if names.get("type", "").lower() not in DATA_SCRIPT_TYPES:
                self.problems.append(f"<script {names}>: inline script without a nonce")


def page_problems(response: Any) -> list[str]:
    problems = policy_problems(response.get("Content-Security-Policy"))
    if response.get("Content-Type", "").startswith("text/html"):
        scan = _PageScan()
        scan.feed(body(response))
        problems += scan.problems
    return problems


def _personas(who: frozenset[str]) -> list[str]:
    """The persona that sees the most of a page (an admin where allowed), and anonymous on public pages."""
    chosen = [ADMIN] if ADMIN in who else sorted(who - {ANON})[:1]
    return chosen + ([ANON] if ANON in who else [])


def test_every_page_carries_the_policy_and_no_inline_script(world: World) -> None:
    problems: list[str] = []
    html_pages: set[str] = set()
    downloads: set[str] = set()
    user_files: set[str] = set()
    for name, route in ROUTES.items():
        for index, probe in enumerate(route.probes):
            if probe.method != "get" and (name.startswith("api:") or 300 <= probe.ok < 400):
                continue  # JSON, or a redirect: no page (and probes that change what later probes build on)
            for persona in _personas(probe.who):
                url, response = probe_route(world, name, route, index, persona)
                if _downloaded_report(response):
                    downloads.add(name)
                    continue
                if _sandboxed_user_file(response):
                    user_files.add(name)
                    continue
                found = page_problems(response)
                problems += [f"{probe.method.upper()} {url} ({persona}, {response.status_code}): {p}" for p in found]
                if response.get("Content-Type", "").startswith("text/html") and response.status_code < 300:
                    html_pages.add(name)
    # Not vacuous: the studio's pages, the sign-in page and Swagger UI were among them.
    assert len(html_pages) >= 30 and {"accounts:login", "api:docs", "jobs:detail", "automl:detail"} <= html_pages
    assert downloads == {"api:clarify-report-html"}, downloads
    assert user_files == {"api:labeling-item-image"}, user_files
    assert not problems, "\n".join(problems)


def _sandboxed_user_file(response: Any) -> bool:
    """A file a user uploaded (a labeling item's image), sent as an attachment under a policy stricter than the
    app's: nothing loads, nothing runs, sandboxed (apps/labeling/images.py IMAGE_CSP), and never sniffed."""
    return (
        response.get("Content-Disposition", "").startswith("attachment")
        and response.get("Content-Security-Policy") == IMAGE_CSP
        and response.get("X-Content-Type-Options") == "nosniff"
        and not response.get("Content-Type", "").startswith("text/")
    )


def _downloaded_report(response: Any) -> bool:
    """A self-contained HTML report sent as a file to save: it runs its inline charts offline under its own policy
    (REPORT_CSP, also written into the file), never the app's."""
    saved = response.get("Content-Disposition", "").startswith("attachment")
    return (
        saved and response.get("Content-Security-Policy") == REPORT_CSP and f'content="{REPORT_CSP}"' in body(response)
    )


def test_error_pages_admin_and_swagger_script(world: World) -> None:
    staff, labeler = Client(), Client()
    staff.force_login(world.users[ADMIN])
    labeler.force_login(world.users[LABELER])
    pages: list[tuple[Client, str, int]] = [
        (Client(), reverse("accounts:login"), 200),
        (staff, "/no/such/page/", 404),
        (labeler, reverse("jobs:list"), 403),
        (staff, reverse("admin:index"), 200),
        (staff, reverse("admin:password_change"), 200),
    ]
    for model in admin.site._registry:
        for view in ("changelist", "add"):
            try:
                url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}")
            except NoReverseMatch:
                continue
            pages.append((staff, url, -1))
    pages.append((staff, reverse("admin:accounts_user_change", args=[world.users[DS].pk]), 200))
    problems = []
    for client, url, status in pages:
        response = client.get(url)
        if status != -1 and response.status_code != status:
            problems.append(f"{url}: {response.status_code}, expected {status}")
        problems += [f"{url}: {p}" for p in page_problems(response)]
    # Swagger UI's init is a script of its own (?script), served under the same policy.
    docs = Client()
    docs.force_login(world.users[DS])
    script = docs.get(reverse("api:docs") + "?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in body(script)
    assert "javascript" in script["Content-Type"]
    problems += [f"?script: {p}" for p in policy_problems(script.get("Content-Security-Policy"))]
    assert not problems, "\n".join(problems)


def test_websocket_origin_follows_the_request(world: World, settings) -> None:  # type: ignore[no-untyped-def]
    settings.ALLOWED_HOSTS = ["atelier.example.com"]
    client = Client()
    client.force_login(world.users[DS])
    plain = client.get(reverse("jobs:list"), HTTP_HOST="atelier.example.com")
    secure = client.get(reverse("jobs:list"), HTTP_HOST="atelier.example.com", secure=True)
    assert directives(plain["Content-Security-Policy"])["connect-src"] == ["'self'", "ws://atelier.example.com"]
    assert directives(secure["Content-Security-Policy"])["connect-src"] == ["'self'", "wss://atelier.example.com"]


def test_downloaded_report_keeps_its_own_policy(world: World) -> None:
    """The self-contained HTML report runs inline plotly offline: it carries its own policy, not the app's."""
    import pandas as pd

    from apps.datasets import storage as data_files
    from apps.datasets.profiling import profile_dataframe

    report = world.data.reports["a"]
    full = profile_dataframe(pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "kind": ["a", "b", "a", "b"]}))
    report.file, report.bytes = data_files.write_json(full, report.file)
    report.save()
    client = Client()
    client.force_login(world.users[DS])
    response = client.get(reverse("datasets:report_download", args=[report.pk]) + "?format=html")
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == REPORT_CSP
    assert f'content="{REPORT_CSP}"' in body(response)
