"""Signed artifacts: the bytes and the record are both checked before anything is loaded."""

from __future__ import annotations

import pytest
from django.test import override_settings

from apps.core.artifacts import ArtifactTampered, artifact_local_copy, artifact_read_bytes, artifact_store
from apps.core.models import Artifact
from apps.core.storage import storage


@pytest.fixture
def artifact(project_a, ds_user, tmp_path):  # type: ignore[no-untyped-def]
    src = tmp_path / "model.bin"
    src.write_bytes(b"fitted pipeline bytes" * 100)
    return artifact_store(
        project_id=project_a.pk, kind="automl.model", local_path=src, filename="model.bin", created_by_id=ds_user.pk
    )


def test_roundtrip_and_location(artifact, project_a):
    assert artifact.path.startswith(f"projects/{project_a.pk}/artifacts/automl-model/")
    assert artifact.size == 2100 and len(artifact.sha256) == 64
    assert artifact_read_bytes(artifact) == b"fitted pipeline bytes" * 100


def test_bytes_changed_in_storage_are_refused(artifact):
    path = storage().path(artifact.path)
    with open(path, "r+b") as handle:
        handle.seek(5)
        handle.write(b"X")
    with pytest.raises(ArtifactTampered, match="SHA-256 mismatch"):
        artifact_read_bytes(artifact)


def test_record_edited_to_match_new_bytes_is_refused(artifact, tmp_path):
    """An attacker who can write both the file and the DB row still lacks the HMAC key."""
    import hashlib

    evil = b"not our model"
    with open(storage().path(artifact.path), "wb") as handle:
        handle.write(evil)
    Artifact.objects.filter(pk=artifact.pk).update(sha256=hashlib.sha256(evil).hexdigest(), size=len(evil))
    artifact.refresh_from_db()
    with pytest.raises(ArtifactTampered, match="signature does not match"):
        artifact_read_bytes(artifact)


def test_other_signing_key_is_refused(artifact):
    with override_settings(ARTIFACT_SIGNING_KEY="another-deployment"), pytest.raises(ArtifactTampered):
        artifact_read_bytes(artifact)


def test_local_copy_is_removed_after_use(artifact):
    with artifact_local_copy(artifact) as path:
        assert path.exists()
    assert not path.exists()
