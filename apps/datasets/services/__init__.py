"""Data Wrangler writes: imports, versions, profiles, retyping, flows and their runs, SQL results.

Rules that hold for every write here:
* a version's Parquet file is written to a local temp file, then moved into place, and only then is the
  DatasetVersion row created (inside one transaction that also points the dataset at it);
* a failed first import deletes the dataset it created (and its upload): no dataset without versions stays;
* job functions are idempotent: a retried job finds the version (or report) its earlier attempt made.
"""

from __future__ import annotations

from apps.datasets import storage as files
from apps.datasets.services.flows import (
    flow_analysis_add,
    flow_analysis_delete,
    flow_create,
    flow_delete,
    flow_execute,
    flow_preview_or_error,
    flow_run_execute,
    flow_run_start,
    flow_source_add,
    flow_source_remove,
    flow_step_add,
    flow_step_delete,
    flow_step_draft,
    flow_step_update,
    step_validation_error,
)
from apps.datasets.services.imports import (
    ImportOptions,
    dataset_import_run,
    dataset_import_start,
    dataset_sql_import_run,
    dataset_sql_import_start,
    dataset_version_import_start,
)
from apps.datasets.services.profiles import (
    profile_run,
    profile_start,
)
from apps.datasets.services.retype import (
    version_retype_run,
    version_retype_start,
)
from apps.datasets.services.sql import (
    sql_save_run,
    sql_save_start,
)
from apps.datasets.services.versions import (
    HISTOGRAM_BINS,
    HISTOGRAM_SAMPLE,
    HISTOGRAM_TOP,
    NAME_MAX,
    cast_summary,
    clean_dataset_name,
    dataset_delete,
    dataset_name_is_free,
    dataset_version_create,
    dataset_version_create_from_frame,
    job_input_version,
    mini_histograms,
    orphans_purge,
    store_frame_as_version,
    typed_schema,
    version_result,
)

__all__ = [
    "HISTOGRAM_BINS",
    "HISTOGRAM_SAMPLE",
    "HISTOGRAM_TOP",
    "NAME_MAX",
    "ImportOptions",
    "cast_summary",
    "clean_dataset_name",
    "dataset_delete",
    "dataset_import_run",
    "dataset_import_start",
    "dataset_name_is_free",
    "dataset_sql_import_run",
    "dataset_sql_import_start",
    "dataset_version_create",
    "dataset_version_create_from_frame",
    "dataset_version_import_start",
    "files",
    "flow_analysis_add",
    "flow_analysis_delete",
    "flow_create",
    "flow_delete",
    "flow_execute",
    "flow_preview_or_error",
    "flow_run_execute",
    "flow_run_start",
    "flow_source_add",
    "flow_source_remove",
    "flow_step_add",
    "flow_step_delete",
    "flow_step_draft",
    "flow_step_update",
    "job_input_version",
    "mini_histograms",
    "orphans_purge",
    "profile_run",
    "profile_start",
    "sql_save_run",
    "sql_save_start",
    "step_validation_error",
    "store_frame_as_version",
    "typed_schema",
    "version_result",
    "version_retype_run",
    "version_retype_start",
]
