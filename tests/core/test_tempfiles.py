"""apps/core/tempfiles.py: temp files are removed whatever happens; replace_into_place leaves the old file or the
whole new one, never half of it; save_into_place replaces a leftover."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from apps.core.storage import storage
from apps.core.tempfiles import replace_into_place, save_into_place, temp_dir, temp_path


def test_temp_path_is_removed_after_the_block_and_after_an_error() -> None:
    with temp_path(".csv", prefix="t-") as path:
        assert os.path.dirname(path) == temp_dir() and path.endswith(".csv") and os.path.getsize(path) == 0
        Path(path).write_text("a,b\n")
    assert not os.path.exists(path)
    with pytest.raises(RuntimeError), temp_path() as failed:
        raise RuntimeError("boom")
    assert not os.path.exists(failed)


def test_replace_into_place_swaps_in_the_whole_file(tmp_path: Path) -> None:
    dest = tmp_path / "sub" / "model.sig"
    with replace_into_place(dest) as tmp:
        assert tmp.parent == dest.parent and tmp != dest  # same folder: the rename is atomic
        tmp.write_text("new")
        assert not dest.exists()  # nothing is visible under the name until the block ends
    assert dest.read_text() == "new"
    assert list(dest.parent.iterdir()) == [dest]


def test_replace_into_place_keeps_the_old_file_when_the_writer_fails(tmp_path: Path) -> None:
    dest = tmp_path / "report.json"
    dest.write_text("old")
    with pytest.raises(ValueError), replace_into_place(dest) as tmp:
        tmp.write_text("half")
        raise ValueError("the writer failed")
    assert dest.read_text() == "old"
    assert list(tmp_path.iterdir()) == [dest]  # the temp file is gone


@pytest.mark.django_db
def test_save_into_place_moves_the_file_and_replaces_a_leftover(media: Path) -> None:
    name = "projects/1/test/out.txt"
    storage().save(name, ContentFile(b"leftover"))
    with temp_path(".txt") as local:
        Path(local).write_text("fresh")
        saved = save_into_place(local, name)
    assert saved == name
    with storage().open(name, "rb") as handle:
        assert handle.read() == b"fresh"
