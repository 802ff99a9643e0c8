"""The one CSV writer: everything Atelier writes as CSV goes through `csv_chunks` / `frame_to_csv_text`.

Plain module (no Django): a DataFrame, an Arrow table or Arrow record batches in; text or UTF-8 byte chunks out.

Quoting (RFC 4180 with `\\n` line ends). A text cell is written between double quotes (inner quotes doubled) when
it holds a comma, a quote, a carriage return, a line feed or any other control character (NUL included), a Unicode
line or paragraph separator or a byte-order mark, when it starts or ends with whitespace, when it is the empty
string, or when it was neutralised (below); otherwise as it is. A null is an empty field, so an empty string (`""`)
and a null (nothing) stay apart for readers that can tell them apart (pyarrow with `quoted_strings_can_be_null=False`;
pandas reads both as NaN). A row of one null cell is written `""` so that it is not a blank line that readers skip.
Values of numeric, boolean, date, time and duration columns are formatted exactly as pandas' `to_csv` formats them
(`1.5`, `-2.0`, `True`, `2024-01-01 10:00:00+00:00`; Arrow integers with nulls stay integers) and are
never quoted (they cannot hold a comma, quote or line break). So every CSV written raw reads back to the same frame.

Formula neutralisation (OWASP "CSV injection"), for files meant for people (`neutralise=True`): a spreadsheet runs a
cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return as a formula. The rule:

* only text is neutralised: the header (every column name) and the cells of text columns (strings, categories,
  lists, anything that is not one of the kinds below);
* values of numeric, boolean, date/datetime, time and duration columns are never touched: `-1.5` in a numeric
  column is a number, not a formula, and a quote in front of it would turn it into text in the spreadsheet;
* a text cell (or column name) that starts with one of `FORMULA_START` (the OWASP six, a line feed, full-width
  `=`, `+`, `-`, `@`), or with a single quote, gets one single quote in front and is quoted. Prefixing cells that
  already start with a single quote keeps the rule reversible: `strip_neutralised` (drop one leading single
  quote from a text cell or header, if there is one) gives back the exact value.

The raw form (`neutralise=False`) is exact: the user's values come back as the user wrote them. People download the
neutralised form; pipelines ask the API for the raw one (datasets: `?format=csv&escape=none`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pandas as pd
import pyarrow as pa

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
NEUTRALISE_PREFIX = "'"
# Arrow integers and booleans read as pandas' nullable types: an integer column with a null stays `3`, not `3.0`,
# whichever batch of the file the null falls in.
NULLABLE: dict[pa.DataType, Any] = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.UInt8Dtype(),
    pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(),
    pa.uint64(): pd.UInt64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


def strip_neutralised(value: str) -> str:
    """The value a neutralised text cell (or column name) stood for: one leading single quote dropped."""
    return value[1:] if value.startswith(NEUTRALISE_PREFIX) else value


def is_text_type(arrow_type: pa.DataType) -> bool:
    """Whether cells of an Arrow column of this type are text for the neutralisation rule (module docstring)."""
    if pa.types.is_dictionary(arrow_type):
        return is_text_type(arrow_type.value_type)
    data = (
        pa.types.is_integer(arrow_type)
        or pa.types.is_floating(arrow_type)
        or pa.types.is_decimal(arrow_type)
        or pa.types.is_boolean(arrow_type)
        or pa.types.is_temporal(arrow_type)
        or pa.types.is_null(arrow_type)
    )
    return not data


def csv_chunks(
    source: pd.DataFrame | pa.Table | Iterable[pa.RecordBatch | pa.Table | pd.DataFrame],
    *,
    neutralise: bool,
    header: bool = True,
) -> Iterator[bytes]:
    """`source` as UTF-8 CSV, one chunk per batch, the header in the first one (give an empty batch for a file
    with no rows: no batch at all writes nothing).

    Arrow input decides which columns are text from its schema (`is_text_type`), so every batch of one file follows
    the same rule; a DataFrame decides from its dtypes (`frame_to_csv_text`)."""
    batches: Iterable[Any] = [source] if isinstance(source, (pd.DataFrame, pa.Table, pa.RecordBatch)) else source
    first = header
    for batch in batches:
        if isinstance(batch, pd.DataFrame):
            frame, text_columns = batch, None
        else:
            frame = batch.to_pandas(types_mapper=NULLABLE.get)
            text_columns = [is_text_type(field.type) for field in batch.schema]
        text = frame_to_csv_text(frame, neutralise=neutralise, header=first, text_columns=text_columns)
        first = False
        yield text.encode("utf-8")


def csv_bytes(frame: pd.DataFrame | pa.Table, *, neutralise: bool) -> bytes:
    return b"".join(csv_chunks(frame, neutralise=neutralise))


# Copied verbatim into exported flow scripts (apps/datasets/transforms/export.py): it uses only builtins and `pd`.
def frame_to_csv_text(
    frame: pd.DataFrame, *, neutralise: bool = False, header: bool = True, text_columns: list[bool] | None = None
) -> str:
    """`frame` as CSV text (quoting and neutralisation rules: apps/core/csvio.py's docstring).

    `text_columns[i]` says whether column i is text; by default a column is text unless its dtype (or, for an
    object column, the values it holds) is numeric, boolean, date/datetime, time, duration or period."""
    start = "[=+\\-@\\t\\r\\n\uff1d\uff0b\uff0d\uff20']"
    quote_when = '[",\\x00-\\x1f\\x7f\x85\u2028\u2029\ufeff]'
    data_inferred = {
        "integer",
        "floating",
        "mixed-integer-float",
        "decimal",
        "boolean",
        "date",
        "datetime",
        "datetime64",
        "time",
        "timedelta",
        "timedelta64",
        "period",
        "empty",
    }

    def is_text(column: pd.Series) -> bool:
        dtype = column.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            column = column.astype(object)
            dtype = column.dtype
        if pd.api.types.is_object_dtype(dtype):
            return pd.api.types.infer_dtype(column, skipna=True) not in data_inferred
        native = (
            pd.api.types.is_numeric_dtype(dtype)
            or pd.api.types.is_bool_dtype(dtype)
            or pd.api.types.is_datetime64_any_dtype(dtype)
            or pd.api.types.is_timedelta64_dtype(dtype)
            or isinstance(dtype, pd.PeriodDtype)
        )
        return not native

    def text_cells(column: pd.Series, escape: bool) -> pd.Series:
        missing = column.isna().to_numpy()
        if isinstance(column.dtype, pd.StringDtype):
            values = column.fillna("").astype("str")
        else:
            listed = column.tolist()
            values = pd.Series(
                [
                    "" if gone else (v if isinstance(v, str) else str(v))
                    for v, gone in zip(listed, missing, strict=True)
                ],
                dtype="str",
            )
        values = values.reset_index(drop=True)
        flagged = values.str.match(start) if escape else pd.Series(False, index=values.index)
        values = values.where(~flagged, "'" + values)
        edges = values.str.strip() != values
        quoted = flagged | values.str.contains(quote_when, regex=True) | edges | (values == "")
        values = values.where(~quoted, '"' + values.str.replace('"', '""', regex=False) + '"')
        return values.where(~missing, "")

    def data_run(columns: list[pd.Series]) -> pd.Series | None:
        """pandas' own formatting of adjacent data columns, one comma-joined piece per row, or None if a cell
        would need quoting (then the columns are written as text)."""
        part = pd.concat(columns, axis=1, ignore_index=True)
        lines = part.to_csv(index=False, header=False, lineterminator="\n").split("\n")[:-1]
        if len(columns) == 1:
            lines = ["" if line == '""' else line for line in lines]
        if len(lines) != len(part) or any('"' in line for line in lines):
            return None
        return pd.Series(lines, dtype="str")

    width = frame.shape[1]
    if width == 0:
        return ""
    frame = frame.reset_index(drop=True)
    kinds = list(text_columns) if text_columns is not None else [is_text(frame.iloc[:, i]) for i in range(width)]
    pieces: list[pd.Series] = []
    i = 0
    while i < width:
        end = i + 1
        while end < width and not kinds[i] and not kinds[end]:
            end += 1
        run = data_run([frame.iloc[:, j] for j in range(i, end)]) if not kinds[i] and len(frame) else None
        if run is not None:
            pieces.append(run)
        else:
            pieces.extend(text_cells(frame.iloc[:, j], neutralise and kinds[j]) for j in range(i, end))
        i = end
    lines = []
    if header:
        names = text_cells(pd.Series([str(name) for name in frame.columns], dtype=object), neutralise)
        lines.append(",".join(names.tolist()))
    if len(frame):
        rows = pieces[0].str.cat(pieces[1:], sep=",") if len(pieces) > 1 else pieces[0]
        if width == 1:
            rows = rows.where(rows != "", '""')
        lines.extend(rows.tolist())
    return "".join(line + "\n" for line in lines)
