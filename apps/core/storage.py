"""Project storage: every stored file lives under `projects/<project id>/...` of the default storage.

Paths that come from users (names, keys) are checked here and nowhere else: no absolute paths,
no `..`, no URL schemes, no encoded separators, no control characters. Whatever the backend
(local disk or S3), a path resolved by `project_path` stays under its project's root.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from typing import IO, Any
from urllib.parse import unquote

from django.core.files.storage import Storage, default_storage

_SAFE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,199}$")


class UnsafePath(ValueError):
    """A user-supplied path that could escape its storage root."""


def check_path_part(part: str) -> str:
    """Validate one path segment or a relative path made of such segments; return it normalised."""
    if not isinstance(part, str) or not part:
        raise UnsafePath("Empty path.")
    if unquote(part) != part:
        raise UnsafePath(f"Encoded characters are not allowed in paths: {part!r}.")
    if "://" in part or part.startswith(("/", "\\", "~")) or re.match(r"^[A-Za-z]:", part):
        raise UnsafePath(f"Absolute paths and URLs are not allowed: {part!r}.")
    segments = part.replace("\\", "/").split("/")
    for segment in segments:
        if segment in ("", ".", "..") or not _SAFE_PART.match(segment) or any(c in segment for c in "#?*%:"):
            raise UnsafePath(f"Invalid path segment {segment!r} in {part!r}.")
    return "/".join(segments)


def project_root(project_id: int) -> str:
    return f"projects/{int(project_id)}"


def project_path(project_id: int, *parts: str) -> str:
    return "/".join([project_root(project_id), *(check_path_part(p) for p in parts)])


def storage() -> Storage:
    return default_storage


def list_dir(prefix: str) -> tuple[list[str], list[str]]:
    """(directories, files) directly under `prefix` of the default storage; both empty when it does not exist."""
    try:
        return storage().listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return [], []


def walk_files(prefix: str) -> Iterator[tuple[str, int]]:
    """Yield (path, size) for every file under `prefix` of the default storage."""
    store = storage()
    dirs, files = list_dir(prefix)
    for name in files:
        path = f"{prefix}/{name}"
        yield path, store.size(path)
    for name in dirs:
        yield from walk_files(f"{prefix}/{name}")


# --- ranged reads ---------------------------------------------------------------------------------------------


class RangeReader(io.RawIOBase):
    """A seekable, read-only file whose reads fetch just the bytes asked for (`fetch(first, last)`, inclusive), so
    that a Parquet reader on an object store downloads the footer and the row groups it needs, not the whole file."""

    def __init__(self, fetch: Callable[[int, int], bytes], size: int) -> None:
        super().__init__()
        self._fetch, self._size, self._pos = fetch, size, 0
        self.fetched = 0  # bytes downloaded so far (tests)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        n = min(len(view), self._size - self._pos)
        if n <= 0:
            return 0
        data = self._fetch(self._pos, self._pos + n - 1)
        view[: len(data)] = data
        self._pos += len(data)
        self.fetched += len(data)
        return len(data)


def open_ranged(name: str, buffer_size: int = 256 * 1024) -> IO[bytes] | None:
    """`name` of the default storage as a seekable file read by byte ranges, for object stores (S3 and compatibles);
    None for storages that open files cheaply themselves (local disk)."""
    store = storage()
    bucket = getattr(store, "bucket", None)
    normalize = getattr(store, "_normalize_name", None)  # django-storages' S3Storage: the object key of a name
    if bucket is None or normalize is None:
        return None
    obj = bucket.Object(normalize(name))

    def fetch(first: int, last: int) -> bytes:
        return bytes(obj.get(Range=f"bytes={first}-{last}")["Body"].read())

    return io.BufferedReader(RangeReader(fetch, int(obj.content_length)), buffer_size=buffer_size)
