"""apps/core/keys.py: the one hash of API tokens, invitation tokens and endpoint keys (tests/accounts/test_tokens.py and
tests/endpoints/test_api.py check the rows store it)."""

from __future__ import annotations

from apps.core.keys import key_hash


def test_key_hash_is_the_hex_sha256_of_the_key() -> None:
    assert key_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert key_hash("atl_x") != key_hash("atl_y") and len(key_hash("")) == 64
