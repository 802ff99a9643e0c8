"""Temp files on local disk, and writing files so that a reader sees them whole or not at all.

- `temp_path(suffix)`: a fresh, empty temp file (under FILE_UPLOAD_TEMP_DIR, next to uploads, so moving it into
  local storage is a rename), removed afterwards whatever happens.
- `replace_into_place(dest)`: a temp path next to `dest` (same folder, same file system) that is `os.replace`d onto
  `dest` when the block ends without error, and removed when it raises.
- `save_into_place(local, name)`: a local file moved (local storage) or uploaded (other backends) to `name` of the
  default storage, replacing a leftover there.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.core.files import File

from apps.core.storage import storage


def temp_dir() -> str:
    """The folder for local temp files (created if missing)."""
    path = settings.FILE_UPLOAD_TEMP_DIR or tempfile.gettempdir()
    os.makedirs(path, exist_ok=True)
    return str(path)


@contextlib.contextmanager
def temp_path(suffix: str = "", *, prefix: str = "atelier-") -> Iterator[str]:
    """The path of a new empty temp file, removed when the block ends (also when it raises)."""
    fd, path = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=temp_dir())
    os.close(fd)
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


@contextlib.contextmanager
def replace_into_place(dest: str | os.PathLike[str]) -> Iterator[Path]:
    """A temp path in `dest`'s folder to write to; renamed onto `dest` (atomically: whole or absent) when the block
    ends without error, removed when it raises."""
    target = Path(dest)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


class _LocalFile(File):
    """A local file that FileSystemStorage may move (rename) instead of copying."""

    def temporary_file_path(self) -> str:
        return str(self.name)


def save_into_place(local: str, name: str) -> str:
    """Move (local storage) or upload (other backends) `local` to `name`; returns the stored name.

    A leftover file under `name` (an attempt that died after its move) is replaced."""
    store = storage()
    if store.exists(name):
        store.delete(name)
    with open(local, "rb") as handle:
        return store.save(name, _LocalFile(handle, name=local))
