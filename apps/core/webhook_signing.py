"""Signatures of outgoing webhooks, and the check a receiver makes (plain Python, no Django: a receiver may copy
this file).

Every delivery carries

    X-Atelier-Timestamp: <unix seconds>
    X-Atelier-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<unix seconds>.<raw body>">

keyed with the subscriber's webhook secret. While a rotated secret is in its grace period the header holds one
`v1=` per secret (the new one first), so receivers still holding the old secret keep verifying. A receiver checks
the signature over the raw bytes it received (before any JSON parsing) and refuses timestamps older than a few
minutes, so a captured delivery cannot be replayed later. See docs/webhooks.md.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable

SIGNATURE_HEADER = "X-Atelier-Signature"
TIMESTAMP_HEADER = "X-Atelier-Timestamp"
SCHEME = "v1"
SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE_S = 300


def generate_secret() -> str:
    """A new webhook secret: 32 random bytes, URL-safe, with a recognisable prefix."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def compute(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of "<timestamp>.<body>" keyed with `secret`."""
    message = str(int(timestamp)).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secrets_: Iterable[str], timestamp: int, body: bytes) -> str:
    """`t=<ts>,v1=<hex>[,v1=<hex>…]`: one signature per secret given (the current one first)."""
    parts = [f"t={int(timestamp)}"]
    parts += [f"{SCHEME}={compute(secret, timestamp, body)}" for secret in secrets_ if secret]
    return ",".join(parts)


def parse_header(header: str) -> tuple[int | None, list[str]]:
    """(timestamp, [v1 signatures]) of a signature header; (None, []) for anything malformed."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in str(header or "").split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return None, []
        elif key == SCHEME:
            signatures.append(value.strip())
    return timestamp, signatures


def verify_signature(
    secret: str, header: str, body: bytes, tolerance: float = DEFAULT_TOLERANCE_S, now: float | None = None
) -> bool:
    """True when `header` (the X-Atelier-Signature value) holds a v1 signature of `body` (the raw bytes received)
    made with `secret`, and its timestamp is within `tolerance` seconds of `now` (default: the current time).
    Compares in constant time. False for a wrong secret, a changed body, a malformed header or a stale timestamp."""
    timestamp, signatures = parse_header(header)
    if timestamp is None or not signatures or not secret:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = compute(secret, timestamp, body if isinstance(body, bytes) else bytes(body))
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)
