"""Reading a skops file without trusting it: every skops read in Atelier goes through here.

A skops file is a zip archive (`schema.json` plus `.npy` arrays, raw bytes and `.npz` sparse matrices). Before skops
sees anything:

* the archive passes the guard of apps/core/archives.py (entries, sizes, ratios, names, links), and skops is
  handed the guarded archive, so every byte it reads is counted against the limits while it is read;
* `schema.json` is checked by us: its size (REGISTRY_SKOPS_MAX_SCHEMA_BYTES), UTF-8, its nesting depth measured on
  the raw text without recursion (REGISTRY_SKOPS_MAX_SCHEMA_DEPTH), JSON, an object with a valid protocol, and
  nodes that name their class, module and a loader skops knows;
* every array member's `.npy` header is read (a few hundred bytes): an object dtype is refused, and the shape times
  the item size must fit the per-member limit and agree with the member's size, so a header that lies is refused
  before numpy allocates anything. Sparse matrices (`.npz`, zips themselves) are checked the same way, one level
  down.

Whatever skops still raises becomes a `SkopsError` with its message: a 400 for an import, never a 500.
The tree is built with skops' own node classes (skops.io._audit.get_tree/audit_tree, skops.io._utils.LoadContext),
as skops.io.load does, but over the guarded archive; skops is pinned in requirements.txt.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from django.conf import settings

from apps.core.archives import ArchiveError, ArchiveLimits, GuardedZip, archive_limits, open_zip
from apps.core.units import human_bytes

SCHEMA = "schema.json"
NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"
NODE_KEYS = ("__class__", "__module__", "__loader__")
CONTAINERS = ("ListNode", "TupleNode", "SetNode", "DictNode")  # whose "content" items or values are nodes
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_HEAD = 10_240  # numpy refuses headers over 10,000 bytes by default; this covers the magic, version and length


class SkopsError(ValueError):
    """A skops file we do not load; ``message`` for a person, ``code`` for programs."""

    def __init__(self, message: str, code: str = "skops") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def limits() -> ArchiveLimits:
    """The archive limits for skops files: nested archives are allowed only as checked sparse matrices."""
    return archive_limits(allow_nested=True)


# --- schema.json ----------------------------------------------------------------------------------------------


def max_depth_of(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in JSON text, measured without parsing or recursing."""
    stripped = _STRING.sub(b'""', raw)
    codes = np.frombuffer(stripped, dtype=np.uint8)
    steps = np.zeros(codes.shape, dtype=np.int64)
    steps[(codes == ord("[")) | (codes == ord("{"))] = 1
    steps[(codes == ord("]")) | (codes == ord("}"))] = -1
    return int(np.cumsum(steps).max(initial=0))


