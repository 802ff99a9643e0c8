"""The S3 backend (STORAGE_BACKEND=s3, django-storages) against moto's in-process S3: files round-trip, and a page
of a dataset version downloads the Parquet footer and the row groups it needs, not the whole file."""

from __future__ import annotations

import io

import moto
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.files.base import ContentFile


@pytest.fixture
def s3(settings):  # type: ignore[no-untyped-def]
    import boto3
    from django.core.files.storage import storages

    with moto.mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="atelier-test")
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {
                    "bucket_name": "atelier-test",
                    "region_name": "us-east-1",
                    "access_key": "test",
                    "secret_key": "test",
                    "default_acl": None,
                    "file_overwrite": False,
                },
            },
        }
        storages._storages.pop("default", None)  # the setting_changed signal resets it too; be sure
        from apps.core.storage import storage

        assert storage().__class__.__name__ == "S3Storage"  # (the lazy default storage, resolved)
        yield
    storages._storages.pop("default", None)


def parquet_bytes(rows: int, group_rows: int) -> bytes:
    frame = pd.DataFrame(
        {"i": np.arange(rows), "x": np.random.default_rng(0).normal(size=rows), "s": [f"row {i}" for i in range(rows)]}
    )
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer, row_group_size=group_rows)
    return buffer.getvalue()


def test_a_page_reads_only_the_row_groups_it_needs(s3, monkeypatch) -> None:
    from apps.core import storage as core_storage
    from apps.core.storage import RangeReader, storage
    from apps.datasets import storage as files

    data = parquet_bytes(200_000, 10_000)
    name = storage().save("projects/1/datasets/big.parquet", ContentFile(data))
    readers: list[RangeReader] = []
    real_init = RangeReader.__init__

    def tracking_init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        real_init(self, *args, **kwargs)
        readers.append(self)

    monkeypatch.setattr(core_storage.RangeReader, "__init__", tracking_init)
    page = files.read_rows(name, 123_450, 20)
    assert page.column("i").to_pylist() == list(range(123_450, 123_470))
    assert page.column("s").to_pylist()[0] == "row 123450"
    fetched = sum(r.fetched for r in readers)
    assert 0 < fetched < len(data) / 5, (fetched, len(data))  # footer + one row group of twenty
    head = files.read_head(name, 5)
    assert head["i"].tolist() == [0, 1, 2, 3, 4]


def test_files_round_trip_and_list(s3) -> None:
    from apps.core.storage import list_dir, storage, walk_files

    store = storage()
    name = store.save("projects/7/notes/a.txt", ContentFile(b"hello"))
    store.save("projects/7/notes/deeper/b.txt", ContentFile(b"world!"))
    with store.open(name, "rb") as handle:
        assert handle.read() == b"hello"
    assert list_dir("projects/7/notes") == (["deeper"], ["a.txt"])
    assert sorted(walk_files("projects/7")) == [("projects/7/notes/a.txt", 5), ("projects/7/notes/deeper/b.txt", 6)]
    store.delete(name)
    assert not store.exists(name)
