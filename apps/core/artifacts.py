"""Signed artifacts: files our own workers write (fitted models, reports) and load back later.

Every artifact carries the SHA-256 of its bytes and an HMAC over (kind, path, digest, size) keyed
by a secret only the servers know. Before anything is loaded, both are checked; a file changed on
disk or in the bucket, or a row whose digest was edited, is refused. This is what makes it safe to
deserialise our own model files: a user can never get bytes of their choosing past the HMAC, and
files users upload are never loaded this way (they go through skops/ONNX checks instead).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File

from apps.core.models import Artifact
from apps.core.storage import project_path, storage
from apps.core.tempfiles import temp_path

CHUNK = 1 << 20


class ArtifactTampered(Exception):
    """The artifact's bytes or metadata do not match its signature: it is not loaded."""


def _signing_key() -> bytes:
    explicit = getattr(settings, "ARTIFACT_SIGNING_KEY", "")
    if explicit:
        return explicit.encode()
    # Derived, so that rotating SECRET_KEY invalidates artifacts unless ARTIFACT_SIGNING_KEY pins a key.
    return hmac.new(settings.SECRET_KEY.encode(), b"atelier-artifact-signing-v1", hashlib.sha256).digest()


def signature(kind: str, path: str, sha256: str, size: int) -> str:
    """The HMAC that vouches for a file of this kind, name, content digest and size (artifacts, compiled models)."""
    message = f"{kind}\n{path}\n{sha256}\n{size}".encode()
    return hmac.new(_signing_key(), message, hashlib.sha256).hexdigest()


def _digest_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def artifact_store(
    *,
    project_id: int,
    kind: str,
    local_path: str | os.PathLike[str],
    filename: str,
    created_by_id: int | None = None,
    meta: dict[str, Any] | None = None,
) -> Artifact:
    """Copy a local file into project storage under a fresh name and record its signature."""
    sha256, size = _digest_file(local_path)
    target = project_path(project_id, "artifacts", kind.replace(".", "-"), uuid.uuid4().hex, filename)
    with open(local_path, "rb") as handle:
        saved = storage().save(target, File(handle, name=filename))
    return Artifact.objects.create(
        project_id=project_id,
        kind=kind,
        path=saved,
        sha256=sha256,
        size=size,
        signature=signature(kind, saved, sha256, size),
        created_by_id=created_by_id,
        meta=meta or {},
    )


def artifact_verify_metadata(artifact: Artifact) -> None:
    expected = signature(artifact.kind, artifact.path, artifact.sha256, artifact.size)
    if not hmac.compare_digest(expected, artifact.signature):
        raise ArtifactTampered(f"Artifact {artifact.pk}: its signature does not match its record; refusing to load it.")


@contextmanager
def artifact_local_copy(artifact: Artifact) -> Iterator[Path]:
    """A verified local copy of the artifact's bytes (checked while copying), removed afterwards."""
    artifact_verify_metadata(artifact)
    digest, size = hashlib.sha256(), 0
    with temp_path(prefix="artifact-") as tmp_name:
        with open(tmp_name, "wb") as out, storage().open(artifact.path, "rb") as src:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        if size != artifact.size or not hmac.compare_digest(digest.hexdigest(), artifact.sha256):
            raise ArtifactTampered(
                f"Artifact {artifact.pk}: its bytes changed since our worker wrote them (SHA-256 mismatch); "
                f"refusing to load it."
            )
        yield Path(tmp_name)


def artifact_read_bytes(artifact: Artifact) -> bytes:
    with artifact_local_copy(artifact) as path:
        return path.read_bytes()
