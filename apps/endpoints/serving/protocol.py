"""The MLflow scoring server's request protocol (no Django): a body and its content type in, a DataFrame out.

* `text/csv`: a header row, then rows.
* `application/json`: an object with exactly one of
  - `dataframe_split`: `{"columns": [...], "data": [[...], ...], "index"?: [...]}`
  - `dataframe_records`: `[{column: value}, ...]`
  - `instances`: `[{column: value}, ...]`, or `[[v1, v2, ...], ...]` in the signature's column order
  - `inputs`: `{column: [values]}` (columnar), or a list as for `instances`
  and optionally `params` (an object; `{"probabilities": true}` adds class probabilities to the answer).
Anything else is a ProtocolError carrying the HTTP status (400 or 415) and a message naming what is wrong."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import orjson
import pandas as pd

JSON_FORMS = ("dataframe_split", "dataframe_records", "instances", "inputs")
CONTENT_TYPES = ("application/json", "text/csv")


@dataclass
class ProtocolError(Exception):
    status: int
    message: str
    errors: dict[str, list[str]] = field(default_factory=dict)
    code: str = "BAD_REQUEST"

    def __str__(self) -> str:
        return self.message


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def check_content_type(content_type: str | None) -> str:
    kind = media_type(content_type)
    if kind not in CONTENT_TYPES:
        shown = kind or "none"
        raise ProtocolError(
            415,
            f"Unsupported content type {shown!r}: send application/json or text/csv.",
            {"content_type": [f"{shown} is not supported"]},
            code="UNSUPPORTED_MEDIA_TYPE",
        )
    return kind


def _bad(message: str, field_name: str = "body") -> ProtocolError:
    return ProtocolError(400, message, {field_name: [message]}, code="MALFORMED_REQUEST")


def _records(rows: Any, form: str, input_names: list[str]) -> pd.DataFrame:
    if not isinstance(rows, list):
        raise _bad(f"`{form}` must be a list.", form)
    if not rows:
        return pd.DataFrame(columns=input_names)
    if all(isinstance(r, dict) for r in rows):
        return pd.DataFrame.from_records(rows)
    if form == "dataframe_records":
        raise _bad("`dataframe_records` must be a list of {column: value} objects.", form)
    if all(isinstance(r, list) for r in rows):
        width = len(input_names)
        for i, r in enumerate(rows):
            if len(r) != width:
                raise _bad(
                    f"`{form}` row {i} has {len(r)} values; the model takes {width} ({', '.join(input_names)}).", form
                )
        return pd.DataFrame(rows, columns=input_names)
    if len(input_names) == 1 and not any(isinstance(r, (list, dict)) for r in rows):
        return pd.DataFrame({input_names[0]: rows})
    raise _bad(f"`{form}` must be a list of objects or a list of lists (one value per input column).", form)


def _split(value: Any) -> pd.DataFrame:
    if not isinstance(value, dict):
        raise _bad("`dataframe_split` must be an object with `columns` and `data`.", "dataframe_split")
    unknown = sorted(set(value) - {"columns", "data", "index"})
    if unknown:
        raise _bad(f"`dataframe_split` has unknown keys: {', '.join(unknown)}.", "dataframe_split")
    columns, data = value.get("columns"), value.get("data")
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise _bad("`dataframe_split.columns` must be a list of column names.", "dataframe_split")
    if not isinstance(data, list) or not all(isinstance(r, list) for r in data):
        raise _bad("`dataframe_split.data` must be a list of rows (lists).", "dataframe_split")
    for i, row in enumerate(data):
        if len(row) != len(columns):
            raise _bad(
                f"`dataframe_split.data` row {i} has {len(row)} values for {len(columns)} columns.", "dataframe_split"
            )
    index = value.get("index")
    if index is not None and (not isinstance(index, list) or len(index) != len(data)):
        raise _bad("`dataframe_split.index` must be a list as long as `data`.", "dataframe_split")
    return pd.DataFrame(data, columns=columns)


def _inputs(value: Any, input_names: list[str]) -> pd.DataFrame:
    if isinstance(value, dict):
        lengths = set()
        for name, column in value.items():
            if not isinstance(column, list):
                raise _bad(f"`inputs.{name}` must be a list of values (columnar form).", "inputs")
            lengths.add(len(column))
        if len(lengths) > 1:
            raise _bad("Every column of `inputs` must have the same number of values.", "inputs")
        return pd.DataFrame(value)
    return _records(value, "inputs", input_names)


def parse_json(body: bytes, input_names: list[str]) -> tuple[pd.DataFrame, dict[str, Any]]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _bad(f"The body is not valid JSON: {exc}.") from exc
    if not isinstance(data, dict):
        raise _bad(f"The body must be a JSON object with exactly one of {', '.join(JSON_FORMS)}.")
    forms = [k for k in JSON_FORMS if k in data]
    if len(forms) != 1:
        found = f"found {', '.join(forms)}" if forms else "found none"
        raise _bad(f"The body must have exactly one of {', '.join(JSON_FORMS)} ({found}).")
    unknown = sorted(set(data) - set(JSON_FORMS) - {"params"})
    if unknown:
        raise _bad(f"Unknown keys in the body: {', '.join(unknown)}.", unknown[0])
    params = data.get("params") or {}
    if not isinstance(params, dict):
        raise _bad("`params` must be an object.", "params")
    form = forms[0]
    value = data[form]
    if form == "dataframe_split":
        frame = _split(value)
    elif form == "inputs":
        frame = _inputs(value, input_names)
    else:
        frame = _records(value, form, input_names)
    bad_names = [c for c in frame.columns if not isinstance(c, str)]
    if bad_names:
        raise _bad("Column names must be strings.", form)
    return frame, params


def parse_csv(body: bytes) -> pd.DataFrame:
    if not body.strip():
        raise _bad("The CSV body is empty: send a header row, then one row per prediction.")
    try:
        return pd.read_csv(io.BytesIO(body))
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise _bad(f"The CSV body could not be read: {exc}".strip()) from exc


def parse(body: bytes, content_type: str | None, input_names: list[str]) -> tuple[pd.DataFrame, dict[str, Any]]:
    kind = check_content_type(content_type)
    if kind == "text/csv":
        return parse_csv(body), {}
    return parse_json(body, input_names)


def truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}
