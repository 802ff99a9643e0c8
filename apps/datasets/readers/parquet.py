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
    table = pf.read()
    names = normalise_column_names(table.column_names)
    return arrow_to_pandas(table.rename_columns(names))
