"""Hostile zip archives, built in the test (nothing downloaded): decompression bombs, archives with too many entries,
members whose declared size lies, and the skops/xlsx variants of them."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

MB = 1024 * 1024


def zip_of(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def zeros_bomb(
    name: str = "zeros.bin",
    size: int = 256 * MB,
    head: bytes = b"",
    others: dict[str, bytes] | None = None,
) -> bytes:
    """A zip whose member `name` is `head` then `size` zero bytes, deflated to ~1/1000 of that."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for other, data in (others or {}).items():
            zf.writestr(other, data, compress_type=zipfile.ZIP_STORED)
        with zf.open(name, "w", force_zip64=True) as member:
            member.write(head)
            zero = bytes(4 * MB)
            for _ in range(size // len(zero)):
                member.write(zero)
    return buffer.getvalue()


def many_entries(n: int, *, declare: int | None = None) -> bytes:
    """A zip of `n` empty files, written record by record (fast); `declare` is the entry count its end record
    claims (the real count when None; capped below 65535, where zip64 records would be expected)."""
    local, central = bytearray(), bytearray()
    for i in range(n):
        name = f"f{i}".encode()
        offset = len(local)
        local += struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0) + name
        central += (
            struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0, 0, 0, 0, 0, offset)
            + name
        )
    count = min(n if declare is None else declare, 0xFFFE)
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, count, count, len(central), len(local), 0)
    return bytes(local + central + end)


def _central_records(data: bytes) -> Iterator[tuple[int, str]]:
    end = data.rfind(b"PK\x05\x06")
    (cd_offset,) = struct.unpack_from("<I", data, end + 16)
    pos = cd_offset
    while data[pos : pos + 4] == b"PK\x01\x02":
        name_len, extra_len, comment_len = struct.unpack("<HHH", data[pos + 28 : pos + 34])
        yield pos, data[pos + 46 : pos + 46 + name_len].decode()
        pos += 46 + name_len + extra_len + comment_len


def lie_about_size(data: bytes, name: str, declared: int) -> bytes:
    """The archive with member `name`'s uncompressed size set to `declared` in its central directory and local
    header (the compressed stream and its CRC unchanged)."""
    out = bytearray(data)
    for pos, member in _central_records(data):
        if member == name:
            struct.pack_into("<I", out, pos + 24, declared)
            (local,) = struct.unpack_from("<I", data, pos + 42)
            struct.pack_into("<I", out, local + 22, declared)
            return bytes(out)
    raise KeyError(name)


def set_flag(data: bytes, name: str, bit: int) -> bytes:
    """The archive with general-purpose flag `bit` set on member `name` (central directory and local header)."""
    out = bytearray(data)
    for pos, member in _central_records(data):
        if member == name:
            (local,) = struct.unpack_from("<I", data, pos + 42)
            for at in (pos + 8, local + 6):
                (flags,) = struct.unpack_from("<H", out, at)
                struct.pack_into("<H", out, at, flags | bit)
            return bytes(out)
    raise KeyError(name)


def swap_member(data: bytes, name: str, content: bytes, compression: int = zipfile.ZIP_STORED) -> bytes:
    """The archive with member `name` replaced by `content`."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for info in source.infolist():
            if info.filename == name:
                zf.writestr(name, content, compress_type=compression)
            else:
                zf.writestr(info.filename, source.read(info), compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()


def zeros_in_place_of(data: bytes, name: str, head: bytes, zeros: int) -> bytes:
    """The archive with member `name` replaced by `head` and `zeros` zero bytes, deflated."""
    source = zipfile.ZipFile(io.BytesIO(data))
    others = {i.filename: source.read(i) for i in source.infolist() if i.filename != name}
    return zeros_bomb(name, zeros, head=head, others=others)


def npy_header(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    fp = io.BytesIO()
    np.lib.format.write_array_header_1_0(fp, {"descr": descr, "fortran_order": False, "shape": shape})
    return fp.getvalue()


def first_npy(data: bytes) -> str:
    return next(n for n in zipfile.ZipFile(io.BytesIO(data)).namelist() if n.endswith(".npy"))


@contextmanager
def peak_allocated() -> Iterator[Callable[[], int]]:
    """Bytes allocated at the peak (Python objects and numpy arrays, which numpy reports to tracemalloc) above what
    was allocated when the block started."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    start, _ = tracemalloc.get_traced_memory()
    result: dict[str, Any] = {}
    try:
        yield lambda: int(result["peak"])
    finally:
        _, peak = tracemalloc.get_traced_memory()
        result["peak"] = peak - start
        if not was_tracing:
            tracemalloc.stop()
