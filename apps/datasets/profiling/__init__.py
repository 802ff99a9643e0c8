"""The Data Quality and Insights report: one JSON-serialisable dict per dataset version.

Plain module: no Django imports. Design for speed and memory on millions of rows:

* one pass per column on all rows: numbers are sorted once (min, max, quantiles, distinct values, top values,
  histogram and outlier bounds all come from the sorted array); strings are factorised once and every string
  check (blank, whitespace, lengths, parse failures) runs on the distinct values weighted by their counts;
* duplicate rows by a 64-bit row hash, then confirmed exactly on the few candidate rows;
* everything that models or pairs columns (correlations, associations, leakage, quick model, anomalies, VIF)
  runs on one seeded random sample encoded once as float columns, and says the sample size it used.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from apps.datasets.inference import infer_schema, with_string_names
from apps.datasets.profiling.anomalies import anomaly_section, multicollinearity_section, variance_inflation_factors
from apps.datasets.profiling.base import REPORT_VERSION, Context, ProfileConfig, Progress, timed, to_jsonable
from apps.datasets.profiling.columns import column_sections
from apps.datasets.profiling.correlations import correlation_section, encode_sample
from apps.datasets.profiling.summary import summary_section
from apps.datasets.profiling.target import leakage_section, quick_model_section, target_section
from apps.datasets.profiling.warnings import report_warnings

__all__ = ["REPORT_VERSION", "ProfileConfig", "profile_dataframe", "to_jsonable", "variance_inflation_factors"]


# --------------------------------------------------------------------------------------------------- entry point
def profile_dataframe(
    df: pd.DataFrame,
    *,
    target: str | None = None,
    schema: list[dict[str, Any]] | None = None,
    progress: Progress | None = None,
    seed: int = 0,
    config: ProfileConfig | None = None,
) -> dict[str, Any]:
    """Profile ``df``; ``schema`` is the list from :func:`apps.datasets.inference.infer_schema` (inferred if None).

    Returns a JSON-serialisable dict (no numpy scalars; NaN and infinities as None).
    """
    df = with_string_names(df)
    if target is not None and target not in df.columns:
        raise ValueError(f"Target column {target!r} is not in the data")
    config = config or ProfileConfig()
    started = time.perf_counter()
    report_progress = progress or (lambda _f, _m: None)
    report_progress(0.0, "Reading the schema")
    schema = schema if schema is not None else infer_schema(df, seed=seed)
    ctx = Context(
        df=df, schema={e["name"]: e for e in schema}, config=config, seed=seed, target=target, progress=report_progress
    )
    report: dict[str, Any] = {
        "version": REPORT_VERSION,
        "generated_at": datetime.now(UTC).isoformat(),
        "seed": seed,
        "target": None,
        "leakage": None,
        "quick_model": None,
    }
    report["summary"] = timed(ctx, "summary", lambda: summary_section(ctx))
    ctx.progress(0.1, "Profiling columns")
    report["columns"] = timed(ctx, "columns", lambda: column_sections(ctx, 0.1, 0.55))
    ctx.progress(0.55, "Sampling rows")
    timed(ctx, "sample", lambda: encode_sample(ctx))
    ctx.progress(0.6, "Correlations")
    report["correlations"] = timed(ctx, "correlations", lambda: correlation_section(ctx))
    if target is not None:
        ctx.progress(0.7, "Target analysis")
        report["target"] = timed(ctx, "target", lambda: target_section(ctx))
        ctx.progress(0.72, "Target leakage")
        report["leakage"] = timed(ctx, "leakage", lambda: leakage_section(ctx, report["target"]))
        ctx.progress(0.78, "Quick model")
        report["quick_model"] = timed(ctx, "quick_model", lambda: quick_model_section(ctx, report["target"]))
    ctx.progress(0.9, "Anomalous rows")
    report["anomalies"] = timed(ctx, "anomalies", lambda: anomaly_section(ctx))
    ctx.progress(0.95, "Multicollinearity")
    report["multicollinearity"] = timed(ctx, "multicollinearity", lambda: multicollinearity_section(ctx))
    report["warnings"] = report_warnings(ctx, report)
    ctx.timings["total"] = time.perf_counter() - started
    report["timings"] = ctx.timings
    ctx.progress(1.0, "Done")
    return to_jsonable(report)
