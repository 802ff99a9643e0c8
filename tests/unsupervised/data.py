"""Small frames for the built-in algorithm tests, and a helper that stores one as a dataset version."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from apps.core.tempfiles import temp_path
from apps.datasets import services as data_services
from apps.datasets import storage as data_files
from apps.datasets.models import DatasetVersion

BLOB_CENTRES = np.array([[0, 0, 0], [8, 8, 0], [0, 8, 8]])


def blobs_frame(n: int = 150, seed: int = 0, outliers: int = 0) -> pd.DataFrame:
    """Three well separated blobs in columns a, b, c, a label column and an id; the first `outliers` rows are
    moved far away from every blob."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    X = BLOB_CENTRES[labels] + rng.normal(size=(n, 3))
    for i in range(outliers):
        X[i] = [60 + 10 * i, -60 - 10 * i, 60]
    frame = pd.DataFrame(X.round(4), columns=["a", "b", "c"])
    frame["kind"] = pd.array(np.where(labels == 0, "x", "y"), "string")
    frame["row_id"] = np.arange(1000, 1000 + n)
    return frame


def make_version(project: Any, user: Any, frame: pd.DataFrame, name: str = "points") -> DatasetVersion:
    with temp_path(".parquet") as tmp:
        data_files.write_frame(frame, tmp)
        return data_services.dataset_version_create(
            project_id=project.pk,
            dataset_name=name,
            local_file=tmp,
            kind="import",
            source={"kind": "import", "filename": f"{name}.csv"},
            created_by_id=user.pk if user else None,
        )
