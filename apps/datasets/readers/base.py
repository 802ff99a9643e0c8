"""Formats, limits, results and the errors every reader raises; size and shape checks; column names."""

from __future__ import annotations

import codecs
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from apps.core.units import human_bytes

Format = Literal["csv", "tsv", "parquet", "json", "jsonl", "xlsx"]
SampleMethod = Literal["all", "first", "random", "stratified"]

DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
SNIFF_BYTES = 64 * 1024
CHUNK = 1 << 20
EXTENSIONS: dict[str, Format] = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
}
BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class ReadError(ValueError):
    """A file that cannot be imported, with a message for a person and the input field at fault."""

    def __init__(self, message: str, field: str = "file", **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def as_dict(self) -> dict[str, Any]:
        return {"detail": self.message, "errors": {self.field: [self.message]}, **self.details}


@dataclass(frozen=True)
class ReadLimits:
    """Size caps checked before (bytes, columns, xlsx zip) and while (rows) reading."""

    max_bytes: int = 2 * 1024**3
    max_rows: int = 20_000_000
    max_columns: int = 2_000
    max_decoded_bytes: int = 8 * 1024**3  # Parquet: the values once expanded (dictionary pages repeat a value)
    xlsx_max_entries: int = 10_000
    xlsx_max_uncompressed_bytes: int = 1024**3
    xlsx_max_ratio: float = 200.0
    xlsx_ratio_floor_bytes: int = 1024 * 1024  # members smaller than this cannot bomb; ratio not checked


@dataclass(frozen=True)
class Sampling:
    """Which rows to keep on import: all, the first ``size``, a seeded random ``size`` or stratified by ``column``."""

    method: SampleMethod = "all"
    size: int | None = None
    seed: int = 0
    column: str | None = None


@dataclass
class ReadResult:
    frame: pd.DataFrame
    format: Format
    encoding: str | None = None
    delimiter: str | None = None
    header: bool | None = None
    sheet: str | None = None
    total_rows: int = 0
    sampling: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------- size checks


def check_file_size(path: str, limits: ReadLimits) -> None:
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise ReadError(f"Cannot open the file: {exc.strerror}.") from exc
    if size == 0:
        raise ReadError("The file is empty.")
    if size > limits.max_bytes:
        raise ReadError(
            f"The file is {human_bytes(size)}; the limit is {human_bytes(limits.max_bytes)}.",
            size=size,
            limit=limits.max_bytes,
        )


def check_columns(n_columns: int, limits: ReadLimits) -> None:
    if n_columns == 0:
        raise ReadError("The file has no columns.")
    if n_columns > limits.max_columns:
        raise ReadError(
            f"The file has {n_columns} columns; the limit is {limits.max_columns}.",
            columns=n_columns,
            limit=limits.max_columns,
        )


def check_rows(n_rows: int, limits: ReadLimits) -> None:
    if n_rows > limits.max_rows:
        raise ReadError(f"The file has more than {limits.max_rows:,} rows (the limit).", limit=limits.max_rows)


def checked_rows(table: pa.Table, limits: ReadLimits) -> pa.Table:
    check_rows(table.num_rows, limits)
    return table


def check_shape(frame: pd.DataFrame, limits: ReadLimits) -> None:
    check_columns(frame.shape[1], limits)
    check_rows(frame.shape[0], limits)


# --------------------------------------------------------------------------------------------------- column names
def normalise_column_names(names: Sequence[Any]) -> list[str]:
    """Names as stripped strings, blanks as ``column_<n>`` (1-based); duplicates raise :class:`ReadError`."""
    out: list[str] = []
    for i, name in enumerate(names, start=1):
        text = "" if name is None or (isinstance(name, float) and np.isnan(name)) else str(name).strip()
        out.append(text or f"column_{i}")
    seen: dict[str, int] = {}
    for name in out:
        seen[name] = seen.get(name, 0) + 1
    dupes = [name for name, count in seen.items() if count > 1]
    if dupes:
        listed = ", ".join(repr(d) for d in dupes[:10])
        raise ReadError(
            f"Duplicate column names: {listed}. Rename them so each column has a unique name.", "header", columns=dupes
        )
    return out
