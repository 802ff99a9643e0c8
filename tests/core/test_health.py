"""/healthz, /readyz, and the API schema + Swagger UI (signed-in only, served offline)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from apps.jobs.models import WorkerHeartbeat

CHECKS = {"database", "broker", "worker", "storage"}


def test_healthz(db) -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_is_read_only(db) -> None:
    assert Client().post("/healthz").status_code == 405


def test_readyz_is_503_naming_the_failing_check_without_a_worker(db) -> None:
    response = Client().get("/readyz")
    assert response.status_code == 503
    data = response.json()
    assert data["status"] == "unavailable"
    assert set(data["checks"]) == CHECKS
    assert [name for name, check in data["checks"].items() if not check["ok"]] == ["worker"]
    assert data["checks"]["worker"]["detail"] == (
        f"RuntimeError: no worker seen in the last {int(settings.WORKER_SEEN_WITHIN_S)} s"
    )


def test_readyz_ignores_a_stale_heartbeat(db) -> None:
    stale = timezone.now() - timedelta(seconds=settings.WORKER_SEEN_WITHIN_S + 5)
    WorkerHeartbeat.objects.create(hostname="gone@host", pid=1, last_seen=stale)
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["worker"]["ok"] is False


def test_readyz_is_200_with_a_fresh_worker_heartbeat(db) -> None:
    WorkerHeartbeat.objects.create(hostname="worker1@host", pid=42, last_seen=timezone.now())
    response = Client().get("/readyz")
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["status"] == "ok"
    assert all(check["ok"] for check in data["checks"].values())
    assert data["checks"]["worker"]["detail"] == "1 worker(s): worker1@host"
    assert isinstance(data["checks"]["database"]["ms"], float)


def test_readyz_names_any_failing_check(db, monkeypatch) -> None:
    WorkerHeartbeat.objects.create(hostname="worker1@host", pid=42)

    def broken() -> str:
        raise PermissionError("media root is read-only")

    monkeypatch.setattr("apps.core.health.check_storage", broken)
    response = Client().get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert [name for name, check in checks.items() if not check["ok"]] == ["storage"]
    assert checks["storage"]["detail"] == "PermissionError: media root is read-only"


# --- schema and Swagger UI -----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/"])
def test_schema_and_docs_need_sign_in(db, url: str) -> None:
    response = APIClient().get(url)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert b"openapi" not in response.content


@pytest.mark.parametrize("persona", ["ds_user", "labeler_user"])
def test_schema_describes_the_api_for_a_signed_in_user(request, client_for, persona: str) -> None:
    response = client_for(request.getfixturevalue(persona)).get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Atelier API"
    assert {"/api/jobs/", "/api/jobs/{id}/", "/api/jobs/{id}/cancel/", "/api/projects/"} <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["tokenAuth"]["name"] == "Authorization"


def test_schema_accepts_token_auth(api_for, ds_user) -> None:
    response = api_for(ds_user).get("/api/schema/")
    assert response.status_code == 200
    assert response.content.startswith(b"openapi: 3.")


def test_swagger_ui_is_served_from_local_static_files(client_for, ds_user) -> None:
    client = client_for(ds_user)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    for cdn in ("cdn.", "unpkg", "jsdelivr", "cdnjs", "googleapis"):
        assert cdn not in html, cdn
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    sidecar = [a for a in assets if "drf_spectacular_sidecar/swagger-ui-dist/" in a]
    assert any(a.endswith("swagger-ui-bundle.js") for a in sidecar)
    assert all(a.startswith("/") and not a.startswith("//") for a in assets), assets
    # The init is a script of its own (no inline script under the CSP), pointing at the local schema.
    init = [a for a in assets if a.startswith("/api/docs/?") and "script" in a]
    assert init, assets
    script = client.get(init[0]).content.decode()
    assert '"/api/schema/"' in script or "'/api/schema/'" in script
    for asset in sidecar:  # served by this process, so the docs work offline
        static = client.get(asset)
        assert static.status_code == 200, asset
        content = b"".join(static.streaming_content) if static.streaming else static.content
        assert len(content) > 100, asset
