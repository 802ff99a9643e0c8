"""Where dataset files live and how they are read and written.

Every path is built from ids with `apps.core.storage.project_path` (nothing a user typed becomes a path):

    projects/<project>/datasets/<dataset>/v<n>.parquet            a version
    projects/<project>/datasets/<dataset>/uploads/<uuid>.<ext>    an upload waiting for its import job
    projects/<project>/datasets/<dataset>/reports/<name>.json     a profile report

Files are written locally to a temp name first, then saved (moved) into place. Parquet files are written
with small row groups so a page of rows reads one or two row groups, never the whole file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import json
import math
import os
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from django.core.files.storage import FileSystemStorage

from apps.core import csvio
from apps.core.storage import open_ranged, project_path, storage, walk_files
from apps.core.tempfiles import save_into_place, temp_path
from apps.datasets.tokens import Tokens, table_as_written

ROW_GROUP_SIZE = 65_536
UPLOAD_EXTENSIONS = {".csv", ".txt", ".tsv", ".tab", ".parquet", ".pq", ".json", ".jsonl", ".ndjson", ".xlsx", ".xlsm"}


def check_filename(name: str) -> str:
    """A file name as a user gave it (recorded for lineage, never used as a path): no folders, no '..',
    no control characters."""
    bad = (
        not name.strip()
        or name.strip(". ") == ""
        or ".." in name
        or any(c in name for c in "/\\:")
        or name.startswith("~")
        or any(ord(c) < 32 or ord(c) == 127 for c in name)
    )
    if bad:
        raise ValueError(f"Not a plain file name: {name!r} (no folders, '..', ':' or control characters).")
    return name


# --- paths ---------------------------------------------------------------------------------------------


def dataset_dir(project_id: int, dataset_id: int) -> str:
    return project_path(project_id, "datasets", str(int(dataset_id)))


def version_path(project_id: int, dataset_id: int, number: int) -> str:
    return project_path(project_id, "datasets", str(int(dataset_id)), f"v{int(number)}.parquet")


def upload_path(project_id: int, dataset_id: int, filename: str) -> str:
    ext = os.path.splitext(filename or "")[1].lower()
    ext = ext if ext in UPLOAD_EXTENSIONS else ".bin"
    return project_path(project_id, "datasets", str(int(dataset_id)), "uploads", f"{uuid.uuid4().hex}{ext}")


def report_path(project_id: int, dataset_id: int, number: int, job_id: int | None) -> str:
    name = f"v{int(number)}-profile-{int(job_id or 0)}-{uuid.uuid4().hex[:8]}.json"
    return project_path(project_id, "datasets", str(int(dataset_id)), "reports", name)


def delete_quietly(name: str | None) -> None:
    if not name:
        return
    with contextlib.suppress(FileNotFoundError, OSError):
        storage().delete(name)


def walk_dataset_files(prefix: str) -> Iterator[tuple[str, int]]:
    return walk_files(prefix)


def file_size(name: str) -> int:
    try:
        return int(storage().size(name))
    except (FileNotFoundError, OSError):
        return 0


@contextlib.contextmanager
def local_path(name: str) -> Iterator[str]:
    """A local path for a stored file: the file itself on local storage, else a temp copy."""
    store = storage()
    if isinstance(store, FileSystemStorage):
        yield store.path(name)
        return
    with temp_path(os.path.splitext(name)[1]) as tmp:
        with store.open(name, "rb") as src, open(tmp, "wb") as dst:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                dst.write(chunk)
        yield tmp


def write_json(data: Any, name: str) -> tuple[str, int]:
    with temp_path(".json") as tmp:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(data, handle, allow_nan=False)
        size = os.path.getsize(tmp)
        return save_into_place(tmp, name), size


def read_json(name: str) -> Any:
    with storage().open(name, "rb") as handle:
        return json.load(handle)


# --- Parquet -----------------------------------------------------------------------------------------------


def write_frame(frame: pd.DataFrame, local: str) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, local, row_group_size=ROW_GROUP_SIZE)


@contextlib.contextmanager
def open_parquet(name: str) -> Iterator[pq.ParquetFile]:
    store = storage()
    if isinstance(store, FileSystemStorage):
        pf = pq.ParquetFile(store.path(name), memory_map=True)
        try:
            yield pf
        finally:
            pf.close()
        return
    ranged = open_ranged(name)  # an object store: only the footer and the row groups read are downloaded
    if ranged is not None:
        with ranged:
            yield pq.ParquetFile(ranged)
        return
    with store.open(name, "rb") as handle:
        yield pq.ParquetFile(handle)


def read_frame(name: str, columns: list[str] | None = None) -> pd.DataFrame:
    """Every row; only `columns` (in that order) when given, so a reader of a few columns of a wide or long file
    never holds the others."""
    with open_parquet(name) as pf:
        return pf.read(columns=columns).to_pandas()


def read_positions(name: str, positions: np.ndarray, columns: list[str] | None = None) -> pd.DataFrame:
    """The rows at sorted 0-based `positions`, reading one row group at a time (memory: the rows kept plus one
    group of `columns`)."""
    positions = np.asarray(positions, dtype=np.int64)
    with open_parquet(name) as pf:
        parts: list[pa.Table] = []
        start = 0
        for i in range(pf.metadata.num_row_groups):
            n = pf.metadata.row_group(i).num_rows
            lo, hi = np.searchsorted(positions, [start, start + n])
            if hi > lo:
                group = pf.read_row_group(i, columns=columns)
                parts.append(group.take(pa.array(positions[lo:hi] - start)))
            start += n
        if not parts:
            schema = pf.schema_arrow
            empty = schema.empty_table()
            return (empty.select(columns) if columns is not None else empty).to_pandas()
        return pa.concat_tables(parts).to_pandas()


def read_head(name: str, rows: int) -> pd.DataFrame:
    """The first `rows` rows, reading only the row groups they are in."""
    with open_parquet(name) as pf:
        return parquet_head(pf, rows)


def parquet_head(pf: pq.ParquetFile, rows: int) -> pd.DataFrame:
    groups, total = [], 0
    for i in range(pf.metadata.num_row_groups):
        if total >= rows:
            break
        groups.append(i)
        total += pf.metadata.row_group(i).num_rows
    table = pf.read_row_groups(groups) if groups else pf.schema_arrow.empty_table()
    return table.slice(0, rows).to_pandas()


def read_rows(name: str, offset: int, limit: int) -> pa.Table:
    """Rows [offset, offset + limit) reading only the row groups that hold them."""
    with open_parquet(name) as pf:
        meta = pf.metadata
        start = 0
        groups: list[int] = []
        first_start = 0
        end = offset + limit
        for i in range(meta.num_row_groups):
            size = meta.row_group(i).num_rows
            if start + size > offset and start < end:
                if not groups:
                    first_start = start
                groups.append(i)
            start += size
            if start >= end:
                break
        if not groups:
            return pf.schema_arrow.empty_table()
        table = pf.read_row_groups(groups)
    return table.slice(offset - first_start, limit)


def parquet_shape(local: str) -> tuple[int, int]:
    meta = pq.ParquetFile(local).metadata
    return int(meta.num_rows), int(meta.num_columns)


def iter_csv_chunks(name: str, *, neutralise: bool, tokens: Tokens | None = None) -> Iterator[bytes]:
    """The version as CSV, one row group at a time (header first), written by the one CSV writer
    (apps/core/csvio.py): `neutralise=True` for people (spreadsheet formulas defused), False for the exact values.
    Boolean columns with `tokens` (apps/datasets/tokens.py) are written as the user's tokens."""

    def tables() -> Iterator[pa.Table]:
        with open_parquet(name) as pf:
            if not pf.metadata.num_row_groups:
                yield table_as_written(pf.schema_arrow.empty_table(), tokens or {})
            for i in range(pf.metadata.num_row_groups):
                yield table_as_written(pf.read_row_group(i), tokens or {})

    yield from csvio.csv_chunks(tables(), neutralise=neutralise)


# --- JSON-safe values ---------------------------------------------------------------------------------------


def json_value(value: Any) -> Any:
    """A cell value as plain JSON: NaN/NaT/NA as null, timestamps as ISO text, bytes as text."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (pd.Timedelta, dt.timedelta)):
        return str(value)
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() and abs(value) < 2**63 else float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_value(v) for v in list(value)]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def table_records(table: pa.Table) -> list[dict[str, Any]]:
    columns = table.column_names
    data = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return [{name: json_value(col[r]) for name, col in zip(columns, data, strict=True)} for r in range(table.num_rows)]
