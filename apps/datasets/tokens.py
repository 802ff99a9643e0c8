"""The user's own spellings of boolean values: a version stores booleans, people and systems get the tokens back.

Plain module (no Django). A schema entry of a boolean column inferred from text or 0/1 numbers carries
``tokens: {"true": "yes", "false": "no"}`` (:mod:`apps.datasets.inference`); entries without tokens (older
versions, columns stored as booleans) keep ``True``/``False``. Everything that renders or emits a version's values
(rows API, table, CSV download, model training and predictions, batch outputs) goes through :func:`table_as_written`
or :func:`frame_as_written`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

Tokens = dict[str, tuple[Any, Any]]  # column -> (true token, false token)


def boolean_tokens(schema: Iterable[dict[str, Any]] | None) -> Tokens:
    """``{column: (true token, false token)}`` for the boolean columns of a schema that recorded the user's tokens."""
    out: Tokens = {}
    for entry in schema or []:
        tokens = entry.get("tokens")
        if entry.get("type") == "boolean" and isinstance(tokens, dict) and "true" in tokens and "false" in tokens:
            out[str(entry["name"])] = (tokens["true"], tokens["false"])
    return out


def carry_tokens(schema: list[dict[str, Any]], *sources: Iterable[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """``schema`` with the tokens of same-named boolean columns of the source schemas (a flow output, a retyped
    version): a column that was ``yes``/``no`` before a step stays ``yes``/``no`` after it."""
    known: Tokens = {}
    for source in sources:
        for name, pair in boolean_tokens(source).items():
            known.setdefault(name, pair)
    for entry in schema:
        if entry.get("type") == "boolean" and "tokens" not in entry and entry["name"] in known:
            true, false = known[entry["name"]]
            entry["tokens"] = {"true": true, "false": false}
    return schema


def table_as_written(table: pa.Table, tokens: Tokens) -> pa.Table:
    """``table`` with each boolean column that has tokens holding the tokens (nulls stay null). The pandas metadata
    of a replaced column is dropped, so that the table still converts to a DataFrame."""
    replaced = False
    for name, (true, false) in tokens.items():
        i = table.schema.get_field_index(name)
        if i < 0 or not pa.types.is_boolean(table.schema.field(i).type):
            continue
        kind = pa.int64() if isinstance(true, int) and isinstance(false, int) else pa.string()
        column = pc.if_else(table.column(i), pa.scalar(true, type=kind), pa.scalar(false, type=kind))
        table = table.set_column(i, pa.field(name, kind), column)
        replaced = True
    return table.replace_schema_metadata(None) if replaced else table


def frame_as_written(frame: pd.DataFrame, tokens: Tokens) -> pd.DataFrame:
    """``frame`` with each boolean column that has tokens holding the tokens (a copy; missing values stay missing)."""
    todo = [n for n in tokens if n in frame.columns and pd.api.types.is_bool_dtype(frame[n].dtype)]
    if not todo:
        return frame
    out = frame.copy(deep=False)
    for name in todo:
        true, false = tokens[name]
        values = frame[name].astype("boolean")
        missing = values.isna().to_numpy()
        flags = values.fillna(False).to_numpy(dtype=bool)
        if isinstance(true, int) and isinstance(false, int):
            out[name] = pd.array(np.where(flags, true, false), dtype="Int64")
            out.loc[missing, name] = pd.NA
        else:
            written = pd.Series(np.where(flags, str(true), str(false)), index=frame.index, dtype="str")
            out[name] = written.where(~missing, None)
    return out


def value_as_written(value: Any, pair: tuple[Any, Any] | None) -> Any:
    """One value (e.g. a typical value or a class label) as the user wrote it."""
    if pair is None or not isinstance(value, (bool, np.bool_)):
        return value
    return pair[0] if value else pair[1]


def report_as_written(report: dict[str, Any], tokens: Tokens) -> dict[str, Any]:
    """A finished quality report (:func:`apps.datasets.profiling.profile_dataframe`) with each value of a boolean
    column that has tokens as the user wrote it: top values, the target's classes, duplicate and anomalous example
    rows. The analysis ran on booleans; only the values shown change (in place; the report is returned). Each
    column section of such a column also says its tokens, beside its true/false counts."""
    if not tokens:
        return report
    for column in report.get("columns") or []:
        pair = tokens.get(str(column.get("name")))
        if pair is None:
            continue
        column["tokens"] = {"true": pair[0], "false": pair[1]}
        for item in column.get("top_values") or []:
            item["value"] = value_as_written(item.get("value"), pair)
    target = report.get("target") or {}
    pair = tokens.get(str(target.get("name")))
    for item in target.get("classes") or [] if pair else []:
        item["value"] = value_as_written(item.get("value"), pair)
    examples = [
        *((report.get("summary") or {}).get("duplicate_examples") or []),
        *((report.get("anomalies") or {}).get("examples") or []),
    ]
    for example in examples:
        values = example.get("values")
        if isinstance(values, dict):
            example["values"] = {k: value_as_written(v, tokens.get(k)) for k, v in values.items()}
    return report


def result_tokens(
    fields: Iterable[tuple[str, bool]],
    sources: Iterable[Iterable[dict[str, Any]] | None],
    references: Mapping[str, str | None],
) -> Tokens:
    """Tokens for the boolean columns of a SQL result (``fields``: name, is boolean) over tables with the schemas
    ``sources``. A boolean result column that plainly references a yes/no column (``references``, from
    :func:`apps.datasets.sql.select_references`; a column the select list does not name, from a ``*``, by its
    own name) gets that column's tokens; a computed boolean (``x > 1 AS big``) keeps true/false, and so does a
    column whose name the tables spell with different tokens."""
    known: dict[str, set[tuple[Any, Any]]] = {}
    for source in sources:
        for name, pair in boolean_tokens(source).items():
            known.setdefault(name.lower(), set()).add(pair)
    out: Tokens = {}
    for name, is_boolean in fields:
        origin = references.get(name.lower(), name.lower())
        pairs = known.get(origin) if is_boolean and origin is not None else None
        if pairs is not None and len(pairs) == 1:
            out[name] = next(iter(pairs))
    return out


def schema_with_tokens(schema: list[dict[str, Any]], tokens: Tokens) -> list[dict[str, Any]]:
    """``schema`` whose boolean columns named in ``tokens`` record them (in place; returned)."""
    for entry in schema:
        pair = tokens.get(entry["name"])
        if entry.get("type") == "boolean" and pair is not None:
            entry["tokens"] = {"true": pair[0], "false": pair[1]}
    return schema
