"""Parquet files, with row and column caps checked from the metadata before reading."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from apps.datasets.readers.base import ReadError, ReadLimits, check_columns, check_rows, normalise_column_names
from apps.datasets.readers.delimited import arrow_to_pandas


# --------------------------------------------------------------------------------------------------- Parquet
def read_parquet(path: str, limits: ReadLimits) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ReadError(f"The file is not a valid Parquet file: {exc}") from exc
    meta = pf.metadata
    check_columns(meta.num_columns, limits)
    check_rows(meta.num_rows, limits)
    table = _read_bounded(path, pf.schema_arrow, limits)
    names = normalise_column_names(table.column_names)
    return arrow_to_pandas(table.rename_columns(names))


def _text_columns(schema: pa.Schema) -> list[str]:
    binary = (pa.types.is_string, pa.types.is_large_string, pa.types.is_binary, pa.types.is_large_binary)
    return [f.name for f in schema if any(test(f.type) for test in binary)]


def _read_bounded(path: str, schema: pa.Schema, limits: ReadLimits) -> pa.Table:
    """The file's table, refused before its values are expanded when they would take more than the decoded cap.

    A file's size says little of its size in memory: a dictionary page holds a value once and each row points at
    it, so a few kilobytes can stand for gigabytes of text. Text columns are read still dictionary-encoded, one row
    group at a time; what they expand to is counted from the dictionary's value lengths and the indices, and only
    then are the values expanded."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    text = _text_columns(schema)
    pf = pq.ParquetFile(path, read_dictionary=text)
    total = 0
    groups = []
    for i in range(pf.metadata.num_row_groups):
        group = pf.read_row_group(i)
        for column in group.columns:
            for chunk in column.chunks:
                if pa.types.is_dictionary(chunk.type):
                    lengths = pc.binary_length(chunk.dictionary).fill_null(0)
                    total += int(pc.sum(lengths.take(chunk.indices.fill_null(0))).as_py() or 0) + 8 * len(chunk)
                else:
                    total += chunk.nbytes
        if total > limits.max_decoded_bytes:
            raise ReadError(
                f"The Parquet file expands to more than {limits.max_decoded_bytes / 1024**3:.1f} GiB in memory "
                f"(the limit): its values repeat far more than its size shows. Split it, or keep fewer rows.",
                limit=limits.max_decoded_bytes,
            )
        groups.append(group)
    table = pa.concat_tables(groups) if groups else pf.schema_arrow.empty_table()
    for i, field in enumerate(schema):
        if field.name in text:  # by position: a file may repeat a column name
            table = table.set_column(i, field, table.column(i).cast(field.type))
    return table
