"""CSV and TSV: delimiter and header sniffing, Arrow's CSV reader, ragged-row and conversion errors by line."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from apps.datasets.readers.base import (
    DELIMITERS,
    Format,
    ReadError,
    ReadLimits,
    ReadResult,
    check_columns,
    checked_rows,
    normalise_column_names,
)
from apps.datasets.readers.encoding import detect_encoding, read_text_head


# --------------------------------------------------------------------------------------------------- CSV / TSV
def sniff_delimiter(sample: str, candidates: Sequence[str] = DELIMITERS) -> str:
    """The candidate that splits the sample's lines into the most consistent number (> 1) of fields."""
    lines = [ln for ln in sample.splitlines() if ln.strip()][:200]
    if not lines:
        return ","
    best, best_score = ",", (-1.0, 0)
    text = "\n".join(lines)
    for delim in candidates:
        counts = [len(row) for row in csv.reader(io.StringIO(text), delimiter=delim) if row]
        if not counts:
            continue
        values, freq = np.unique(np.asarray(counts), return_counts=True)
        mode = int(values[freq.argmax()])
        if mode < 2:
            continue
        score = (float(freq.max()) / len(counts), mode)
        if score > best_score:
            best, best_score = delim, score
    return best


_NUMBER = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")


def _looks_numeric(value: str) -> bool:
    return bool(_NUMBER.match(value))


def sniff_header(rows: Sequence[Sequence[str]]) -> bool:
    """Whether the first row is a header: columns whose first cell is text over numeric data vote yes,
    columns numeric in the first row and below vote no; ties mean a header (the common case)."""
    if len(rows) < 2:
        return True
    first, rest = rows[0], rows[1:]
    yes = no = 0
    for j, cell in enumerate(first):
        below = [r[j] for r in rest if j < len(r) and r[j].strip()]
        if not below:
            continue
        below_numeric = sum(_looks_numeric(v) for v in below) / len(below) >= 0.9
        if _looks_numeric(cell) and below_numeric:
            no += 1
        elif cell.strip() and not _looks_numeric(cell) and below_numeric:
            yes += 1
    return not (no > yes)


def _header_lines(sample: str, delimiter: str) -> tuple[list[str], int, list[list[str]]]:
    """First row's fields, how many physical lines it spans, and up to 50 parsed rows for header sniffing."""
    reader = csv.reader(io.StringIO(sample), delimiter=delimiter)
    rows: list[list[str]] = []
    first: list[str] | None = None
    first_lines = 1
    for row in reader:
        if not row or not any(c.strip() for c in row):
            if first is None:
                first_lines = reader.line_num + 1
            continue
        if first is None:
            first, first_lines = row, reader.line_num
        rows.append(row)
        if len(rows) >= 50:
            break
    if first is None:
        raise ReadError("The file has no columns: no non-empty line was found.")
    return first, first_lines, rows


def read_delimited(
    path: str, fmt: Format, delimiter: str | None, encoding: str | None, header: bool | None, limits: ReadLimits
) -> ReadResult:
    enc = detect_encoding(path, encoding)
    sample, _complete = read_text_head(path, enc)
    if not sample.strip():
        raise ReadError("The file is empty.")
    if delimiter is not None and len(delimiter) != 1:
        raise ReadError(f"The delimiter must be one character, got {delimiter!r}.", "delimiter")
    delim = delimiter or ("\t" if fmt == "tsv" else sniff_delimiter(sample))
    first, first_lines, rows = _header_lines(sample, delim)
    has_header = sniff_header(rows) if header is None else header
    check_columns(len(first), limits)
    names = normalise_column_names(first) if has_header else [f"column_{i}" for i in range(1, len(first) + 1)]
    frame = arrow_to_pandas(checked_rows(_arrow_csv(path, enc, delim, names, first_lines if has_header else 0), limits))
    return ReadResult(frame, fmt, encoding=enc, delimiter=delim, header=has_header)


_CONVERSION = re.compile(r"In CSV column #(\d+)")
_RAGGED = re.compile(r"Expected (\d+) columns, got (\d+)")


def _arrow_csv(path: str, encoding: str, delimiter: str, names: list[str], skip_lines: int) -> pa.Table:
    """Parse with pyarrow (multithreaded); a column whose late values break the inferred type is read as text."""
    as_text: dict[str, pa.DataType] = {}
    placeholders = [f"c{i}" for i in range(len(names))]
    for _attempt in range(len(names) + 1):
        try:
            table = pa_csv.read_csv(
                path,
                read_options=pa_csv.ReadOptions(
                    encoding="utf8" if encoding in ("utf-8", "utf-8-sig") else encoding,
                    column_names=placeholders,
                    skip_rows=skip_lines,
                    block_size=4 << 20,
                ),
                parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
                convert_options=pa_csv.ConvertOptions(column_types=as_text, strings_can_be_null=True),
            )
            return table.rename_columns(names)
        except pa.ArrowInvalid as exc:
            text = str(exc)
            if (ragged := _RAGGED.search(text)) is not None:
                raise _ragged_error(path, encoding, delimiter, len(names), skip_lines, int(ragged.group(2))) from exc
            if (conv := _CONVERSION.search(text)) is not None and placeholders[int(conv.group(1))] not in as_text:
                as_text[placeholders[int(conv.group(1))]] = pa.string()
                continue
            raise ReadError(f"The file cannot be parsed as delimited text: {text}") from exc
    raise ReadError("The file cannot be parsed as delimited text.")


def _ragged_error(path: str, encoding: str, delimiter: str, expected: int, skip_lines: int, found: int) -> ReadError:
    """Find the first row whose field count differs (physical line number) with the csv module."""
    with open(path, encoding=encoding, newline="") as fh:
        for _ in range(skip_lines):
            fh.readline()
        reader = csv.reader(fh, delimiter=delimiter)
        previous_end = skip_lines
        for row in reader:
            start = previous_end + 1
            previous_end = reader.line_num + skip_lines
            if row and len(row) != expected:
                return ReadError(
                    f"Line {start} has {len(row)} fields; expected {expected} like the first row. "
                    "Check the delimiter and quoting on that line.",
                    line=start,
                    expected=expected,
                    found=len(row),
                )
    return ReadError(f"A row has {found} fields; expected {expected}.", expected=expected, found=found)


def arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow table to pandas with dates as timestamps and all-empty columns as (missing) text.

    Callers pass the table without keeping a reference, so each Arrow buffer is freed once converted.
    """
    names = table.column_names
    columns = []
    for col in table.columns:
        if pa.types.is_date(col.type):
            col = col.cast(pa.timestamp("ms"))
        elif pa.types.is_null(col.type):
            col = col.cast(pa.string())
        columns.append(col)
    del table
    converted = pa.Table.from_arrays(columns, names=names)
    del columns
    frame = converted.to_pandas(split_blocks=True, self_destruct=True)
    del converted
    pa.default_memory_pool().release_unused()  # hand freed buffers back to the OS now
    return frame
