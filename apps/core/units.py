"""Sizes for people."""

from __future__ import annotations


def human_bytes(n: float) -> str:
    """`512 bytes`, `1.5 KB`, `20.0 MB`, `3.2 GB` (binary units, as upload limits are set)."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"
