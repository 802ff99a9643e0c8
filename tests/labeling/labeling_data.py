"""Shared inputs of the jobs part's tests: frames, JSON Lines bodies and images made here (no files in the repo)."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from typing import Any

import pandas as pd
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from apps.accounts.models import WorkTeam

TEXTS = ["great phone", "<script>alert('x')</script> awful", "meh", "love it", "never again"]


def text_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "review": TEXTS,
            "stars": [5, 1, 3, 5, 1],
            "verdict": ["pos", "neg", "neg", "pos", "neg"],
        }
    )


def team_of(project: Any, *members: Any, name: str = "Raters") -> WorkTeam:
    team = WorkTeam.objects.create(project=project, name=name)
    team.members.add(*members)
    return team


def jsonl(*rows: Any) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows).encode() + b"\n"


def upload(name: str, data: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (40, 30), colour: Any = "red", **save: Any) -> bytes:
    mode = "RGB" if fmt in ("JPEG",) else "RGBA"
    out = io.BytesIO()
    Image.new(mode, size, colour).save(out, fmt, **save)
    return out.getvalue()


def jpeg_with_exif() -> bytes:
    """A JPEG carrying EXIF (camera make and a GPS position) and rotated by its orientation tag (6: 90° CW)."""
    im = Image.new("RGB", (40, 20), "blue")
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0112] = 6  # Orientation
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0)}  # GPS IFD
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif)
    return out.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("P", (10, 8), i) for i in (1, 2, 3)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header claims `width` × `height` pixels (a decompression bomb's header)."""
    data = bytearray(image_bytes("PNG", (8, 8)))
    ihdr = 8 + 8  # signature, then length + b"IHDR"
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[12 : ihdr + 13])) & 0xFFFFFFFF
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", crc)
    return bytes(data)


def zip_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


SVG_WITH_SCRIPT = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'
HTML_AS_PNG = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
