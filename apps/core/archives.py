"""The one guard for zip archives that users upload (skops models, xlsx workbooks, image zips for labeling).

Plain module (no Django at import time; `archive_limits()` reads the settings when it is called).

Two layers, so that a crafted archive costs at most the limits in memory and time:

* before anything is parsed (`check_zip`, done by `open_zip`): the central directory's entries are counted by
  walking its records *before* `zipfile` builds an object per entry (a 100,000-entry zip is refused after reading
  at most ``max_entries + 1`` records); then every member is checked: total and per-member declared uncompressed
  size, compression ratio (members under ``ratio_floor_bytes`` cannot bomb and are not ratio-checked), names
  (no absolute paths, drive letters, ``..`` parts, NUL bytes, duplicates), no symbolic links, no encryption,
  and no nested archives unless the caller allows them.
* while reading (`GuardedZip.open` / `.read`, which every consumer handed a `GuardedZip` goes through): a member is
  read in chunks and counted; reading stops with `ArchiveError` as soon as a member passes its declared size or the
  per-member cap, or the archive as a whole passes ``max_total_bytes`` of bytes handed out (so a schema that points
  at one member a thousand times cannot multiply it), or a member's bytes do not match its declared size and CRC.

Every refusal is an `ArchiveError` with a message for a person, a stable ``code`` and the ``member`` at fault.

Use::

    with open_zip(path, archive_limits()) as zf:        # checked; zf is a GuardedZip (a zipfile.ZipFile)
        for info in safe_members(zf):                   # the files (not directories), in archive order
            data = zf.read(info)                        # counted against the limits while it is read
"""

from __future__ import annotations

import io
import os
import re
import stat
import struct
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import IO, Any

from apps.core.units import human_bytes

CHUNK = 1 << 20
# Leading bytes of the archive and compressed formats a member must not be (unless the caller allows nesting).
ARCHIVE_MAGICS: tuple[tuple[int, bytes, str], ...] = (
    (0, b"PK\x03\x04", "zip"),
    (0, b"PK\x05\x06", "zip"),
    (0, b"\x1f\x8b", "gzip"),
    (0, b"BZh", "bzip2"),
    (0, b"\xfd7zXZ\x00", "xz"),
    (0, b"7z\xbc\xaf\x27\x1c", "7z"),
    (0, b"Rar!\x1a\x07", "rar"),
    (0, b"\x28\xb5\x2f\xfd", "zstd"),
    (257, b"ustar", "tar"),
)
ARCHIVE_SUFFIXES = (".zip", ".gz", ".tgz", ".tar", ".bz2", ".xz", ".7z", ".rar", ".zst", ".jar", ".npz")
_PEEK = 262  # enough for every magic above (tar's sits at offset 257)

_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"
_CENTRAL = b"PK\x01\x02"
_DRIVE = re.compile(r"^[A-Za-z]:")