def check_schema(raw: bytes, *, max_bytes: int, max_depth: int) -> tuple[dict[str, Any], int]:
    """(schema, protocol) from the raw bytes of schema.json, or SkopsError naming what is wrong."""
    from skops.io._protocol import PROTOCOL

    if len(raw) > max_bytes:
        raise SkopsError(
            f"The skops schema.json is {human_bytes(len(raw))}; the limit is {human_bytes(max_bytes)} "
            "(REGISTRY_SKOPS_MAX_SCHEMA_BYTES).",
            "schema_too_large",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SkopsError(f"The skops schema.json is not UTF-8 text (byte {exc.start}).", "schema_not_json") from exc
    depth = max_depth_of(raw)
    if depth > max_depth:
        raise SkopsError(
            f"The skops schema.json is nested {depth:,} levels deep; the limit is {max_depth:,} "
            "(REGISTRY_SKOPS_MAX_SCHEMA_DEPTH).",
            "schema_too_deep",
        )
    try:
        schema = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise SkopsError(f"The skops schema.json is not valid JSON: {exc}.", "schema_not_json") from exc
    if not isinstance(schema, dict):
        raise SkopsError(
            f"The skops schema.json must be a JSON object (a node); it is a {_kind(schema)}.", "schema_malformed"
        )
    protocol = schema.get("protocol")
    if isinstance(protocol, bool) or not isinstance(protocol, int) or not 0 <= protocol <= PROTOCOL:
        raise SkopsError(
            f"The skops schema.json has no valid protocol (an integer from 0 to {PROTOCOL}); it has {protocol!r}.",
            "schema_malformed",
        )
    _check_nodes(schema)
    return schema, protocol


def _kind(value: Any) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")


def _check_nodes(schema: dict[str, Any]) -> None:
    """Every node names its class, module and a loader skops knows; walked with a stack, not recursion."""
    import skops.io  # noqa: F401 - registers every node class in NODE_TYPE_MAPPING
    from skops.io._audit import NODE_TYPE_MAPPING

    loaders = {name for name, _ in NODE_TYPE_MAPPING}
    stack: list[tuple[Any, str, bool]] = [(schema, "the root", True)]
    while stack:
        value, where, must_be_node = stack.pop()
        if isinstance(value, list):
            stack.extend((item, f"{where}[{i}]", False) for i, item in enumerate(value))
            continue
        if not isinstance(value, dict):
            if must_be_node:
                raise SkopsError(
                    f"The skops schema.json is malformed: {where} must be a node (an object), not a {_kind(value)}.",
                    "schema_malformed",
                )
            continue
        if must_be_node or any(key in value for key in NODE_KEYS):
            missing = [key for key in NODE_KEYS if not isinstance(value.get(key), str)]
            if missing:
                raise SkopsError(
                    f"The skops schema.json is malformed: the node at {where} has no "
                    f"{', '.join(repr(m) for m in missing)}.",
                    "schema_malformed",
                )
            if value["__loader__"] not in loaders:
                raise SkopsError(
                    f"The skops schema.json is malformed: the node at {where} names an unknown loader "
                    f"{value['__loader__']!r}.",
                    "schema_malformed",
                )
        loader = value.get("__loader__")
        for key, child in value.items():
            path = f"{where}.{key}" if where != "the root" else key
            if key == "content" and loader in CONTAINERS:
                items = list(child.values()) if isinstance(child, dict) else child
                if not isinstance(items, list):
                    raise SkopsError(
                        f"The skops schema.json is malformed: {path} of a {loader} must hold nodes.", "schema_malformed"
                    )
                stack.extend((item, f"{path}[{i}]", True) for i, item in enumerate(items))
            else:
                stack.append((child, path, False))


# --- array members ----------------------------------------------------------------------------------------------


def _npy_header(head: bytes, name: str) -> tuple[tuple[int, ...], np.dtype[Any], int]:
    """(shape, dtype, header length) of an .npy member from its first bytes."""
    fp = io.BytesIO(head)
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except (ValueError, SyntaxError, TypeError, EOFError) as exc:
        raise SkopsError(
            f"Member {name!r} of the skops file is not a valid numpy array file: {exc}.", "bad_array"
        ) from exc
    return tuple(shape), dtype, fp.tell()


def check_array(zf: GuardedZip, info: zipfile.ZipInfo, head: bytes, where: str = "") -> None:
    """An .npy member whose header declares no more than the member holds and the limit allows."""
    name = where + info.filename
    shape, dtype, header_len = _npy_header(head, name)
    if dtype.hasobject:
        raise SkopsError(f"Member {name!r} of the skops file is an object array; those are never loaded.", "bad_array")
    if any(not isinstance(n, int) or n < 0 for n in shape):
        raise SkopsError(f"Member {name!r} of the skops file declares an invalid shape {shape!r}.", "bad_array")
    nbytes = math.prod(shape) * dtype.itemsize
    cap = zf.limits.max_member_bytes
    if nbytes > cap:
        raise SkopsError(
            f"Member {name!r} of the skops file declares an array of shape {shape} ({dtype}), "
            f"{human_bytes(nbytes)}; the limit is {human_bytes(cap)} (ARCHIVE_MAX_MEMBER_BYTES).",
            "array_too_large",
        )
    if header_len + nbytes != info.file_size:
        raise SkopsError(
            f"Member {name!r} of the skops file declares an array of shape {shape} ({dtype}), "
            f"{nbytes:,} bytes of data, but holds {max(info.file_size - header_len, 0):,}.",
            "array_size_mismatch",
        )


def _head(zf: GuardedZip, info: zipfile.ZipInfo, n: int) -> bytes:
    with zf.open(info) as member:
        parts, left = [], n
        while left > 0 and (chunk := member.read(left)):
            parts.append(chunk)
            left -= len(chunk)
        return b"".join(parts)


def check_members(zf: GuardedZip) -> None:
    """Every array member's header (and the arrays of every sparse matrix, one level down)."""
    for info in zf.infolist():
        if info.is_dir() or info.filename == SCHEMA:
            continue
        head = _head(zf, info, _HEAD)
        if head.startswith(NPY_MAGIC):
            check_array(zf, info, head)
        elif head.startswith(ZIP_MAGIC):
            inner_limits = zf.limits.but(allow_nested=False, max_total_bytes=zf.limits.max_member_bytes)
            with open_zip(io.BytesIO(zf.read(info)), inner_limits) as inner:
                for inner_info in inner.infolist():
                    if inner_info.is_dir():
                        continue
                    inner_head = _head(inner, inner_info, _HEAD)
                    if not inner_head.startswith(NPY_MAGIC):
                        raise SkopsError(
                            f"Member {info.filename!r} of the skops file holds {inner_info.filename!r}, "
                            "which is not a numpy array.",
                            "bad_array",
                        )
                    check_array(inner, inner_info, inner_head, where=f"{info.filename}/")


# --- opening and loading ----------------------------------------------------------------------------------------


@contextmanager
def open_skops(path: str | os.PathLike[str]) -> Iterator[tuple[GuardedZip, dict[str, Any], int]]:
    """(guarded archive, schema, protocol) of a checked skops file; ArchiveError or SkopsError otherwise."""
    with open_zip(path, limits()) as zf:
        if SCHEMA not in zf.NameToInfo:
            raise SkopsError("The archive has no schema.json, so it is not a skops file.", "not_skops")
        max_bytes = int(settings.REGISTRY_SKOPS_MAX_SCHEMA_BYTES)
        if zf.getinfo(SCHEMA).file_size > max_bytes:
            raise SkopsError(
                f"The skops schema.json is {human_bytes(zf.getinfo(SCHEMA).file_size)}; the limit is "
                f"{human_bytes(max_bytes)} (REGISTRY_SKOPS_MAX_SCHEMA_BYTES).",
                "schema_too_large",
            )
        schema, protocol = check_schema(
            zf.read(SCHEMA), max_bytes=max_bytes, max_depth=int(settings.REGISTRY_SKOPS_MAX_SCHEMA_DEPTH)
        )
        check_members(zf)
        yield zf, schema, protocol


def _tree(zf: GuardedZip, schema: dict[str, Any], protocol: int, trusted: list[str] | None) -> Any:
    import skops.io  # noqa: F401 - registers every node class
    from skops.io._audit import get_tree
    from skops.io._utils import LoadContext

    zf.handed_out = 0  # each pass over the archive is bounded on its own
    try:
        return get_tree(schema, LoadContext(src=zf, protocol=protocol), trusted=trusted)
    except (ArchiveError, SkopsError):
        raise
    except KeyError as exc:
        raise SkopsError(
            f"The skops schema.json is malformed: a node lacks the key {exc}.", "schema_malformed"
        ) from exc
    except RecursionError as exc:
        raise SkopsError("The skops schema.json is nested too deeply to read.", "schema_too_deep") from exc
    except Exception as exc:
        raise SkopsError(f"The skops file cannot be read: {exc}", "skops") from exc


def untrusted_types(path: str | os.PathLike[str]) -> list[str]:
    """The types in the file that skops does not trust by default (sorted, without duplicates)."""
    with open_skops(path) as (zf, schema, protocol):
        tree = _tree(zf, schema, protocol, None)
        try:
            return sorted(set(tree.get_unsafe_set()))
        except Exception as exc:
            raise SkopsError(f"The skops file cannot be read: {exc}", "skops") from exc


def load(path: str | os.PathLike[str], trusted: list[str]) -> Any:
    """The object in the file, trusting exactly ``trusted`` beyond skops' defaults."""
    from skops.io._audit import audit_tree

    with open_skops(path) as (zf, schema, protocol):
        tree = _tree(zf, schema, protocol, trusted)
        try:
            audit_tree(tree, trusted=trusted)
            return tree.construct()
        except (ArchiveError, SkopsError):
            raise
        except RecursionError as exc:
            raise SkopsError("The skops schema.json is nested too deeply to read.", "schema_too_deep") from exc
        except Exception as exc:
            raise SkopsError(f"The skops file could not be loaded: {exc}", "skops") from exc
