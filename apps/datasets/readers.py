"""Read an uploaded file (a path on disk) into a pandas DataFrame, safely.

Plain module: no Django imports. Every failure a person can fix raises :class:`ReadError` with a
message that names what is wrong (line, byte offset, column, limit) and the input ``field`` at fault.

Supported formats: CSV/TSV (delimiter, encoding and header detection), Parquet, JSON (array of
records or object of columns), JSON Lines and Excel ``.xlsx`` (openpyxl read-only, its zip checked by the archive guard
of apps/core/archives.py before parsing and counted while openpyxl reads it).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from apps.core.archives import ArchiveError, ArchiveLimits, GuardedZip, open_zip
from apps.core.units import human_bytes

Format = Literal["csv", "tsv", "parquet", "json", "jsonl", "xlsx"]
SampleMethod = Literal["all", "first", "random", "stratified"]

DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
SNIFF_BYTES = 64 * 1024
_CHUNK = 1 << 20
_EXTENSIONS: dict[str, Format] = {
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
_BOMS: tuple[tuple[bytes, str], ...] = (
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
    _check_file_size(path, limits)
    fmt = format or detect_format(path, filename)
    if fmt in ("csv", "tsv"):
        result = _read_delimited(path, fmt, delimiter, encoding, header, limits)
    elif fmt == "parquet":
        result = ReadResult(_read_parquet(path, limits), "parquet")
    elif fmt == "json":
        result = _read_json_any(path, encoding, limits)
    elif fmt == "jsonl":
        enc = detect_encoding(path, encoding)
        result = ReadResult(_read_jsonl(path, enc, limits), "jsonl", encoding=enc)
    elif fmt == "xlsx":
        frame, sheet_name, has_header = _read_xlsx(path, sheet, header, limits)
        result = ReadResult(frame, "xlsx", header=has_header, sheet=sheet_name)
    else:
        raise ReadError(f"Unsupported format {fmt!r}; use one of csv, tsv, parquet, json, jsonl, xlsx.", "format")
    frame = result.frame
    _check_shape(frame, limits)
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
    return _EXTENSIONS.get(os.path.splitext(name)[1].lower()) if name else None


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


# --------------------------------------------------------------------------------------------------- size checks


def _check_file_size(path: str, limits: ReadLimits) -> None:
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


def _check_columns(n_columns: int, limits: ReadLimits) -> None:
    if n_columns == 0:
        raise ReadError("The file has no columns.")
    if n_columns > limits.max_columns:
        raise ReadError(
            f"The file has {n_columns} columns; the limit is {limits.max_columns}.",
            columns=n_columns,
            limit=limits.max_columns,
        )


def _check_rows(n_rows: int, limits: ReadLimits) -> None:
    if n_rows > limits.max_rows:
        raise ReadError(f"The file has more than {limits.max_rows:,} rows (the limit).", limit=limits.max_rows)


def _checked_rows(table: pa.Table, limits: ReadLimits) -> pa.Table:
    _check_rows(table.num_rows, limits)
    return table


def _check_shape(frame: pd.DataFrame, limits: ReadLimits) -> None:
    _check_columns(frame.shape[1], limits)
    _check_rows(frame.shape[0], limits)


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


# --------------------------------------------------------------------------------------------------- encoding
def _codec_name(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError as exc:
        raise ReadError(f"Unknown encoding {encoding!r}.", "encoding") from exc


def _first_decode_error(path: str, encoding: str) -> tuple[int, str] | None:
    """Byte offset and reason of the first undecodable byte, or None when the whole file decodes."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                pending = len(exc.object) - len(chunk)  # bytes the decoder carried over from the last chunk
                return offset - pending + exc.start, exc.reason
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            return offset - len(exc.object) + exc.start, exc.reason
    return None


def _line_of_offset(path: str, offset: int) -> int:
    line = 1
    with open(path, "rb") as fh:
        remaining = offset
        while remaining > 0 and (chunk := fh.read(min(_CHUNK, remaining))):
            line += chunk.count(b"\n")
            remaining -= len(chunk)
    return line


