"""apps/labeling/images.py on its own: what clean_image accepts, what it gives back, and what it refuses."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from apps.labeling.images import ImageRefused, clean_image
from tests.labeling.labeling_data import animated_gif, image_bytes, jpeg_with_exif


def decoded(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def test_a_gif_keeps_its_first_frame_only() -> None:
    clean = clean_image(animated_gif(), "anim.gif")
    im = decoded(clean.data)
    assert (im.format, getattr(im, "n_frames", 1), clean.suffix) == ("PNG", 1, ".png")
    first = Image.open(io.BytesIO(animated_gif())).convert("RGB").getpixel((0, 0))
    assert im.convert("RGB").getpixel((0, 0)) == first


def test_transparency_is_kept_and_metadata_and_appended_bytes_dropped() -> None:
    out = io.BytesIO()
    info = PngInfo()
    info.add_text("Comment", "<script>alert(1)</script>")
    Image.new("RGBA", (4, 4), (255, 0, 0, 0)).save(out, "PNG", pnginfo=info)
    clean = clean_image(out.getvalue() + b"<html>appended</html>", "t.png")
    back = decoded(clean.data)
    assert back.mode == "RGBA" and back.getpixel((0, 0))[3] == 0  # type: ignore[index]
    assert b"script" not in clean.data and b"appended" not in clean.data
    assert not back.info.get("Comment")


def test_a_cmyk_jpeg_becomes_an_rgb_jpeg() -> None:
    out = io.BytesIO()
    Image.new("CMYK", (6, 6), (0, 255, 255, 0)).save(out, "JPEG")
    clean = clean_image(out.getvalue(), "print.jpg")
    assert (decoded(clean.data).mode, clean.suffix) == ("RGB", ".jpg")


def test_exif_orientation_is_applied_and_exif_dropped() -> None:
    clean = clean_image(jpeg_with_exif(), "photo.jpg")
    assert (clean.width, clean.height) == (20, 40)
    assert not decoded(clean.data).getexif()


def test_webp_stays_webp() -> None:
    clean = clean_image(image_bytes("WEBP", (9, 7)), "w.webp")
    assert (decoded(clean.data).format, clean.suffix, clean.width) == ("WEBP", ".webp", 9)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (image_bytes("PNG", (50, 50))[:60], "t.png: the image is damaged or truncated"),
        (b"BM" + b"\0" * 60, "t.png: not a PNG, JPEG, WebP or GIF image."),
        (b"\xef\xbb\xbf  <svg></svg>", "t.png: the file is text (HTML, SVG or XML)"),
        (b"<?xml version='1.0'?><svg/>", "t.png: the file is text (HTML, SVG or XML)"),
    ],
)
def test_refusals_say_what_is_wrong(data: bytes, message: str) -> None:
    with pytest.raises(ImageRefused) as caught:
        clean_image(data, "t.png")
    assert str(caught.value).startswith(message)


def test_a_real_bmp_is_refused_though_pillow_reads_it() -> None:
    out = io.BytesIO()
    Image.new("RGB", (3, 3)).save(out, "BMP")
    with pytest.raises(ImageRefused, match="not a PNG, JPEG, WebP or GIF image"):
        clean_image(out.getvalue(), "x.png")
