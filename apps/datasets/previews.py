"""Flow previews as they run inside the preview sandbox (apps.core.sandbox): plain data in, plain data out.

The web process resolves what a preview needs (the flow definition, the step, and a local Parquet path or a
frame for each source it reads) and sends it here; a sandbox worker reads the sources' first rows, runs the
steps, reporting each step before it starts so that a preview stopped at its time or memory limit names the
step, and answers with the step's output (a preview dict, its column names, or the frame). No database here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from apps.core.sandbox import report
from apps.datasets.inference import infer_schema
from apps.datasets.storage import json_value, parquet_head, table_records
from apps.datasets.transforms import preview_step
from apps.datasets.transforms.sql import sql_time_limit

# What the workers import before their first call (in the forkserver, once): a call's time limit is spent on the
# preview, not on imports.
PRELOAD = ("apps.datasets.previews", "duckdb", "sklearn.neighbors")

Want = Literal["preview", "columns", "frame"]


@dataclass(frozen=True)
class SourceFile:
    """A source's Parquet file on this machine (read in the worker, first `rows` rows)."""

    path: str


@lru_cache(maxsize=8)
def _head(path: str, size: int, mtime_ns: int, rows: int) -> pd.DataFrame:
    pf = pq.ParquetFile(path, memory_map=True)
    try:
        return parquet_head(pf, rows)
    finally:
        pf.close()


def read_source(source: SourceFile | pd.DataFrame, rows: int) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        return source.iloc[:rows]
    stat = os.stat(source.path)
    # Versions are immutable; a sample is cached per worker (keyed by path, size and mtime) and copied shallowly.
    return _head(source.path, stat.st_size, stat.st_mtime_ns, rows).copy(deep=False)


def step_output(
    definition: dict[str, Any],
    sources: dict[str, SourceFile | pd.DataFrame],
    step_id: str,
    *,
    rows: int,
    shown: int = 50,
    want: Want = "preview",
    sql_timeout_s: float | None = None,
) -> dict[str, Any]:
    """The output of `step_id` (or a source) on the first `rows` rows of each source; SQL steps are interrupted
    after `sql_timeout_s` (a clearer message than the sandbox's kill, which stays the hard limit)."""
    frames = {}
    for source_id, source in sources.items():
        report(f"source:{source_id}")
        frames[source_id] = read_source(source, rows)
    source_rows = {k: len(v) for k, v in frames.items()}
    if step_id in frames:
        frame = frames[step_id]
    else:
        with sql_time_limit(sql_timeout_s):
            result = preview_step(definition, frames, step_id, rows=rows, on_step=lambda s: report(f"step:{s.id}"))
        frame = result.output
    report(f"result:{step_id}")
    out: dict[str, Any] = {"source_rows": source_rows, "columns": [str(c) for c in frame.columns]}
    if want == "frame":
        out["frame"] = frame
    elif want == "preview":
        out.update(_preview(frame, shown))
    return out


def _preview(frame: pd.DataFrame, shown: int) -> dict[str, Any]:
    head = frame.head(shown)
    schema = [
        {"name": e["name"], "type": e["type"], "pandas_dtype": str(frame[e["name"]].dtype)}
        for e in infer_schema(frame, sample_size=5_000)
    ]
    try:
        records = table_records(pa.Table.from_pandas(head, preserve_index=False))
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        records = [{str(k): json_value(v) for k, v in row.items()} for row in head.to_dict("records")]
    return {
        "dtypes": {str(c): str(t) for c, t in frame.dtypes.items()},
        "schema": schema,
        "rows": records,
        "row_count": len(frame),
    }