def detect_encoding(path: str, declared: str | None = None) -> str:
    """UTF-8 (with or without BOM; UTF-16/32 by BOM), else the declared encoding; a clear error otherwise."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    for bom, name in _BOMS:
        if head.startswith(bom):
            if _first_decode_error(path, name) is None:
                return name
            break
    error = _first_decode_error(path, "utf-8")
    if error is None:
        return "utf-8"
    if declared and _codec_name(declared) not in ("utf-8", "utf-8-sig"):
        declared_error = _first_decode_error(path, _codec_name(declared))
        if declared_error is None:
            return _codec_name(declared)
        error = declared_error
    offset, reason = error
    line = _line_of_offset(path, offset)
    with open(path, "rb") as fh:
        fh.seek(offset)
        byte = fh.read(1)
    tried = "UTF-8" + (f" or {declared}" if declared else "")
    hint = "" if declared else " Choose the file's encoding (for example cp1252 or latin-1) and import again."
    raise ReadError(
        f"The file is not valid {tried}: byte 0x{byte.hex()} at offset {offset} (line {line}) cannot be decoded "
        f"({reason}).{hint}",
        "encoding",
        offset=offset,
        line=line,
    )


def _read_text_head(path: str, encoding: str, n_bytes: int = SNIFF_BYTES) -> tuple[str, bool]:
    """Decoded start of the file (cut at the last newline unless the whole file fit) and whether it is all."""
    with open(path, "rb") as fh:
        raw = fh.read(n_bytes + 1)
    complete = len(raw) <= n_bytes
    raw = raw[:n_bytes]
    if not complete and b"\n" in raw:
        raw = raw[: raw.rindex(b"\n") + 1]
    text = raw.decode(encoding, errors="ignore")
    return text.lstrip("\ufeff"), complete


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


def _read_delimited(
    path: str, fmt: Format, delimiter: str | None, encoding: str | None, header: bool | None, limits: ReadLimits
) -> ReadResult:
    enc = detect_encoding(path, encoding)
    sample, _complete = _read_text_head(path, enc)
    if not sample.strip():
        raise ReadError("The file is empty.")
    if delimiter is not None and len(delimiter) != 1:
        raise ReadError(f"The delimiter must be one character, got {delimiter!r}.", "delimiter")
    delim = delimiter or ("\t" if fmt == "tsv" else sniff_delimiter(sample))
    first, first_lines, rows = _header_lines(sample, delim)
    has_header = sniff_header(rows) if header is None else header
    _check_columns(len(first), limits)
    names = normalise_column_names(first) if has_header else [f"column_{i}" for i in range(1, len(first) + 1)]
    frame = _arrow_to_pandas(
        _checked_rows(_arrow_csv(path, enc, delim, names, first_lines if has_header else 0), limits)
    )
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
                # true/false stay text: inference types them and keeps the user's spelling (apps/datasets/tokens.py)
                convert_options=pa_csv.ConvertOptions(
                    column_types=as_text, strings_can_be_null=True, true_values=[], false_values=[]
                ),
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


def _arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
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


# --------------------------------------------------------------------------------------------------- Parquet
def _read_parquet(path: str, limits: ReadLimits) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ReadError(f"The file is not a valid Parquet file: {exc}") from exc
    meta = pf.metadata
    _check_columns(meta.num_columns, limits)
    _check_rows(meta.num_rows, limits)
    table = pf.read()
    names = normalise_column_names(table.column_names)
    return _arrow_to_pandas(table.rename_columns(names))


# --------------------------------------------------------------------------------------------------- JSON
def _json_error(exc: json.JSONDecodeError, what: str = "JSON") -> ReadError:
    return ReadError(
        f"Malformed {what} at line {exc.lineno}, column {exc.colno} (character {exc.pos}): {exc.msg}.",
        line=exc.lineno,
        column=exc.colno,
        position=exc.pos,
    )


def _read_json_any(path: str, encoding: str | None, limits: ReadLimits) -> ReadResult:
    enc = detect_encoding(path, encoding)
    with open(path, encoding=enc) as fh:
        text = fh.read()
    if not text.strip():
        raise ReadError("The file is empty.")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data" and text.lstrip().startswith("{"):
            return ReadResult(_read_jsonl(path, enc, limits), "jsonl", encoding=enc)
        raise _json_error(exc) from exc
    del text
    return ReadResult(_frame_from_json(data, limits), "json", encoding=enc)


def _frame_from_json(data: Any, limits: ReadLimits) -> pd.DataFrame:
    if isinstance(data, list):
        return _frame_from_records(data, limits, "item")
    if isinstance(data, dict):
        if not data:
            raise ReadError("The JSON object has no columns.")
        _check_columns(len(data), limits)
        lengths = {k: len(v) for k, v in data.items() if isinstance(v, (list, dict))}
        if len(lengths) != len(data):
            scalar = next(k for k in data if k not in lengths)
            raise ReadError(
                f"Expected an array of records or an object of columns; key {scalar!r} holds a single "
                "value, not a column."
            )
        if len(set(lengths.values())) > 1:
            detail = ", ".join(f"{k!r}: {n}" for k, n in list(lengths.items())[:10])
            raise ReadError(f"Columns have different lengths ({detail}).")
        names = normalise_column_names(list(data))
        frame = pd.DataFrame(
            {n: list(v.values()) if isinstance(v, dict) else v for n, v in zip(names, data.values(), strict=True)}
        )
        return _flatten_nested(frame)
    raise ReadError("Expected a JSON array of records or an object of columns.")


def _frame_from_records(records: list[Any], limits: ReadLimits, what: str) -> pd.DataFrame:
    bad = next((i for i, r in enumerate(records) if not isinstance(r, dict)), None)
    if bad is not None:
        raise ReadError(f"{what.capitalize()} {bad + 1} is not an object (a record with named fields).", line=bad + 1)
    _check_rows(len(records), limits)
    frame = pd.DataFrame.from_records(records)
    if frame.shape[1] == 0:
        raise ReadError("The file has no columns: the records have no fields.")
    _check_columns(frame.shape[1], limits)
    frame.columns = normalise_column_names(list(frame.columns))
    return _flatten_nested(frame)


def _flatten_nested(frame: pd.DataFrame) -> pd.DataFrame:
    """Nested objects and arrays become their JSON text so the frame stores as Parquet."""
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_object_dtype(col.dtype):
            nested = col.map(lambda v: isinstance(v, (dict, list)))
            if nested.any():
                frame[name] = col.where(~nested, col[nested].map(json.dumps))
    return frame


def _read_jsonl(path: str, encoding: str, limits: ReadLimits) -> pd.DataFrame:
    if encoding in ("utf-8", "utf-8-sig"):
        try:
            import pyarrow.json as pa_json

            table = pa_json.read_json(path)
            if table.num_columns == 0:
                raise ReadError("The file has no columns: the records have no fields.")
            _check_columns(table.num_columns, limits)
            names = normalise_column_names(table.column_names)
            return _arrow_to_pandas(_stringify_nested(table).rename_columns(names))
        except pa.ArrowInvalid:
            pass  # mixed types or a malformed line: the slower path below reads it or names the line
    return _frame_from_records(list(_iter_json_lines(path, encoding, limits)), limits, "line")


def _stringify_nested(table: pa.Table) -> pa.Table:
    columns = []
    for col in table.columns:
        if pa.types.is_struct(col.type) or pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
            col = pa.array([None if v is None else json.dumps(v) for v in col.to_pylist()], pa.string())
        columns.append(col)
    return pa.Table.from_arrays(columns, names=table.column_names)


def _iter_json_lines(path: str, encoding: str, limits: ReadLimits) -> Iterator[Any]:
    with open(path, encoding=encoding) as fh:
        n = 0
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ReadError(
                    f"Malformed JSON on line {lineno}, column {exc.colno}: {exc.msg}.", line=lineno, column=exc.colno
                ) from exc
            if not isinstance(record, dict):
                raise ReadError(f"Line {lineno} is not a JSON object (a record with named fields).", line=lineno)
            n += 1
            if n > limits.max_rows:
                _check_rows(n, limits)
            yield record


# --------------------------------------------------------------------------------------------------- Excel
def xlsx_archive_limits(limits: ReadLimits) -> ArchiveLimits:
    """The archive guard's limits for a workbook. Nested archives (embedded documents under xl/embeddings/) are
    allowed: openpyxl never opens them, and their sizes still count towards the totals."""
    return ArchiveLimits(
        max_entries=limits.xlsx_max_entries,
        max_total_bytes=limits.xlsx_max_uncompressed_bytes,
        max_member_bytes=limits.xlsx_max_uncompressed_bytes,
        max_ratio=limits.xlsx_max_ratio,
        ratio_floor_bytes=limits.xlsx_ratio_floor_bytes,
        allow_nested=True,
    )


def _archive_error(exc: ArchiveError) -> ReadError:
    details = {"code": exc.code, **exc.details}
    if exc.member:
        details["member"] = exc.member
    return ReadError(exc.message, **details)


@contextmanager
def open_xlsx_zip(source: Any, limits: ReadLimits) -> Iterator[GuardedZip]:
    """The workbook's zip, checked by the archive guard (apps/core/archives.py) before anything is parsed and
    counted while it is read; ReadError for a file that is not a workbook or would inflate past the caps."""
    try:
        with open_zip(source, xlsx_archive_limits(limits)) as zf:
            names = set(zf.NameToInfo)
            if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
                raise ReadError("The file is not an .xlsx workbook (no xl/workbook.xml inside).")
            yield zf
    except ArchiveError as exc:
        if exc.code == "not_a_zip":
            raise ReadError("The file is not an .xlsx workbook (it is not a zip archive).", code=exc.code) from exc
        raise _archive_error(exc) from exc


def _guard_refusal(exc: BaseException | None) -> ArchiveError | None:
    """The archive guard's refusal behind an exception (openpyxl re-raises what it reads as its own ValueError)."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, ArchiveError):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def check_xlsx_zip(source: Any, limits: ReadLimits) -> None:
    """Refuse a file that is not an xlsx zip, or whose members would inflate past the caps (zip bombs)."""
    with open_xlsx_zip(source, limits):
        pass


