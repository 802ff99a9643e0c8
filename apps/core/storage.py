"""Project storage: every stored file lives under `projects/<project id>/...` of the default storage.

Paths that come from users (names, keys) are checked here and nowhere else: no absolute paths,
no `..`, no URL schemes, no encoded separators, no control characters. Whatever the backend
(local disk or S3), a path resolved by `project_path` stays under its project's root.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
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
