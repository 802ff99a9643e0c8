"""A 10^7-row version on the embedded default: the report reads only the columns it needs for the pre-training
metrics, samples the model part (seeded, uniform) and says the sample size; the job's peak memory stays bounded.
The file is written in row groups (as imports write them) so that the test's own data never sits in memory whole."""

from __future__ import annotations

import resource
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from apps.clarify import services
from apps.core.tempfiles import temp_path
from apps.datasets.services import dataset_version_create
from apps.datasets.storage import ROW_GROUP_SIZE
from apps.jobs.choices import JobStatus
from tests.factories import ModelVersionFactory

ROWS = 10_000_000
BATCH = ROW_GROUP_SIZE * 16
PEAK_BUDGET_MB = 2500  # the whole test process (measured: ~1.3 GB)
JOB_RISE_BUDGET_MB = 1200  # how far the job raises the process's peak (measured: ~540 MB)

pytestmark = pytest.mark.slow  # ~11-45 s (machine load): writing 10^7 rows and one report on them


def _write(path: str) -> None:
    rng = np.random.default_rng(0)
    schema = pa.schema(
        [
            ("x1", pa.float64()),
            ("x2", pa.float64()),
            ("colour", pa.string()),
            ("gender", pa.string()),
            ("region", pa.string()),
            ("noise", pa.string()),
            ("churn", pa.string()),
        ]
    )
    with pq.ParquetWriter(path, schema) as writer:
        done = 0
        while done < ROWS:
            n = min(BATCH, ROWS - done)
            x1, x2 = rng.normal(size=n), rng.normal(size=n)
            colour = rng.choice(np.array(["red", "green", "blue"], dtype=object), size=n)
            gender = rng.choice(np.array(["F", "M"], dtype=object), size=n, p=[0.35, 0.65])
            churn = np.where((x1 + 0.5 * x2 > 0.3) & ~((gender == "F") & (rng.random(n) < 0.2)), "yes", "no")
            table = pa.table(
                {
                    "x1": x1,
                    "x2": x2,
                    "colour": colour,
                    "gender": gender,
                    "region": rng.choice(np.array(["north", "south", "east"], dtype=object), size=n),
                    "noise": rng.choice(np.array(["a" * 40, "b" * 40], dtype=object), size=n),  # never read
                    "churn": churn.astype(object),
                },
                schema=schema,
            )
            writer.write_table(table, row_group_size=ROW_GROUP_SIZE)
            done += n


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_ten_million_rows_are_read_by_column_and_sampled_for_the_model(ds_user, project_a, media, run_job) -> None:
    started = time.monotonic()
    with temp_path(".parquet") as tmp:
        _write(str(tmp))
        version = dataset_version_create(
            project_id=project_a.pk,
            local_file=str(tmp),
            kind="import",
            source={"kind": "import", "filename": "big.csv"},
            dataset_name="big",
            created_by_id=ds_user.pk,
        )
    assert version.row_count == ROWS
    model_version = ModelVersionFactory(project=project_a, created_by=ds_user)
    config = {
        "label": "churn",
        "positive_label_values": ["yes"],
        "facets": [{"name": "gender", "values": ["F"]}],
        "group": "region",
        "explain": {"shap": False, "pdp_features": 0},
    }
    before = _peak_mb()
    report = services.report_start(
        project=project_a, created_by=ds_user, dataset_version=version, config=config, model_version=model_version
    )
    job = run_job(report.job)
    assert job.status == JobStatus.SUCCEEDED, (job.message, job.error[-2000:])
    report.refresh_from_db()
    sample = report.details["sample"]
    assert sample["data"] == {"rows_total": ROWS, "rows": ROWS, "sampled": False, "cap": 20_000_000, "seed": 0}
    assert sample["model"] == {"rows_total": ROWS, "rows": 100_000, "sampled": True, "cap": 100_000, "seed": 0}
    ci = report.analysis["pre_training_bias_metrics"]["facets"]["gender"][0]["metrics"]
    assert next(m for m in ci if m["name"] == "CI")["value"] == pytest.approx(0.3, abs=0.01)
    assert "100,000 of 10,000,000 rows" in services.report_html(report)
    peak, rise = _peak_mb(), _peak_mb() - before
    print(f"10^7 rows: {time.monotonic() - started:.1f} s, peak RSS {peak:.0f} MB (the job: +{rise:.0f} MB)")
    assert peak < PEAK_BUDGET_MB and rise < JOB_RISE_BUDGET_MB
