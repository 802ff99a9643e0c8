"""The webhook signature (apps/core/webhook_signing.py): what the sender writes and what a receiver checks, without
Django."""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path

import pytest

from apps.core.webhook_signing import compute, generate_secret, parse_header, signature_header, verify_signature

SECRET = "whsec_test-secret"
BODY = b'{"status":"succeeded","rows":3}'
NOW = 1_800_000_000


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert compute(SECRET, NOW, BODY) == expected
    assert signature_header([SECRET], NOW, BODY) == f"t={NOW},v1={expected}"


def test_verify_accepts_the_right_secret_within_tolerance_only() -> None:
    header = signature_header([SECRET], NOW, BODY)
    assert verify_signature(SECRET, header, BODY, tolerance=300, now=NOW + 299)
    assert verify_signature(SECRET, header, BODY, tolerance=300, now=NOW - 299), "a receiver's clock a bit behind"
    assert not verify_signature(SECRET, header, BODY, tolerance=300, now=NOW + 301), "replayed later"
    assert not verify_signature("whsec_other", header, BODY, now=NOW)
    assert not verify_signature(SECRET, header, BODY.replace(b"3", b"4"), now=NOW)
    assert not verify_signature("", header, BODY, now=NOW)


@pytest.mark.parametrize(
    "header",
    ["", "garbage", "t=abc,v1=00", f"v1={'0' * 64}", f"t={NOW}", f"t={NOW},v0=" + "0" * 64, f"t={NOW},v1=" + "0" * 64],
)
def test_malformed_or_forged_headers_fail(header: str) -> None:
    assert not verify_signature(SECRET, header, BODY, now=NOW)


def test_any_of_several_signatures_may_match_during_a_rotation() -> None:
    new = generate_secret()
    header = signature_header([new, SECRET], NOW, BODY)
    assert parse_header(header)[0] == NOW and len(parse_header(header)[1]) == 2
    assert verify_signature(new, header, BODY, now=NOW) and verify_signature(SECRET, header, BODY, now=NOW)


def test_secrets_are_random_and_prefixed() -> None:
    a, b = generate_secret(), generate_secret()
    assert a != b and a.startswith("whsec_") and len(a) >= 48


def test_the_receiver_check_in_the_docs_agrees() -> None:
    """docs/webhooks.md shows a stand-alone verify_signature for receivers: it must accept what we send."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
    code = text.split("```python\n")[1].split("```")[0]
    namespace: dict = {}
    exec(compile(code, "docs/webhooks.md", "exec"), namespace)  # our own documentation
    now = int(time.time())
    header = signature_header(["whsec_new", SECRET], now, BODY)
    assert namespace["verify_signature"](SECRET, header, BODY)
    assert not namespace["verify_signature"]("whsec_other", header, BODY)
    assert not namespace["verify_signature"](SECRET, signature_header([SECRET], now - 3600, BODY), BODY)
