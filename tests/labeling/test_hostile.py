"""Hostile content in labeling jobs: script tags in texts, label names and instructions stay inert (stored as
written, rendered escaped); SVG with script, an HTML file named .png, a decompression-bomb image and a zip bomb are
refused with clear messages and leave nothing stored; an item's image is served as an attachment with nosniff and a
fixed image content type, to the project's studio and the job's workers only."""

from __future__ import annotations

import io
from html.parser import HTMLParser
from typing import Any

import pytest
from django.urls import reverse
from PIL import Image

from apps.core.storage import project_root, walk_files
from apps.labeling.markdown import render_instructions
from apps.labeling.models import LabelingJob
from tests.factories import UserFactory
from tests.labeling.labeling_data import (
    HTML_AS_PNG,
    SVG_WITH_SCRIPT,
    image_bytes,
    jpeg_with_exif,
    jsonl,
    png_claiming,
    team_of,
    upload,
    zip_of,
)

pytestmark = pytest.mark.django_db

LIST = reverse("api:labeling-job-list")
SCRIPT = "<script>alert('x')</script>"


@pytest.fixture
def ctx(project_a: Any, ds_user: Any, labeler_user: Any, media: Any) -> dict[str, Any]:
    return {"project": project_a, "user": ds_user, "team": team_of(project_a, labeler_user), "labeler": labeler_user}


def images_body(ctx: dict[str, Any], *files: Any, **extra: Any) -> dict[str, Any]:
    return {
        "project": ctx["project"].pk,
        "name": "Pets",
        "task_type": "image_classification",
        "team": ctx["team"].pk,
        "labels": ["cat", "dog"],
        "file": list(files),
        **extra,
    }


def nothing_stored(project: Any) -> None:
    assert not LabelingJob.objects.exists()
    assert [p for p, _ in walk_files(project_root(project.pk)) if "/labeling/" in p] == []


# --- text stays inert -----------------------------------------------------------------------------------------


def test_script_in_labels_instructions_and_prompts_is_stored_as_written_and_rendered_escaped(
    ctx: dict[str, Any], api_for: Any, run_job: Any
) -> None:
    instructions = (
        f"Read this {SCRIPT}\n\n<img src=x onerror=alert(1)>\n\n[click](javascript:alert(1)) [ok](https://example.test)"
    )
    lines = jsonl({"prompt": SCRIPT, "responses": [f"<b>{SCRIPT}</b>"]})
    response = api_for(ctx["user"]).post(
        LIST,
        {
            "project": ctx["project"].pk,
            "name": f"Job {SCRIPT}",
            "task_type": "rewrite",
            "team": ctx["team"].pk,
            "instructions": instructions,
            "examples": f'[{{"text": "{SCRIPT}", "note": "<i>n</i>"}}]',
            "file": upload("p.jsonl", lines),
        },
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["name"] == f"Job {SCRIPT}" and data["instructions"] == instructions  # as written
    assert data["examples"] == [{"text": SCRIPT, "label": "", "note": "<i>n</i>"}]
    html = data["instructions_html"]
    assert "<script" not in html and "<img" not in html and "javascript:" not in html.replace("[click](javascript", "")
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert '<a href="https://example.test" rel="noopener noreferrer">ok</a>' in html
    run_job(data["prepare_job"])
    item = LabelingJob.objects.get(pk=data["id"]).items.get()
    assert item.data == {"prompt": SCRIPT, "responses": [{"text": f"<b>{SCRIPT}</b>", "model": ""}]}


def test_label_names_with_markup_are_kept_exactly(ctx: dict[str, Any], api_for: Any) -> None:
    labels = ['<img src=x onerror="alert(1)">', "a & b", "\"quoted\" 'label'"]
    body = {**images_body(ctx, upload("a.png", image_bytes())), "labels": labels}
    response = api_for(ctx["user"]).post(LIST, body, format="multipart")
    assert response.status_code == 201, response.json()
    assert response.json()["labels"] == labels


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        '<a href="javascript:alert(1)">x</a>',
        "[x](javascript:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "[x](JaVaScRiPt:alert(1))",
        '<iframe src="https://evil.test"></iframe>',
        "<style>body{display:none}</style>",
        '<div onclick="alert(1)">x</div>',
        "![pixel](https://tracker.test/p.gif)",
        "<!-- <script>alert(1)</script> -->",
    ],
)
def test_rendered_instructions_carry_no_active_content(text: str) -> None:
    parser = Tags()
    parser.feed(render_instructions(f"Intro\n\n{text}\n\n[fine](https://ok.test)"))
    names = {tag for tag, _ in parser.tags}
    assert names <= {"p", "a", "em", "strong", "code", "pre"}, names
    for tag, attrs in parser.tags:
        assert not any(a.startswith("on") or a in ("style", "src") for a in attrs), (tag, attrs)
        if tag == "a":
            assert attrs == {"href": "https://ok.test", "rel": "noopener noreferrer"}, attrs


def test_links_are_limited_to_http_https_and_mailto() -> None:
    html = render_instructions("[a](http://x.test) [b](https://x.test) [c](mailto:a@x.test) [d](ftp://x.test)")
    assert html.count("href=") == 3
    assert "ftp://" not in html


