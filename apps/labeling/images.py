"""Images that users upload for labeling: each file checked as an image and re-encoded before it is stored.

What gets in is only what Pillow decodes as PNG, JPEG, WebP or GIF (its first frame), under a byte cap per file
(LABELING_MAX_IMAGE_BYTES) and a pixel cap (LABELING_MAX_IMAGE_PIXELS) checked from the header before any pixel is
decoded; Pillow's own bomb guard (Image.MAX_IMAGE_PIXELS) is set to the same cap and its warning is an error here.
Text (HTML, SVG, XML) is refused whatever the file is named. The stored file is a fresh encoding of the decoded
pixels (JPEG stays JPEG, WebP stays WebP, PNG and GIF become PNG): EXIF (GPS, camera, the orientation once
applied), comments, ICC profiles and anything appended after the image's end are gone. A zip of images goes
through the one archive guard (apps/core/archives.py) first.

The stored image is served by `image_response` (GET /api/labeling-items/{id}/image) as an attachment with nosniff
and a content type fixed by the stored extension, never the user's."""

from __future__ import annotations

import io
import json
import posixpath
import uuid
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.http import FileResponse, Http404
from PIL import Image, ImageOps, UnidentifiedImageError

from apps.core.archives import ArchiveError, archive_limits, is_zip, open_zip, safe_members
from apps.core.attachments import attachment
from apps.core.storage import project_path, project_root, storage
from apps.core.units import human_bytes

FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
CONTENT_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".webp": "image/webp"}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")


class ImageRefused(ValueError):
    """An uploaded file that is not accepted as an image; the message names the file and says why."""


@dataclass(frozen=True)
class CleanImage:
    data: bytes  # the re-encoded file
    suffix: str  # ".png" or ".jpg"
    width: int
    height: int


def max_bytes() -> int:
    return int(settings.LABELING_MAX_IMAGE_BYTES)


def max_pixels() -> int:
    return int(settings.LABELING_MAX_IMAGE_PIXELS)


def _looks_like_text(head: bytes) -> bool:
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n\x00")
    return stripped[:1] == b"<" or stripped[:5].lower() in (b"<?xml", b"<svg ", b"<html", b"<!doc")