class ArchiveError(ValueError):
    """An archive refused by the guard: ``message`` for a person, ``code`` for programs, ``member`` at fault."""

    def __init__(self, message: str, code: str, member: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.member = member
        self.details = details  # numbers behind the refusal (ratio, sizes, limit)


@dataclass(frozen=True)
class ArchiveLimits:
    """What one archive may hold. `archive_limits()` builds it from the settings (ARCHIVE_*)."""

    max_entries: int = 10_000
    max_total_bytes: int = 1024**3  # declared uncompressed total, and the bytes handed out while reading
    max_member_bytes: int = 512 * 1024**2
    max_ratio: float = 200.0
    ratio_floor_bytes: int = 1024**2  # members smaller than this cannot bomb; their ratio is not checked
    allow_nested: bool = False  # members that are themselves archives (checked by name and leading bytes)

    def but(self, **changes: Any) -> ArchiveLimits:
        return replace(self, **changes)


def archive_limits(**changes: Any) -> ArchiveLimits:
    """The limits from the settings (ARCHIVE_MAX_ENTRIES, ARCHIVE_MAX_UNCOMPRESSED_BYTES, ARCHIVE_MAX_MEMBER_BYTES,
    ARCHIVE_MAX_RATIO, ARCHIVE_RATIO_FLOOR_BYTES), with ``changes`` for one caller."""
    from django.conf import settings

    base = ArchiveLimits(
        max_entries=int(settings.ARCHIVE_MAX_ENTRIES),
        max_total_bytes=int(settings.ARCHIVE_MAX_UNCOMPRESSED_BYTES),
        max_member_bytes=int(settings.ARCHIVE_MAX_MEMBER_BYTES),
        max_ratio=float(settings.ARCHIVE_MAX_RATIO),
        ratio_floor_bytes=int(settings.ARCHIVE_RATIO_FLOOR_BYTES),
    )
    return base.but(**changes) if changes else base


Source = str | os.PathLike[str] | IO[bytes]


def is_zip(source: Source) -> bool:
    """True when the bytes start like a zip archive (a local file header or an empty archive)."""
    with _binary(source) as fh:
        head = fh.read(4)
    return head in (b"PK\x03\x04", b"PK\x05\x06")


@contextmanager
def _binary(source: Source) -> Iterator[IO[bytes]]:
    if hasattr(source, "read"):
        fh: IO[bytes] = source  # type: ignore[assignment]
        position = fh.tell()
        fh.seek(0)
        try:
            yield fh
        finally:
            fh.seek(position)
    else:
        with open(os.fspath(source), "rb") as own:  # type: ignore[arg-type]
            yield own


# --- before parsing: the central directory ----------------------------------------------------------------------


def _central_directory(fh: IO[bytes]) -> tuple[int, int, int]:
    """(entries declared, size, offset) of the central directory, from the end records (zip64 too)."""
    fh.seek(0, io.SEEK_END)
    size = fh.tell()
    tail_len = min(size, 22 + 65535)
    fh.seek(size - tail_len)
    tail = fh.read(tail_len)
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < 22:
        raise ArchiveError("The file is not a zip archive (no end of central directory).", "not_a_zip")
    _, _, _, _, entries, cd_size, cd_offset, _ = struct.unpack("<4sHHHHIIH", tail[at : at + 22])
    if entries == 0xFFFF or cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF:
        locator = tail[at - 20 : at] if at >= 20 else b""
        if locator[:4] != _EOCD64_LOCATOR:
            raise ArchiveError("The zip archive's end records are damaged (zip64 locator missing).", "damaged")
        (eocd64_offset,) = struct.unpack("<Q", locator[8:16])
        fh.seek(eocd64_offset)
        record = fh.read(56)
        if len(record) < 56 or record[:4] != _EOCD64:
            raise ArchiveError("The zip archive's end records are damaged (zip64 record missing).", "damaged")
        entries, cd_size, cd_offset = struct.unpack("<QQQ", record[32:56])
    if cd_offset + cd_size > size:
        raise ArchiveError("The zip archive's central directory lies outside the file.", "damaged")
    return entries, cd_size, cd_offset


def count_entries(fh: IO[bytes], limit: int) -> int:
    """Entries in the central directory, counted record by record (not from the declared count, which may lie);
    ArchiveError as soon as there are more than ``limit``, before anything builds an object per entry."""
    declared, cd_size, cd_offset = _central_directory(fh)
    if declared > limit:
        raise _too_many(declared, limit)
    if cd_size > limit * 4096 + CHUNK:
        raise ArchiveError(
            f"The archive's central directory is {human_bytes(cd_size)}, too large for "
            f"{limit:,} entries (ARCHIVE_MAX_ENTRIES).",
            "too_many_entries",
        )
    fh.seek(cd_offset)
    remaining, buffer, pos, count = cd_size, b"", 0, 0

    def have(n: int) -> bool:  # at least n bytes from pos, reading on in chunks
        nonlocal buffer, pos, remaining
        while len(buffer) - pos < n and remaining > 0:
            more = fh.read(min(CHUNK, remaining))
            if not more:
                break
            remaining -= len(more)
            buffer, pos = buffer[pos:] + more, 0
        return len(buffer) - pos >= n

    while have(46) and buffer[pos : pos + 4] == _CENTRAL:
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", buffer, pos + 28)
        record = 46 + name_len + extra_len + comment_len
        if not have(record):
            break
        pos += record
        count += 1
        if count > limit:
            raise _too_many(count, limit, at_least=True)
    return count


def _too_many(count: int, limit: int, *, at_least: bool = False) -> ArchiveError:
    many = f"more than {limit:,}" if at_least else f"{count:,}"
    return ArchiveError(
        f"The archive has {many} entries; the limit is {limit:,} (ARCHIVE_MAX_ENTRIES).", "too_many_entries"
    )


def _unsafe_name(name: str) -> str | None:
    if not name:
        return "an empty name"
    if "\x00" in name:
        return "a NUL byte"
    path = name.replace("\\", "/")
    if path.startswith("/") or _DRIVE.match(path):
        return "an absolute path"
    if ".." in path.split("/"):
        return "a '..' part"
    return None


def _nested_kind(name: str, head: bytes | None = None) -> str | None:
    lower = name.lower()
    for suffix in ARCHIVE_SUFFIXES:
        if lower.endswith(suffix):
            return suffix.lstrip(".")
    if head:
        for offset, magic, kind in ARCHIVE_MAGICS:
            if head[offset : offset + len(magic)] == magic:
                return kind
    return None


def check_members(infos: list[zipfile.ZipInfo], limits: ArchiveLimits) -> None:
    """The declared members against the limits (names, links, encryption, sizes, ratios, nesting)."""
    if len(infos) > limits.max_entries:
        raise _too_many(len(infos), limits.max_entries)
    seen: set[str] = set()
    for info in infos:
        name = info.filename
        problem = _unsafe_name(name)
        if problem:
            raise ArchiveError(f"Refusing the archive: member {name!r} has {problem} in its name.", "unsafe_name", name)
        key = name.replace("\\", "/").rstrip("/")
        if key in seen:
            raise ArchiveError(f"Refusing the archive: member {name!r} appears twice.", "duplicate_name", name)
        seen.add(key)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ArchiveError(f"Refusing the archive: member {name!r} is a symbolic link.", "link", name)
        if info.flag_bits & 0x1:
            raise ArchiveError(f"Refusing the archive: member {name!r} is encrypted.", "encrypted", name)
        if not limits.allow_nested and not info.is_dir():
            kind = _nested_kind(name)
            if kind:
                raise ArchiveError(
                    f"Refusing the archive: member {name!r} is itself an archive ({kind}); nested "
                    "archives are not accepted.",
                    "nested_archive",
                    name,
                )
    total = sum(info.file_size for info in infos)
    if total > limits.max_total_bytes:
        raise ArchiveError(
            f"Refusing the archive: it expands to {human_bytes(total)}; the limit is "
            f"{human_bytes(limits.max_total_bytes)} (ARCHIVE_MAX_UNCOMPRESSED_BYTES).",
            "too_large",
            uncompressed=total,
            limit=limits.max_total_bytes,
        )
    for info in infos:
        name = info.filename
        if info.file_size >= limits.ratio_floor_bytes:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_ratio:
                raise ArchiveError(
                    f"Refusing the archive: member {name!r} expands {ratio:,.0f}x ({human_bytes(info.compress_size)} "
                    f"to {human_bytes(info.file_size)}); the limit is {limits.max_ratio:,.0f}x (ARCHIVE_MAX_RATIO). "
                    "It looks like a decompression bomb.",
                    "ratio",
                    name,
                    ratio=ratio,
                    limit=limits.max_ratio,
                )
        if info.file_size > limits.max_member_bytes:
            raise ArchiveError(
                f"Refusing the archive: member {name!r} expands to {human_bytes(info.file_size)}; the limit for one "
                f"member is {human_bytes(limits.max_member_bytes)} (ARCHIVE_MAX_MEMBER_BYTES).",
                "member_too_large",
                name,
                uncompressed=info.file_size,
                limit=limits.max_member_bytes,
            )


# --- while reading ------------------------------------------------------------------------------------------------


class GuardedZip(zipfile.ZipFile):
    """A zipfile.ZipFile whose reads are counted against the limits (see the module docstring). Opened by
    `open_zip`, which checks the archive first; writing is not supported."""

    limits: ArchiveLimits
    handed_out: int

    def open(
        self,
        name: str | zipfile.ZipInfo,
        mode: str = "r",
        pwd: bytes | None = None,
        *,  # type: ignore[override]
        force_zip64: bool = False,
    ) -> IO[bytes]:
        if mode != "r":
            raise ValueError("A GuardedZip is read-only.")
        try:
            info = name if isinstance(name, zipfile.ZipInfo) else self.getinfo(name)
        except KeyError as exc:
            raise ArchiveError(f"The archive has no member {name!r}.", "missing_member", str(name)) from exc
        try:
            raw = super().open(info, "r", pwd)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as exc:
            raise ArchiveError(f"Member {info.filename!r} cannot be read: {exc}.", "damaged", info.filename) from exc
        return _GuardedMember(self, info, raw)  # type: ignore[return-value]

    def _take(self, info: zipfile.ZipInfo, n: int) -> None:
        self.handed_out += n
        if self.handed_out > self.limits.max_total_bytes:
            raise ArchiveError(
                f"Refusing the archive: reading it hands out more than {human_bytes(self.limits.max_total_bytes)} "
                "(ARCHIVE_MAX_UNCOMPRESSED_BYTES).",
                "too_large",
                info.filename,
            )


class _GuardedMember(io.BufferedIOBase):
    """One member, read in chunks of at most CHUNK bytes and counted; see GuardedZip."""

    def __init__(self, owner: GuardedZip, info: zipfile.ZipInfo, raw: Any) -> None:
        super().__init__()
        self._owner, self._info, self._raw = owner, info, raw
        self._read = 0
        self._cap = min(info.file_size, owner.limits.max_member_bytes)
        self._checked_head = owner.limits.allow_nested

    @property
    def name(self) -> str:
        return self._info.filename

    def readable(self) -> bool:
        return True

    def _chunk(self, size: int) -> bytes:
        info = self._info
        try:
            data = self._raw.read(min(size, CHUNK))
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:  # zlib.error is an Exception subclass too
            raise ArchiveError(
                f"Member {info.filename!r} is damaged: its data do not match its declared size and checksum ({exc}).",
                "damaged",
                info.filename,
            ) from exc
        except Exception as exc:
            raise ArchiveError(f"Member {info.filename!r} is damaged: {exc}.", "damaged", info.filename) from exc
        if not self._checked_head and data:
            self._checked_head = True
            kind = _nested_kind("", data[:_PEEK])
            if kind:
                raise ArchiveError(
                    f"Refusing the archive: member {info.filename!r} is itself an archive ({kind}); "
                    "nested archives are not accepted.",
                    "nested_archive",
                    info.filename,
                )
        self._read += len(data)
        if self._read > self._cap:
            raise ArchiveError(
                f"Refusing the archive: member {info.filename!r} holds more than its declared "
                f"{human_bytes(info.file_size)} or the limit of {human_bytes(self._owner.limits.max_member_bytes)}.",
                "size_mismatch",
                info.filename,
            )
        if not data and self._read != info.file_size:
            raise ArchiveError(
                f"Member {info.filename!r} is damaged: it declares {info.file_size:,} bytes and holds {self._read:,}.",
                "size_mismatch",
                info.filename,
            )
        self._owner._take(info, len(data))
        return data

    def read(self, size: int | None = -1) -> bytes:
        if size is not None and size >= 0:
            return self._chunk(size) if size else b""
        parts = []
        while chunk := self._chunk(CHUNK):
            parts.append(chunk)
        return b"".join(parts)

    def read1(self, size: int = -1) -> bytes:
        return self.read(size if size >= 0 else CHUNK)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._raw.close()
        super().close()


@contextmanager
def open_zip(source: Source, limits: ArchiveLimits) -> Iterator[GuardedZip]:
    """The archive checked against ``limits`` and opened as a GuardedZip (ArchiveError otherwise)."""
    with _binary(source) as fh:
        try:
            count_entries(fh, limits.max_entries)
            fh.seek(0)
            zf = GuardedZip(fh)
        except ArchiveError:
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, struct.error) as exc:
            raise ArchiveError(f"The file is not a readable zip archive: {exc}.", "not_a_zip") from exc
        zf.limits, zf.handed_out = limits, 0
        with zf:
            check_members(zf.infolist(), limits)
            yield zf


def check_zip(source: Source, limits: ArchiveLimits) -> list[zipfile.ZipInfo]:
    """Check an archive without reading its members; its members' infos, or ArchiveError."""
    with open_zip(source, limits) as zf:
        return zf.infolist()


def safe_members(zf: GuardedZip) -> list[zipfile.ZipInfo]:
    """The checked archive's files (directories left out), in archive order."""
    return [info for info in zf.infolist() if not info.is_dir()]
