"""Secrets we hand out once (API tokens, endpoint keys, invitation links) are stored only as this hash.

The keys are 32 random bytes (`secrets.token_urlsafe(32)`), so a plain SHA-256 is enough: there is nothing to
guess that a slow or salted hash would protect, and a lookup by hash stays one indexed query."""

from __future__ import annotations

import hashlib


def key_hash(key: str) -> str:
    """The hex SHA-256 of a key, as stored in `key_hash` / `token_hash` columns."""
    return hashlib.sha256(key.encode()).hexdigest()
