"""Fixtures for the Data Wrangler's Django tests (services, API, views, SQL, security). Nothing here is autouse:
the plain-module tests in this folder (readers, inference, profiling, transforms) do not see any of it."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.core.storage import project_root, walk_files
from apps.datasets.models import DatasetVersion
from tests.factories import DatasetVersionFactory


def frame_sales(rows: int = 30) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": list(range(1, rows + 1)),
            "region": [["north", "south", "east"][i % 3] for i in range(rows)],
            "price": [round(10 + i * 1.5, 2) if i % 7 else None for i in range(rows)],
            "qty": [i % 5 + 1 for i in range(rows)],
            "when": pd.date_range("2024-01-01", periods=rows, freq="D"),
        }
    )


def make_version(
    project: Any,
    frame: pd.DataFrame,
    name: str = "sales",
    user: Any = None,
    parents: tuple[DatasetVersion, ...] = (),
    kind: str = "import",
) -> DatasetVersion:
    """Store `frame` as the next version of dataset `name` (tests/factories.py: DatasetVersionFactory)."""
    return DatasetVersionFactory(project=project, created_by=user, frame=frame, name=name, kind=kind, parents=parents)


@pytest.fixture
def version_factory(media) -> Callable[..., DatasetVersion]:
    return make_version


def upload(name: str, content: bytes | str, content_type: str = "text/csv") -> SimpleUploadedFile:
    data = content.encode() if isinstance(content, str) else content
    return SimpleUploadedFile(name, data, content_type=content_type)


def csv_bytes(frame: pd.DataFrame, **kwargs: Any) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, **kwargs)
    return buffer.getvalue().encode()


def stored_files(project: Any) -> list[str]:
    """Every file under the project's storage folder (relative names)."""
    root = project_root(project.pk)
    return sorted(path[len(root) + 1 :] for path, _ in walk_files(root))
