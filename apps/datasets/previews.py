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

from apps.core.sandbox import report

Want = Literal["preview", "columns", "frame"]


@dataclass(frozen=True)
class SourceFile:
    """A source's Parquet file on this machine (read in the worker, first `rows` rows)."""

    path: str


@lru_cache(maxsize=8)
def _head(path: str, size: int, mtime_ns: int, rows: int) -> pd.DataFrame:
    import pyarrow.parquet as pq

    from apps.datasets.storage import parquet_head

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
) -> dict[str, Any]:
    """The output of `step_id` (or a source) on the first `rows` rows of each source."""
    from apps.datasets.transforms import preview_step

    frames = {}
    for source_id, source in sources.items():
        report(f"source:{source_id}")
        frames[source_id] = read_source(source, rows)
    source_rows = {k: len(v) for k, v in frames.items()}
    if step_id in frames:
        frame = frames[step_id]
    else:
        frame = preview_step(definition, frames, step_id, rows=rows, on_step=lambda s: report(f"step:{s.id}")).output
    report(f"result:{step_id}")
    out: dict[str, Any] = {"source_rows": source_rows, "columns": [str(c) for c in frame.columns]}
    if want == "frame":
        out["frame"] = frame
    elif want == "preview":
        out.update(_preview(frame, shown))
    return out


def _preview(frame: pd.DataFrame, shown: int) -> dict[str, Any]:
    import pyarrow as pa

    from apps.datasets.inference import infer_schema
    from apps.datasets.storage import json_value, table_records

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
