"""apps/core/storage.py: user-supplied path parts never escape their project's root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from apps.core.storage import UnsafePath, check_path_part, project_path, project_root, storage, walk_files

UNSAFE = {
    "dot dot": "..",
    "dot": ".",
    "parent then file": "../secret.txt",
    "deep parent": "a/../../b",
    "trailing parent": "a/..",
    "encoded dots": "%2e%2e",
    "encoded dots upper": "%2E%2E/x",
    "double encoded dots": "%252e%252e",
    "encoded slash": "a%2fb",
    "encoded slash upper": "..%2F..%2Fetc",
    "encoded backslash": "a%5cb",
    "encoded nul": "a%00b",
    "absolute": "/etc/passwd",
    "absolute nested": "/projects/2/data.csv",
    "backslash absolute": "\\windows\\system32",
    "backslash parent": "..\\secret.txt",
    "backslash deep parent": "a\\..\\..\\b",
    "unc path": "\\\\server\\share",
    "drive": "C:\\boot.ini",
    "drive slash": "c:/boot.ini",
    "file url": "file:///etc/passwd",
    "http url": "http://example.com/x",
    "s3 url": "s3://bucket/key",
    "fragment": "a#b",
    "query": "a?b=1",
    "home": "~",
    "home dir": "~/x",
    "other home": "~root/.ssh/id_rsa",
    "empty": "",
    "empty segment": "a//b",
    "trailing slash": "a/",
    "hidden": ".env",
    "nul": "a\x00b",
    "newline": "a\nb",
    "tab": "a\tb",
    "glob": "*.csv",
    "colon": "a:b",
    "percent": "100%",
    "fullwidth dots": "\uff0e\uff0e",
    "unicode slash": "a\u2215b",
    "too long": "a" * 201,
}
SAFE = {
    "data.csv": "data.csv",
    "my file.parquet": "my file.parquet",
    "reports/2024/q1.csv": "reports/2024/q1.csv",
    "v1.2.3": "v1.2.3",
    "A-b_c d.txt": "A-b_c d.txt",
    "model..v2.onnx": "model..v2.onnx",  # dots inside a name are not traversal
    "a" * 200: "a" * 200,
}


@pytest.mark.parametrize("part", list(UNSAFE.values()), ids=list(UNSAFE))
def test_unsafe_parts_are_rejected(part: str) -> None:
    with pytest.raises(UnsafePath):
        check_path_part(part)
    with pytest.raises(UnsafePath):
        project_path(7, part)
    with pytest.raises(UnsafePath):
        project_path(7, "ok", part)


@pytest.mark.parametrize("value", [None, 12, b"data.csv", ["a"]])
def test_non_strings_are_rejected(value: object) -> None:
    with pytest.raises(UnsafePath):
        check_path_part(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(("part", "normalised"), list(SAFE.items()), ids=[k[:30] for k in SAFE])
def test_normal_names_are_accepted(part: str, normalised: str) -> None:
    assert check_path_part(part) == normalised
    assert project_path(7, part) == f"projects/7/{normalised}"


def test_parts_are_joined_under_the_project_root() -> None:
    assert project_root(3) == "projects/3"
    assert project_path(3, "datasets", "12", "v1.parquet") == "projects/3/datasets/12/v1.parquet"
    assert project_path(3) == "projects/3"


@pytest.mark.parametrize("project_id", ["../2", "2/..", "1 or 1=1", "", None])
def test_project_ids_must_be_integers(project_id: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        project_root(project_id)  # type: ignore[arg-type]


def test_resolved_paths_stay_under_the_media_root(settings) -> None:
    root = Path(settings.MEDIA_ROOT).resolve()
    for part in SAFE:
        resolved = Path(storage().path(project_path(5, part))).resolve()
        assert resolved.is_relative_to(root / "projects" / "5"), resolved


def test_walk_files_lists_a_projects_files(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    from django.core.files.storage import default_storage

    store = default_storage
    store.save(project_path(9, "a", "one.csv"), ContentFile(b"12345"))
    store.save(project_path(9, "top.txt"), ContentFile(b"xy"))
    store.save(project_path(10, "other.txt"), ContentFile(b"not mine"))
    assert sorted(walk_files(project_root(9))) == [("projects/9/a/one.csv", 5), ("projects/9/top.txt", 2)]
    assert list(walk_files(project_root(11))) == []
    assert os.path.exists(tmp_path / "projects" / "10" / "other.txt")
