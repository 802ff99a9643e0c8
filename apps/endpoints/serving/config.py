"""What a serving process knows about endpoints: an immutable snapshot read from the database in three queries
(endpoints, their variants with the model versions and artifacts, the hashes of active keys), replaced as a whole.

A variant whose model version is no longer Approved is left out of the snapshot: an endpoint never serves a version
that lost its approval (with no variant left it answers 503)."""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from django.db.models import Prefetch, Q
from django.utils import timezone

from apps.core.keys import key_hash
from apps.endpoints.choices import EndpointStatus, EndpointType
from apps.endpoints.models import Endpoint, EndpointKey, EndpointVariant
from apps.registry.choices import ApprovalStatus


@dataclass(frozen=True)
class VariantConfig:
    name: str
    version_id: int
    weight: float
    version: Any  # a ModelVersion with its artifact loaded (no database access needed to load the model)
    input_names: tuple[str, ...]
    version_label: str


@dataclass(frozen=True)
class EndpointConfig:
    id: int
    name: str
    project_id: int
    type: str
    config_version: int
    timeout_s: float | None
    idle_timeout_s: int
    max_concurrency: int
    capture_percent: float
    webhook_url: str
    variants: tuple[VariantConfig, ...]
    key_hashes: frozenset[str]
    cumulative: tuple[float, ...] = field(default=())

    def choose(self, r: float) -> VariantConfig:
        """The variant for a uniform random number r in [0, 1): each gets its weight's share of the traffic."""
        if len(self.variants) == 1:
            return self.variants[0]
        total = self.cumulative[-1]
        return self.variants[min(bisect.bisect_right(self.cumulative, r * total), len(self.variants) - 1)]

    def variant_named(self, name: str) -> VariantConfig | None:
        return next((v for v in self.variants if v.name == name), None)

    def key_ok(self, key: str) -> bool:
        return bool(key) and key_hash(key) in self.key_hashes


@dataclass(frozen=True)
class Snapshot:
    endpoints: dict[str, EndpointConfig]
    loaded_at: float  # time.monotonic()

    def version_ids(self, types: tuple[str, ...] | None = None) -> set[int]:
        return {v.version_id for e in self.endpoints.values() if types is None or e.type in types for v in e.variants}


EMPTY = Snapshot(endpoints={}, loaded_at=0.0)


def load_snapshot() -> Snapshot:
    variants = (
        EndpointVariant.objects.select_related("model_version__artifact", "model_version__group")
        .filter(model_version__approval_status=ApprovalStatus.APPROVED, weight__gt=0)
        .order_by("position", "id")
    )
    endpoints = list(
        Endpoint.objects.filter(status=EndpointStatus.IN_SERVICE).prefetch_related(Prefetch("variants", variants))
    )
    now = timezone.now()
    hashes: dict[int, set[str]] = {}
    for endpoint_id, digest in EndpointKey.objects.filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now),
        revoked_at__isnull=True,
        endpoint__in=[e.pk for e in endpoints],
    ).values_list("endpoint_id", "key_hash"):
        hashes.setdefault(endpoint_id, set()).add(digest)
    out: dict[str, EndpointConfig] = {}
    for e in endpoints:
        vs = tuple(
            VariantConfig(
                name=v.name,
                version_id=v.model_version_id,
                weight=float(v.weight),
                version=v.model_version,
                input_names=tuple(str(i["name"]) for i in (v.model_version.signature or {}).get("inputs") or []),
                version_label=str(v.model_version),
            )
            for v in e.variants.all()
        )
        out[e.name] = EndpointConfig(
            id=e.pk,
            name=e.name,
            project_id=e.project_id,
            type=e.type,
            config_version=e.config_version,
            timeout_s=e.timeout_s,
            idle_timeout_s=int(e.idle_timeout_s),
            max_concurrency=int(e.max_concurrency),
            capture_percent=float(e.capture_percent),
            webhook_url=e.webhook_url,
            variants=vs,
            key_hashes=frozenset(hashes.get(e.pk, set())),
            cumulative=tuple(accumulate(v.weight for v in vs)),
        )
    return Snapshot(endpoints=out, loaded_at=time.monotonic())


# Loaded before a new snapshot is used (zero-downtime updates); serverless loads on the first request, async in the
# worker that runs the request.
PRELOADED_TYPES = (EndpointType.REALTIME.value,)