def clean_image(data: bytes, name: str) -> CleanImage:
    """`data` decoded as an image and re-encoded (ImageRefused with a person's message otherwise)."""
    if len(data) > max_bytes():
        raise ImageRefused(
            f"{name}: {human_bytes(len(data))} is over the limit of {human_bytes(max_bytes())} per image "
            "(LABELING_MAX_IMAGE_BYTES)."
        )
    if not data:
        raise ImageRefused(f"{name}: the file is empty.")
    if _looks_like_text(data[:512]):
        raise ImageRefused(
            f"{name}: the file is text (HTML, SVG or XML), not an image; only PNG, JPEG, WebP and GIF are accepted."
        )
    cap = max_pixels()
    Image.MAX_IMAGE_PIXELS = cap  # Pillow's own guard, at our cap (refuses at twice it; warns above it: an error here)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=FORMATS) as im:
                width, height = im.size
                if width <= 0 or height <= 0:
                    raise ImageRefused(f"{name}: the image has no pixels.")
                if width * height > cap:  # from the header, before anything is decoded
                    raise ImageRefused(
                        f"{name}: {width:,} × {height:,} pixels is over the limit of {cap:,} pixels "
                        "(LABELING_MAX_IMAGE_PIXELS); it looks like a decompression bomb."
                    )
                fmt = im.format
                im.seek(0)  # GIF, animated WebP: the first frame
                im.load()
                frame = ImageOps.exif_transpose(im)  # what people saw: the EXIF orientation applied, then dropped
    except ImageRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRefused(
            f"{name}: the image is over the limit of {cap:,} pixels (LABELING_MAX_IMAGE_PIXELS); it looks like a "
            f"decompression bomb ({exc})."
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageRefused(f"{name}: not a PNG, JPEG, WebP or GIF image.") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRefused(f"{name}: the image is damaged or truncated ({exc}).") from exc
    # A fresh image from the pixels alone: no info, EXIF, ICC profile, comments, or bytes after the end.
    if fmt == "JPEG":
        mode, out_format, suffix = ("L" if frame.mode in ("1", "L") else "RGB"), "JPEG", ".jpg"
    elif fmt == "WEBP":  # as PNG a photo grows ~10x; WebP again keeps it small
        mode, out_format, suffix = ("RGBA" if frame.mode in ("RGBA", "LA", "PA") else "RGB"), "WEBP", ".webp"
    else:
        has_alpha = frame.mode in ("RGBA", "LA", "PA") or (frame.mode == "P" and "transparency" in frame.info)
        mode, out_format, suffix = ("RGBA" if has_alpha else "RGB"), "PNG", ".png"
    pixels = frame.convert(mode)
    fresh = Image.frombytes(mode, pixels.size, pixels.tobytes())
    out = io.BytesIO()
    fresh.save(out, out_format, **({"quality": 92} if out_format in ("JPEG", "WEBP") else {}))
    return CleanImage(out.getvalue(), suffix, fresh.width, fresh.height)


# --- uploads ----------------------------------------------------------------------------------------------------


def _named(files: Iterable[Any]) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of each uploaded image, zips opened through the archive guard (one image at a time)."""
    limit = int(settings.LABELING_MAX_ITEMS)
    count = 0
    for upload in files:
        name = posixpath.basename(str(getattr(upload, "name", "") or "image"))
        if upload.size is not None and upload.size > max(max_bytes(), int(settings.LABELING_MAX_ZIP_BYTES)):
            raise ImageRefused(f"{name}: {human_bytes(upload.size)} is too large.")
        handle: IO[bytes] = upload.open("rb") if hasattr(upload, "open") else upload
        if is_zip(handle):
            if upload.size is not None and upload.size > int(settings.LABELING_MAX_ZIP_BYTES):
                raise ImageRefused(
                    f"{name}: {human_bytes(upload.size)} is over the limit of "
                    f"{human_bytes(int(settings.LABELING_MAX_ZIP_BYTES))} for a zip (LABELING_MAX_ZIP_BYTES)."
                )
            try:
                with open_zip(handle, archive_limits(max_member_bytes=max_bytes())) as zf:
                    for info in safe_members(zf):
                        member = info.filename
                        base = posixpath.basename(member)
                        if member.startswith("__MACOSX/") or base.startswith("."):
                            continue  # Finder's resource forks and hidden files
                        count += 1
                        if count > limit:
                            raise ImageRefused(f"More than {limit:,} images (LABELING_MAX_ITEMS).")
                        yield member, zf.read(info)
            except ArchiveError as exc:
                raise ImageRefused(f"{name}: {exc.message}") from exc
            continue
        count += 1
        if count > limit:
            raise ImageRefused(f"More than {limit:,} images (LABELING_MAX_ITEMS).")
        handle.seek(0)
        yield name, handle.read(max_bytes() + 1)


def images_store(*, project_id: int, files: Iterable[Any]) -> str:
    """Check, re-encode and store every image of `files` (uploaded files: images or zips of images) under
    projects/<id>/labeling/uploads/<uuid>/, with a manifest (JSON: [{image, name, width, height}]) whose key is
    returned. ImageRefused on the first file refused, and then nothing is left stored."""
    folder = f"labeling/uploads/{uuid.uuid4().hex}"
    stored: list[str] = []
    manifest: list[dict[str, Any]] = []
    store = storage()
    try:
        for n, (name, data) in enumerate(_named(files)):
            clean = clean_image(data, name)
            key = store.save(project_path(project_id, folder, f"{n:07d}{clean.suffix}"), ContentFile(clean.data))
            stored.append(key)
            manifest.append({"image": key, "name": name[:300], "width": clean.width, "height": clean.height})
        if not manifest:
            raise ImageRefused("The upload holds no images.")
        key = store.save(project_path(project_id, folder, "manifest.json"), ContentFile(json.dumps(manifest).encode()))
        stored.append(key)
        return key
    except BaseException:
        for key in stored:
            store.delete(key)
        raise


def manifest_read(key: str) -> list[dict[str, Any]]:
    with storage().open(key, "rb") as fh:
        return list(json.loads(fh.read()))


def uploads_delete(*, project_id: int, manifest_key: str) -> None:
    """The stored images of one upload and its manifest."""
    folder = posixpath.dirname(manifest_key)
    if not folder.startswith(project_root(project_id) + "/labeling/uploads/"):
        return
    store = storage()
    try:
        _, names = store.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in names:
        store.delete(f"{folder}/{name}")


# --- serving ----------------------------------------------------------------------------------------------------


# A user's file, opened on its own, runs nothing and loads nothing (stricter than the app's policy).
IMAGE_CSP = "default-src 'none'; sandbox"


def image_response(item: Any) -> FileResponse:
    """The item's stored image as an attachment (nosniff, no-store), its content type fixed by the stored extension."""
    key = str((item.data or {}).get("image") or "")
    suffix = posixpath.splitext(key)[1].lower()
    if not key.startswith(project_root(item.job.project_id) + "/labeling/") or suffix not in CONTENT_TYPES:
        raise Http404("This item has no image.")
    try:
        handle = storage().open(key, "rb")
    except FileNotFoundError as exc:
        raise Http404("The image file is missing.") from exc
    stem = posixpath.splitext(posixpath.basename(str(item.data.get("name") or "image")))[0] or "image"
    response = attachment(FileResponse(handle, content_type=CONTENT_TYPES[suffix]), f"{stem}{suffix}")
    response["Content-Security-Policy"] = IMAGE_CSP
    return response