# --- hostile files ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("evil.svg", SVG_WITH_SCRIPT, "evil.svg: the file is text (HTML, SVG or XML), not an image"),
        ("innocent.png", HTML_AS_PNG, "innocent.png: the file is text (HTML, SVG or XML), not an image"),
        (
            "bomb.png",
            png_claiming(30_000, 30_000),
            "bomb.png: the image is over the limit of 40,000,000 pixels (LABELING_MAX_IMAGE_PIXELS); it looks like a "
            "decompression bomb",
        ),
        ("fake.png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 10, "fake.png:"),
        ("doc.png", b"%PDF-1.4 not an image", "doc.png: not a PNG, JPEG, WebP or GIF image."),
        ("empty.png", b"", "The submitted file is empty."),
    ],
)
def test_hostile_files_are_refused_with_a_clear_message(
    ctx: dict[str, Any], api_for: Any, name: str, data: bytes, message: str
) -> None:
    good = upload("good.png", image_bytes())
    response = api_for(ctx["user"]).post(LIST, images_body(ctx, good, upload(name, data)), format="multipart")
    assert response.status_code == 400, response.json()
    assert response.json()["errors"]["file"][0].startswith(message), response.json()
    nothing_stored(ctx["project"])  # the good image stored first is removed again


def test_pillows_own_bomb_guard_is_at_our_cap(ctx: dict[str, Any], api_for: Any, settings: Any) -> None:
    settings.LABELING_MAX_IMAGE_PIXELS = 100
    response = api_for(ctx["user"]).post(
        LIST, images_body(ctx, upload("big.png", image_bytes("PNG", (20, 20)))), format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["errors"]["file"][0].startswith("big.png: the image is over the limit of 100 pixels")
    assert Image.MAX_IMAGE_PIXELS == 100


def test_a_file_over_the_byte_cap_is_refused(ctx: dict[str, Any], api_for: Any, settings: Any) -> None:
    settings.LABELING_MAX_IMAGE_BYTES = 1000
    response = api_for(ctx["user"]).post(
        LIST,
        images_body(ctx, upload("big.png", image_bytes("PNG", (300, 300), colour=None) + b"\0" * 2000)),
        format="multipart",
    )
    assert response.status_code == 400
    message = response.json()["errors"]["file"][0]
    assert message.startswith("big.png: ") and message.endswith("per image (LABELING_MAX_IMAGE_BYTES).")


def test_a_zip_bomb_is_refused_before_it_is_expanded(ctx: dict[str, Any], api_for: Any, settings: Any) -> None:
    settings.LABELING_MAX_IMAGE_BYTES = 64 * 1024**2
    bomb = zip_of({"one.png": image_bytes(), "huge.png": b"\0" * (8 * 1024**2)})  # ~8 KB compressed, ratio ~1000
    response = api_for(ctx["user"]).post(LIST, images_body(ctx, upload("pets.zip", bomb)), format="multipart")
    assert response.status_code == 400
    message = response.json()["errors"]["file"][0]
    assert (
        message.startswith("pets.zip: Refusing the archive: member 'huge.png' expands")
        and "decompression bomb" in message
    )
    nothing_stored(ctx["project"])


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"a.png": image_bytes(), "evil.svg": SVG_WITH_SCRIPT}, "evil.svg: the file is text"),
        ({"../escape.png": image_bytes()}, "pets.zip: Refusing the archive: member '../escape.png' has a '..' part"),
        (
            {"inner.zip": zip_of({"a.png": image_bytes()})},
            "pets.zip: Refusing the archive: member 'inner.zip' is itself an archive",
        ),
        ({"__MACOSX/._a.png": b"x"}, "The upload holds no images."),
    ],
)
def test_a_zip_with_a_bad_member_is_refused_naming_it(
    ctx: dict[str, Any], api_for: Any, members: dict[str, bytes], message: str
) -> None:
    response = api_for(ctx["user"]).post(
        LIST, images_body(ctx, upload("pets.zip", zip_of(members))), format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["errors"]["file"][0].startswith(message), response.json()
    nothing_stored(ctx["project"])


# --- serving images -----------------------------------------------------------------------------------------------


def test_an_items_image_is_an_attachment_with_nosniff_and_a_fixed_type(
    ctx: dict[str, Any], api_for: Any, client_for: Any, run_job: Any, project_b: Any, outsider: Any
) -> None:
    tail = b"<html><script>alert(1)</script></html>"  # appended after the JPEG's end: gone once re-encoded
    created = (
        api_for(ctx["user"])
        .post(LIST, images_body(ctx, upload("photo.jpg", jpeg_with_exif() + tail)), format="multipart")
        .json()
    )
    run_job(created["prepare_job"])
    item = LabelingJob.objects.get(pk=created["id"]).items.get()
    url = reverse("api:labeling-item-image", kwargs={"pk": item.pk})
    for user in (ctx["user"], ctx["labeler"]):  # the studio, and a worker of the job's team
        response = client_for(user).get(url)
        assert response.status_code == 200
        assert response["Content-Type"] == "image/jpeg"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Disposition"] == 'attachment; filename="photo.jpg"'
        assert response["Cache-Control"] == "private, no-store"
        assert "sandbox" in response["Content-Security-Policy"]
        data = b"".join(response.streaming_content)
        assert tail not in data and b"SecretCam" not in data
        assert Image.open(io.BytesIO(data)).size == (20, 40)
    # A labeler of the project outside the job's team, an outsider of another project, and anonymous: not found.
    stranger = UserFactory(username="lou", personas=["labeler"], projects=[ctx["project"]])
    assert client_for(stranger).get(url).status_code == 404
    assert client_for(outsider).get(url).status_code == 404
    assert api_for(None).get(url).status_code == 401


def test_an_item_without_an_image_is_a_404(ctx: dict[str, Any], client_for: Any) -> None:
    from tests.factories import labeling_job

    job = labeling_job(ctx["project"], team=ctx["team"], items=[{"text": "x"}, {"image": "/etc/passwd", "name": "p"}])
    for item in job.items.all():
        assert (
            client_for(ctx["user"]).get(reverse("api:labeling-item-image", kwargs={"pk": item.pk})).status_code == 404
        )
