"""Request counters and latency histograms aggregated in memory per (endpoint, variant, minute), drained
periodically into EndpointMetric rows (no Django here). A request refused for its key (401/403) is counted as
`rejected`, apart from the invocations and their errors: a caller with a bad key says nothing about the endpoint's
health. Histograms over fixed log-spaced buckets merge by
addition, so p50/p99 stay right when several serving processes write the same minute."""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field
from typing import Any

# Upper bounds in milliseconds: 0.25 ms × 1.25^i, up to about 130 s; one more bucket holds anything slower.
BUCKETS_MS: list[float] = [round(0.25 * 1.25**i, 4) for i in range(60)]
N_BUCKETS = len(BUCKETS_MS) + 1
REJECTED_STATUSES = (401, 403)  # no key, a wrong, revoked or expired key, or another endpoint's


def bucket_of(latency_ms: float) -> int:
    return bisect.bisect_left(BUCKETS_MS, latency_ms)


def percentile(hist: list[int], q: float) -> float | None:
    """The q-quantile (0..1) of a bucket histogram: the geometric middle of the bucket it falls in."""
    total = sum(hist)
    if total <= 0:
        return None
    rank = q * total
    seen = 0
    for i, count in enumerate(hist):
        seen += count
        if seen >= rank and count:
            upper = BUCKETS_MS[i] if i < len(BUCKETS_MS) else BUCKETS_MS[-1] * 1.25
            lower = BUCKETS_MS[i - 1] if i > 0 else 0.0
            return round((lower * upper) ** 0.5 if lower else upper / 2, 3)
    return BUCKETS_MS[-1]


def merge_hist(a: list[int], b: list[int]) -> list[int]:
    out = list(a) + [0] * max(0, N_BUCKETS - len(a))
    for i, v in enumerate(b[:N_BUCKETS]):
        out[i] += int(v)
    return out


@dataclass
class Counts:
    invocations: int = 0
    client_errors: int = 0
    server_errors: int = 0
    latency_sum_ms: float = 0.0
    latency_max_ms: float = 0.0
    hist: list[int] = field(default_factory=lambda: [0] * N_BUCKETS)
    captured: int = 0
    capture_dropped: int = 0
    rejected: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "invocations": self.invocations,
            "client_errors": self.client_errors,
            "server_errors": self.server_errors,
            "latency_sum_ms": self.latency_sum_ms,
            "latency_max_ms": self.latency_max_ms,
            "latency_hist": list(self.hist),
            "captured": self.captured,
            "capture_dropped": self.capture_dropped,
            "rejected": self.rejected,
        }


class MetricsBuffer:
    """Thread-safe; `record` is a few dictionary operations under a lock (no I/O)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[tuple[int, str, int], Counts] = {}

    def _counts(self, endpoint_id: int, variant: str, epoch_s: float) -> Counts:
        key = (endpoint_id, variant, int(epoch_s // 60) * 60)
        counts = self._data.get(key)
        if counts is None:
            counts = self._data[key] = Counts()
        return counts

    def record(self, endpoint_id: int, variant: str, status: int, latency_ms: float, epoch_s: float) -> None:
        with self._lock:
            c = self._counts(endpoint_id, variant, epoch_s)
            if status in REJECTED_STATUSES:
                c.rejected += 1
                return
            c.invocations += 1
            if 400 <= status < 500:
                c.client_errors += 1
            elif status >= 500:
                c.server_errors += 1
            c.latency_sum_ms += latency_ms
            c.latency_max_ms = max(c.latency_max_ms, latency_ms)
            c.hist[bucket_of(latency_ms)] += 1

    def record_capture(self, endpoint_id: int, variant: str, epoch_s: float, *, dropped: bool) -> None:
        with self._lock:
            c = self._counts(endpoint_id, variant, epoch_s)
            if dropped:
                c.capture_dropped += 1
            else:
                c.captured += 1

    def drain(self) -> list[tuple[int, str, int, Counts]]:
        with self._lock:
            data, self._data = self._data, {}
        return [(e, v, m, c) for (e, v, m), c in data.items()]

    def restore(self, entries: list[tuple[int, str, int, Counts]]) -> None:
        """Put drained entries back (the database was unavailable); merged with anything recorded since."""
        with self._lock:
            for endpoint_id, variant, minute, counts in entries:
                key = (endpoint_id, variant, minute)
                mine = self._data.get(key)
                if mine is None:
                    self._data[key] = counts
                    continue
                mine.invocations += counts.invocations
                mine.client_errors += counts.client_errors
                mine.server_errors += counts.server_errors
                mine.latency_sum_ms += counts.latency_sum_ms
                mine.latency_max_ms = max(mine.latency_max_ms, counts.latency_max_ms)
                mine.hist = merge_hist(mine.hist, counts.hist)
                mine.captured += counts.captured
                mine.capture_dropped += counts.capture_dropped
                mine.rejected += counts.rejected
