"""Small frames for the built-in algorithm tests, and a helper that stores one as a dataset version."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from apps.datasets.models import DatasetVersion
from tests.factories import DatasetVersionFactory

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
    return DatasetVersionFactory(project=project, created_by=user, frame=frame, name=name)
