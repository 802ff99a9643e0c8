"""Excel .xlsx through openpyxl read-only, its zip checked by the archive guard first."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd

from apps.core.archives import ArchiveError, ArchiveLimits, GuardedZip, open_zip
from apps.datasets.readers.base import ReadError, ReadLimits, check_columns, check_rows, normalise_column_names
from apps.datasets.readers.delimited import sniff_header


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


def read_xlsx(
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
            check_columns(len(trimmed), limits)
            row = trimmed
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in row):
            continue
        rows.append(_trim_trailing_none(row))
        if len(rows) > limits.max_rows + 1:
            check_rows(len(rows) - 1, limits)
    return rows


def _trim_trailing_none(row: tuple[Any, ...]) -> tuple[Any, ...]:
    end = len(row)
    while end and row[end - 1] is None:
        end -= 1
    return row[:end]


def _sniff_xlsx_header(rows: list[list[Any]]) -> bool:
    as_text = [["" if v is None else (v if isinstance(v, str) else "0") for v in r] for r in rows[:50]]
    return sniff_header(as_text)