def _read_xlsx(
    path: str, sheet: str | int | None, header: bool | None, limits: ReadLimits
) -> tuple[pd.DataFrame, str, bool]:
    from openpyxl.reader.excel import ExcelReader

    with open_xlsx_zip(path, limits) as guarded, open(path, "rb") as fh:
        try:
            # load_workbook() is ExcelReader(...).read(); the reader is handed our guarded zip so that every byte
            # openpyxl reads (workbook, shared strings, the sheet, streamed in read-only mode) is counted.
            reader = ExcelReader(fh, read_only=True, data_only=True)
            reader.archive.close()
            reader.archive, reader.valid_files = guarded, guarded.namelist()
            reader.read()
            wb = reader.wb
        except Exception as exc:  # openpyxl raises many types for a broken workbook, and wraps ours
            guard = _guard_refusal(exc)
            raise (_archive_error(guard) if guard else ReadError(f"The workbook cannot be opened: {exc}")) from exc
        try:
            ws = _pick_sheet(wb, sheet)
            rows = _xlsx_rows(ws, limits)
            title = ws.title
        except Exception as exc:
            guard = _guard_refusal(exc)
            if guard is None:
                raise
            raise _archive_error(guard) from exc
        finally:
            wb.close()
    if not rows:
        raise ReadError(f"Sheet {title!r} is empty.", "sheet")
    width = max(len(r) for r in rows)
    grid = [list(r) + [None] * (width - len(r)) for r in rows]
    has_header = _sniff_xlsx_header(grid) if header is None else header
    if has_header:
        names, body = normalise_column_names(grid[0]), grid[1:]
    else:
        names, body = [f"column_{i}" for i in range(1, width + 1)], grid
    frame = pd.DataFrame(body, columns=names)
    return frame, title, has_header


