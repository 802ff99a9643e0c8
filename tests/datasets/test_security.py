"""Security of the Data Wrangler: the upload cap holds at the ASGI layer (before Django spools a body) and in the
upload handler (while the multipart stream is parsed); file names and step ids can never become paths; every
stored path is built from ids under the project's folder; downloads are attachments with nosniff; foreign objects
are 404 on every page."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from django.core.files.uploadhandler import StopUpload
from django.test import RequestFactory
from django.urls import NoReverseMatch, reverse

from apps.core.uploads import BodySizeLimitMiddleware, CappedUploadHandler, upload_refusal
from apps.datasets import services
from apps.datasets import storage as files
from tests.datasets.conftest import frame_sales, make_version

pytestmark = pytest.mark.usefixtures("media")


# --- the ASGI guard ------------------------------------------------------------------------------------------------


def run_asgi(
    middleware: BodySizeLimitMiddleware, path: str, chunks: list[bytes], headers: list | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    seen: dict[str, Any] = {"called": False, "body": b"", "disconnected": False}
    queue = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]

    async def receive() -> dict[str, Any]:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        seen["called"] = True
        while True:  # like Django's ASGIHandler.read_body
            message = await receive()
            if message["type"] == "http.disconnect":
                seen["disconnected"] = True
                return
            seen["body"] += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    middleware.app = app
    scope = {"type": "http", "path": path, "headers": headers or []}
    asyncio.run(middleware(scope, receive, send))
    return sent, seen


def test_asgi_guard_refuses_a_declared_oversize_body_without_reading_it():
    guard = BodySizeLimitMiddleware(None, max_bytes=lambda: 1000)  # type: ignore[arg-type]
    sent, seen = run_asgi(guard, "/api/datasets/", [b"x" * 10], headers=[(b"content-length", b"5000")])
    assert seen["called"] is False
    assert sent[0]["status"] == 413
    body = json.loads(sent[1]["body"])
    assert set(body) == {"detail", "errors", "code"} and "The upload is larger than the limit" in body["detail"]


def test_asgi_guard_stops_a_streamed_body_at_the_cap():
    guard = BodySizeLimitMiddleware(None, max_bytes=lambda: 1000)  # type: ignore[arg-type]
    sent, seen = run_asgi(guard, "/data/datasets/", [b"x" * 400] * 10)
    assert seen["disconnected"] is True and len(seen["body"]) <= 1200
    assert [m.get("status") for m in sent if m["type"] == "http.response.start"] == [413]
    assert b"Upload too large" in sent[-1]["body"]


def test_asgi_guard_lets_small_bodies_and_other_traffic_through():
    guard = BodySizeLimitMiddleware(None, max_bytes=lambda: 1000)  # type: ignore[arg-type]
    sent, seen = run_asgi(guard, "/api/datasets/", [b"a" * 300, b"b" * 300])
    assert seen["body"] == b"a" * 300 + b"b" * 300 and sent[0]["status"] == 200


# --- the upload handler ---------------------------------------------------------------------------------------------


def test_upload_handler_counts_bytes_across_chunks_and_stops_at_the_cap(tmp_path, settings):
    spool = tmp_path / "spool"
    spool.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(spool)
    request = RequestFactory().post("/data/datasets/")
    handler = CappedUploadHandler(request, max_bytes=100)
    handler.new_file("file", "a.csv", "text/csv", None)
    assert handler.receive_data_chunk(b"x" * 60, 0) is None and handler.received == 60  # written to disk
    with pytest.raises(StopUpload):
        handler.receive_data_chunk(b"x" * 60, 60)
    assert upload_refusal(request) == 100
    handler.file.close()
    assert list(spool.iterdir()) == []
    fresh = RequestFactory().post("/data/datasets/")
    assert CappedUploadHandler(fresh, max_bytes=100).handle_raw_input(None, {}, 10**9, b"b") is not None
    assert upload_refusal(fresh) == 100


# --- paths ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["../x.csv", "..", "a/b.csv", "a\\b.csv", "C:evil.csv", "~root", "x\x00.csv", "....", " "]
)
def test_file_names_with_paths_are_rejected(name: str):
    with pytest.raises(ValueError, match="Not a plain file name"):
        files.check_filename(name)


@pytest.mark.parametrize("name", ["sales (1).csv", "Données été.xlsx", "q1.report.parquet"])
def test_plain_file_names_pass(name: str):
    assert files.check_filename(name) == name


def test_stored_paths_are_built_from_ids_only(project_a, ds_user, run_job):
    version = make_version(project_a, frame_sales(5), name="../../etc/passwd")
    assert version.file == f"projects/{project_a.pk}/datasets/{version.dataset_id}/v1.parquet"
    dataset, job = services.dataset_import_start(
        project=project_a,
        created_by=ds_user,
        name="upload",
        options=services.ImportOptions(),
        upload=files_upload("../../../../tmp/evil.csv"),
    )
    assert job.params["upload"].startswith(f"projects/{project_a.pk}/datasets/{dataset.pk}/uploads/")
    assert job.params["upload"].endswith(".csv") and ".." not in job.params["upload"]
    with pytest.raises(ValueError):
        files.version_path(project_a.pk, "1/../2", 1)  # type: ignore[arg-type]


def files_upload(name: str):  # type: ignore[no-untyped-def]
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, b"a\n1\n")


@pytest.mark.parametrize("step_id", ["../s1", "s1/../../x", "s%2F1"])
def test_step_and_source_ids_in_urls_are_slugs(step_id: str):
    with pytest.raises(NoReverseMatch):
        reverse("datasets:flow_step_edit", args=[1, step_id])


def test_unknown_step_ids_are_refused(project_a, ds_user, client_for):
    version = make_version(project_a, frame_sales(5), name="s")
    flow = services.flow_create(project=project_a, created_by=ds_user, name="f", sources=[version])
    client = client_for(ds_user)
    response = client.post(reverse("datasets:flow_step_delete", args=[flow.pk, "s9"]), follow=True)
    assert "The flow has no step &#x27;s9&#x27;." in response.content.decode()
    response = client.post(reverse("datasets:flow_source_delete", args=[flow.pk, "src1"]), follow=True)
    assert "A flow needs at least one source." in response.content.decode()


# --- foreign objects on the pages -----------------------------------------------------------------------------------


def test_foreign_objects_are_404_on_pages_and_nothing_changes(project_a, ds_user, outsider, client_for, run_job):
    version = make_version(project_a, frame_sales(5), name="secret")
    run_job(services.profile_start(version=version, created_by=ds_user))
    flow = services.flow_create(project=project_a, created_by=ds_user, name="private", sources=[version])
    report = version.reports.get()
    client = client_for(outsider)
    gets = [
        reverse("datasets:detail", args=[version.dataset_id]),
        reverse("datasets:report", args=[version.pk]),
        reverse("datasets:report_download", args=[report.pk]),
        reverse("datasets:flow_detail", args=[flow.pk]),
        reverse("datasets:flow_export", args=[flow.pk]),
        f"/api/dataset-versions/{version.pk}/download/",
    ]
    for url in gets:
        assert client.get(url).status_code == 404, url
    posts = [
        reverse("datasets:delete", args=[version.dataset_id]),
        reverse("datasets:retype", args=[version.pk]),
        reverse("datasets:profile_start", args=[version.pk]),
        reverse("datasets:flow_run", args=[flow.pk]),
        reverse("datasets:flow_step_add", args=[flow.pk]),
        reverse("datasets:flow_delete", args=[flow.pk]),
    ]
    for url in posts:
        assert client.post(url, {"op": "drop_columns"}).status_code == 404, url
    assert version.dataset.__class__.objects.filter(pk=version.dataset_id).exists()
    assert flow.__class__.objects.filter(pk=flow.pk).exists()
    assert "secret" not in client.get(reverse("datasets:list")).content.decode()


# --- CSRF still holds on the upload views (they check it themselves, after installing the capped handler) ------


def test_upload_views_still_enforce_csrf(ds_user, project_a):
    from django.test import Client

    version = make_version(project_a, frame_sales(3), name="csrf")
    client = Client(enforce_csrf_checks=True)
    client.force_login(ds_user)
    for url in (reverse("datasets:list"), reverse("datasets:detail", args=[version.dataset_id])):
        response = client.post(url, {"file": files_upload("a.csv"), "name": "sneaky"})
        assert response.status_code == 403, url
    api = client.post("/api/datasets/", {"file": files_upload("a.csv"), "name": "sneaky", "project": project_a.pk})
    assert api.status_code == 403 and "CSRF" in api.json()["detail"]
    assert version.dataset.__class__.objects.filter(name="sneaky").count() == 0


def test_the_asgi_application_is_wrapped_by_the_guard():
    from apps.endpoints.serving.app import ServingApp
    from studio.asgi import application

    http = application.application_mapping["http"]
    # /endpoints/ is served first (it caps its own bodies); everything else goes through the upload guard
    assert isinstance(http, ServingApp) and isinstance(http.fallback, BodySizeLimitMiddleware)
