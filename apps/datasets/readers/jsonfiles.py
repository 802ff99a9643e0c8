"""JSON (an array of records or an object of columns) and JSON Lines, nested values kept as text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pyarrow as pa

from apps.datasets.readers.base import (
    ReadError,
    ReadLimits,
    ReadResult,
    check_columns,
    check_rows,
    normalise_column_names,
)
from apps.datasets.readers.delimited import arrow_to_pandas
from apps.datasets.readers.encoding import detect_encoding


# --------------------------------------------------------------------------------------------------- JSON
def _json_error(exc: json.JSONDecodeError, what: str = "JSON") -> ReadError:
    return ReadError(
        f"Malformed {what} at line {exc.lineno}, column {exc.colno} (character {exc.pos}): {exc.msg}.",
        line=exc.lineno,
        column=exc.colno,
        position=exc.pos,
    )


def read_json_any(path: str, encoding: str | None, limits: ReadLimits) -> ReadResult:
    enc = detect_encoding(path, encoding)
    with open(path, encoding=enc) as fh:
        text = fh.read()
    if not text.strip():
        raise ReadError("The file is empty.")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data" and text.lstrip().startswith("{"):
            return ReadResult(read_jsonl(path, enc, limits), "jsonl", encoding=enc)
        raise _json_error(exc) from exc
    del text
    return ReadResult(_frame_from_json(data, limits), "json", encoding=enc)


def _frame_from_json(data: Any, limits: ReadLimits) -> pd.DataFrame:
    if isinstance(data, list):
        return _frame_from_records(data, limits, "item")
    if isinstance(data, dict):
        if not data:
            raise ReadError("The JSON object has no columns.")
        check_columns(len(data), limits)
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
    check_rows(len(records), limits)
    frame = pd.DataFrame.from_records(records)
    if frame.shape[1] == 0:
        raise ReadError("The file has no columns: the records have no fields.")
    check_columns(frame.shape[1], limits)
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


def read_jsonl(path: str, encoding: str, limits: ReadLimits) -> pd.DataFrame:
    if encoding in ("utf-8", "utf-8-sig"):
        try:
            import pyarrow.json as pa_json

            table = pa_json.read_json(path)
            if table.num_columns == 0:
                raise ReadError("The file has no columns: the records have no fields.")
            check_columns(table.num_columns, limits)
            names = normalise_column_names(table.column_names)
            return arrow_to_pandas(_stringify_nested(table).rename_columns(names))
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
                check_rows(n, limits)
            yield record