def _pick_sheet(wb: Any, sheet: str | int | None) -> Any:
    names = list(wb.sheetnames)
    if sheet is None:
        return wb[names[0]]
    if isinstance(sheet, int):
        if 0 <= sheet < len(names):
            return wb[names[sheet]]
    elif sheet in names:
        return wb[sheet]
    raise ReadError(f"No sheet {sheet!r}; the workbook has {', '.join(map(repr, names))}.", "sheet")


def _xlsx_rows(ws: Any, limits: ReadLimits) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for row in ws.iter_rows(values_only=True):
        if len(row) > limits.max_columns:
            trimmed = _trim_trailing_none(row)
            _check_columns(len(trimmed), limits)
            row = trimmed
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in row):
            continue
        rows.append(_trim_trailing_none(row))
        if len(rows) > limits.max_rows + 1:
            _check_rows(len(rows) - 1, limits)
    return rows


def _trim_trailing_none(row: tuple[Any, ...]) -> tuple[Any, ...]:
    end = len(row)
    while end and row[end - 1] is None:
        end -= 1
    return row[:end]


def _sniff_xlsx_header(rows: list[list[Any]]) -> bool:
    as_text = [["" if v is None else (v if isinstance(v, str) else "0") for v in r] for r in rows[:50]]
    return sniff_header(as_text)


