"""Read an uploaded file (a path on disk) into a pandas DataFrame, safely.

Plain module: no Django imports. Every failure a person can fix raises :class:`ReadError` with a
message that names what is wrong (line, byte offset, column, limit) and the input ``field`` at fault.

Supported formats: CSV/TSV (delimiter, encoding and header detection), Parquet, JSON (array of
records or object of columns), JSON Lines and Excel ``.xlsx`` (openpyxl read-only, its zip checked by the archive guard
of apps/core/archives.py before parsing and counted while openpyxl reads it).
"""

from __future__ import annotations

import codecs
import os

import pandas as pd

from apps.datasets.readers.base import (
    DELIMITERS,
    EXTENSIONS,
    SNIFF_BYTES,
    Format,
    ReadError,
    ReadLimits,
    ReadResult,
    SampleMethod,
    Sampling,
    check_file_size,
    check_shape,
    normalise_column_names,
)
from apps.datasets.readers.delimited import read_delimited, sniff_delimiter, sniff_header
from apps.datasets.readers.encoding import detect_encoding
from apps.datasets.readers.excel import check_xlsx_zip, open_xlsx_zip, read_xlsx, xlsx_archive_limits
from apps.datasets.readers.jsonfiles import read_json_any, read_jsonl
from apps.datasets.readers.parquet import read_parquet
from apps.datasets.readers.sampling import sample_frame, stratified_allocation, stratified_indices

__all__ = [
    "DELIMITERS",
    "SNIFF_BYTES",
    "Format",
    "ReadError",
    "ReadLimits",
    "ReadResult",
    "SampleMethod",
    "Sampling",
    "check_xlsx_zip",
    "detect_encoding",
    "detect_format",
    "format_from_name",
    "normalise_column_names",
    "open_xlsx_zip",
    "read",
    "read_with_info",
    "sample_frame",
    "sniff_delimiter",
    "sniff_header",
    "stratified_allocation",
    "stratified_indices",
    "xlsx_archive_limits",
]


# --------------------------------------------------------------------------------------------------- entry points
def read(
    path: str | os.PathLike[str],
    *,
    filename: str | None = None,
    format: Format | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    header: bool | None = None,
    sheet: str | int | None = None,
    limits: ReadLimits | None = None,
    sampling: Sampling | None = None,
) -> pd.DataFrame:
    """Read ``path`` into a DataFrame; see :func:`read_with_info` for the parameters."""
    return read_with_info(
        path,
        filename=filename,
        format=format,
        delimiter=delimiter,
        encoding=encoding,
        header=header,
        sheet=sheet,
        limits=limits,
        sampling=sampling,
    ).frame


def read_with_info(
    path: str | os.PathLike[str],
    *,
    filename: str | None = None,
    format: Format | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    header: bool | None = None,
    sheet: str | int | None = None,
    limits: ReadLimits | None = None,
    sampling: Sampling | None = None,
) -> ReadResult:
    """Read ``path`` and say how it was read (format, encoding, delimiter, header, rows before sampling).

    ``filename`` (the name the user uploaded) picks the format by extension when ``path`` is a temp name.
    ``delimiter``, ``encoding`` and ``header`` override detection (CSV/TSV; ``header`` also for xlsx).
    """
    limits = limits or ReadLimits()
    sampling = sampling or Sampling()
    path = os.fspath(path)
    check_file_size(path, limits)
    fmt = format or detect_format(path, filename)
    if fmt in ("csv", "tsv"):
        result = read_delimited(path, fmt, delimiter, encoding, header, limits)
    elif fmt == "parquet":
        result = ReadResult(read_parquet(path, limits), "parquet")
    elif fmt == "json":
        result = read_json_any(path, encoding, limits)
    elif fmt == "jsonl":
        enc = detect_encoding(path, encoding)
        result = ReadResult(read_jsonl(path, enc, limits), "jsonl", encoding=enc)
    elif fmt == "xlsx":
        frame, sheet_name, has_header = read_xlsx(path, sheet, header, limits)
        result = ReadResult(frame, "xlsx", header=has_header, sheet=sheet_name)
    else:
        raise ReadError(f"Unsupported format {fmt!r}; use one of csv, tsv, parquet, json, jsonl, xlsx.", "format")
    frame = result.frame
    check_shape(frame, limits)
    result.total_rows = len(frame)
    result.frame = sample_frame(frame, sampling)
    result.sampling = {
        "method": sampling.method,
        "size": sampling.size,
        "seed": sampling.seed,
        "column": sampling.column,
        "rows_before": len(frame),
        "rows_after": len(result.frame),
    }
    return result


def format_from_name(name: str) -> Format | None:
    """The format a file name's extension says, if any."""
    return EXTENSIONS.get(os.path.splitext(name)[1].lower()) if name else None


def detect_format(path: str, filename: str | None = None) -> Format:
    """Format from the file's extension (``filename`` first), else from its leading bytes."""
    for name in (filename, path):
        fmt = format_from_name(name or "")
        if fmt:
            return fmt
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    stripped = head.lstrip(codecs.BOM_UTF8).lstrip()
    if stripped.startswith(b"["):
        return "json"
    if stripped.startswith(b"{"):
        first_line = stripped.split(b"\n", 1)[0].strip()
        return "jsonl" if first_line.endswith(b"}") and b"\n{" in stripped else "json"
    return "csv"
