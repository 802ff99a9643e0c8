"""Static files as browsers should get them, in both run shapes: content-hashed names (`plotly.min.<hash>.js`), gzip
and brotli variants next to each file (WhiteNoise picks one by Accept-Encoding), and a one-year immutable cache for
the hashed names (studio/settings/base.py: STORAGES, WHITENOISE_ADD_HEADERS_FUNCTION).

`manage.py collectstatic` writes them into STATIC_ROOT; `manage.py serve` (`make run`) runs it before it starts the
web server. A file compressed by an earlier run and unchanged since is not compressed again, so a restart does not
spend half a minute on plotly.js.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from whitenoise.compress import Compressor
from whitenoise.storage import CompressedManifestStaticFilesStorage

try:
    import brotli
except ImportError:  # pragma: no cover - brotli is in requirements.txt; gzip alone without it
    brotli = None

ONE_YEAR_S = 365 * 24 * 3600


class _Compressor(Compressor):
    @staticmethod
    def compress_brotli(data: bytes) -> bytes:
        assert brotli is not None
        return brotli.compress(data, quality=int(settings.STATIC_BROTLI_QUALITY), mode=brotli.MODE_GENERIC)


class StaticStorage(CompressedManifestStaticFilesStorage):
    def create_compressor(self, **kwargs: Any) -> Compressor:
        return _Compressor(**kwargs)

    def _up_to_date(self, name: str) -> bool:
        """Both variants exist and carry the file's mtime (WhiteNoise copies it onto them): the same bytes as when
        they were written (a hashed name is its content; an unhashed file copied anew gets a new mtime)."""
        path = self.path(name)
        try:
            mtime = os.stat(path).st_mtime
            variants = [path + ".gz"] + ([path + ".br"] if brotli is not None else [])
            return all(os.stat(v).st_mtime == mtime for v in variants)
        except OSError:
            return False

    def compress_files(self, paths: Iterable[str]) -> Iterator[tuple[str, str]]:
        todo = []
        for name in paths:
            if self._up_to_date(name):
                yield name, name + ".gz"
            else:
                todo.append(name)
        yield from super().compress_files(todo)


def cache_headers(headers: Any, path: str, url: str) -> None:
    """WHITENOISE_ADD_HEADERS_FUNCTION: a hashed name never changes, so it is cached for a year (RFC 9111's
    recommended ceiling; WhiteNoise's own is ten years)."""
    if "immutable" in (headers.get("Cache-Control") or ""):
        headers["Cache-Control"] = f"max-age={ONE_YEAR_S}, public, immutable"