# --------------------------------------------------------------------------------------------------- sampling
def sample_frame(frame: pd.DataFrame, sampling: Sampling) -> pd.DataFrame:
    """Rows kept on import; the original order is preserved and the index reset."""
    method, size = sampling.method, sampling.size
    if method == "all":
        return frame
    if size is None or size < 1:
        raise ReadError("A sample size of at least 1 is required.", "sample_size")
    if size >= len(frame):
        return frame
    if method == "first":
        return frame.iloc[:size].reset_index(drop=True)
    rng = np.random.default_rng(sampling.seed)
    if method == "random":
        idx = np.sort(rng.choice(len(frame), size=size, replace=False))
        return frame.take(idx).reset_index(drop=True)
    if method == "stratified":
        if not sampling.column or sampling.column not in frame.columns:
            raise ReadError(f"Stratified sampling needs an existing column; got {sampling.column!r}.", "sample_column")
        return frame.take(stratified_indices(frame[sampling.column], size, rng)).reset_index(drop=True)
    raise ReadError(f"Unknown sampling method {method!r}; use all, first, random or stratified.", "sample_method")


def stratified_allocation(counts: np.ndarray, size: int) -> np.ndarray:
    """Rows per class: proportional (largest remainder), at least 1 per class when ``size`` allows it."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if size >= total:
        return counts.copy()
    k = len(counts)
    if size < k:  # not every class fits: one row each for the largest classes
        alloc = np.zeros(k, dtype=np.int64)
        alloc[np.argsort(-counts, kind="stable")[:size]] = 1
        return alloc
    target = size * counts / total
    alloc = np.minimum(np.maximum(np.floor(target).astype(np.int64), 1), counts)
    remainder = target - alloc
    while (diff := size - int(alloc.sum())) != 0:
        if diff > 0:
            order = np.argsort(-np.where(alloc < counts, remainder, -np.inf), kind="stable")
            room = order[: min(diff, int((alloc < counts).sum()))]
            alloc[room] += 1
        else:
            order = np.argsort(np.where(alloc > 1, remainder, np.inf), kind="stable")
            room = order[: min(-diff, int((alloc > 1).sum()))]
            alloc[room] -= 1
        remainder = target - alloc
    return alloc


def stratified_indices(column: pd.Series, size: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted row positions of a stratified sample of ``size`` rows (missing values form their own class)."""
    codes, _uniques = pd.factorize(column, use_na_sentinel=False)
    counts = np.bincount(codes)
    alloc = stratified_allocation(counts, size)
    order = np.lexsort((rng.random(len(codes)), codes))  # rows grouped by class, random order within a class
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.empty(len(codes), dtype=np.int64)
    rank[order] = np.arange(len(codes)) - np.repeat(starts, counts)
    return np.flatnonzero(rank < alloc[codes])
