"""Endpoint reads scoped by user (a member sees the endpoints of their projects; admins all), the metrics the
endpoint page charts, examples for the "try it" box, and the asynchronous request lookups of the serving path."""

from __future__ import annotations

import math
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet, Sum
from django.utils import timezone

from apps.accounts.models import Project, User
from apps.accounts.selectors import object_get_for_user, scope_to_user
from apps.endpoints.choices import AsyncStatus
from apps.endpoints.models import AsyncInvocation, BatchTransform, Endpoint, EndpointKey, EndpointMetric
from apps.endpoints.serving.metrics import N_BUCKETS, merge_hist, percentile
from apps.registry.choices import ApprovalStatus
from apps.registry.models import ModelVersion

EXAMPLE_VALUES = {
    "double": 0.0,
    "float": 0.0,
    "integer": 0,
    "long": 0,
    "boolean": False,
    "datetime": "2024-01-01",
    "string": "text",
}


def endpoint_list_for_user(*, user: User) -> QuerySet[Endpoint]:
    qs = Endpoint.objects.select_related("project", "created_by").prefetch_related("variants__model_version__group")
    return scope_to_user(qs, user=user)


def endpoint_get_for_user(*, user: User, pk: object) -> Endpoint:
    return object_get_for_user(endpoint_list_for_user(user=user), user=user, pk=pk)


def endpoint_key_get_for_user(*, user: User, pk: object) -> EndpointKey:
    qs = EndpointKey.objects.select_related("endpoint")
    return object_get_for_user(qs, user=user, pk=pk, project_field="endpoint__project")


def endpoint_keys(*, endpoint: Endpoint) -> QuerySet[EndpointKey]:
    return endpoint.keys.select_related("created_by").order_by("-created_at", "-id")


def endpoint_webhook_secret(*, endpoint: Endpoint) -> dict[str, Any]:
    """{secret, previous_valid_until}: the signing secret, and until when the previous one still signs (or None)."""
    until = None
    if endpoint.webhook_secret_previous and endpoint.webhook_secret_rotated_at:
        until = endpoint.webhook_secret_rotated_at + timedelta(seconds=float(settings.WEBHOOK_SECRET_GRACE_S))
        if until <= timezone.now():
            until = None
    return {"secret": endpoint.webhook_secret, "previous_valid_until": until}


def model_version_get_for_user(*, user: User, pk: object) -> ModelVersion:
    qs = ModelVersion.objects.select_related("group", "artifact", "project")
    return object_get_for_user(qs, user=user, pk=pk)


def approved_versions_for_user(*, user: User, project: Project | None = None) -> QuerySet[ModelVersion]:
    qs = scope_to_user(ModelVersion.objects.select_related("group", "project"), user=user).filter(
        approval_status=ApprovalStatus.APPROVED
    )
    if project is not None:
        qs = qs.filter(project=project)
    return qs.order_by("group__name", "-version")


def batch_transform_list_for_user(*, user: User) -> QuerySet[BatchTransform]:
    qs = BatchTransform.objects.select_related(
        "project", "job", "model_version__group", "dataset_version__dataset", "output_version__dataset", "created_by"
    )
    return scope_to_user(qs, user=user)


def batch_transform_get_for_user(*, user: User, pk: object) -> BatchTransform:
    return object_get_for_user(batch_transform_list_for_user(user=user), user=user, pk=pk)


# --- metrics ------------------------------------------------------------------------------------------------------


def _rate(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 2) if whole else None


def endpoint_metrics(*, endpoint: Endpoint, minutes: int = 60) -> dict[str, Any]:
    """Per-minute series over the last `minutes` (every minute present, empty ones as 0 / null) and totals:
    {minutes, invocations: {variant: [...]}, error_rate, client_error_rate, server_error_rate, rejected, p50, p99,
    totals: {invocations, errors, client_errors, server_errors, rejected, error_rate, client_error_rate,
    server_error_rate, p50, p99}}. Rates are % of invocations; requests refused for their key (401/403) are
    `rejected`, neither invocations nor errors."""
    now = timezone.now().replace(second=0, microsecond=0)
    start = now - timedelta(minutes=minutes - 1)
    rows = list(EndpointMetric.objects.filter(endpoint=endpoint, minute__gte=start).order_by("minute"))
    axis = [start + timedelta(minutes=i) for i in range(minutes)]
    index = {m: i for i, m in enumerate(axis)}
    per_variant: dict[str, list[int]] = {}
    calls = [0] * minutes
    client = [0] * minutes
    server = [0] * minutes
    rejected = [0] * minutes
    hists: list[list[int]] = [[0] * N_BUCKETS for _ in axis]
    total_hist = [0] * N_BUCKETS
    for row in rows:
        i = index.get(row.minute.replace(second=0, microsecond=0))
        if i is None:
            continue
        label = row.variant or "(unrouted)"
        if row.invocations or label in per_variant:
            per_variant.setdefault(label, [0] * minutes)[i] += row.invocations
        calls[i] += row.invocations
        client[i] += row.client_errors
        server[i] += row.server_errors
        rejected[i] += row.rejected
        hists[i] = merge_hist(hists[i], row.latency_hist or [])
        total_hist = merge_hist(total_hist, row.latency_hist or [])
    sums = EndpointMetric.objects.filter(endpoint=endpoint).aggregate(
        invocations=Sum("invocations"),
        client=Sum("client_errors"),
        server=Sum("server_errors"),
        rejected=Sum("rejected"),
    )
    total_calls, total_client, total_server = (int(sums[k] or 0) for k in ("invocations", "client", "server"))
    return {
        "minutes": [m.isoformat() for m in axis],
        "invocations": per_variant,
        "error_rate": [_rate(c + s, n) for c, s, n in zip(client, server, calls, strict=True)],
        "client_error_rate": [_rate(c, n) for c, n in zip(client, calls, strict=True)],
        "server_error_rate": [_rate(s, n) for s, n in zip(server, calls, strict=True)],
        "rejected": rejected,
        "p50": [percentile(h, 0.5) for h in hists],
        "p99": [percentile(h, 0.99) for h in hists],
        "totals": {
            "invocations": total_calls,
            "errors": total_client + total_server,
            "client_errors": total_client,
            "server_errors": total_server,
            "rejected": int(sums["rejected"] or 0),
            "error_rate": _rate(total_client + total_server, total_calls),
            "client_error_rate": _rate(total_client, total_calls),
            "server_error_rate": _rate(total_server, total_calls),
            "recent_invocations": sum(calls),
            "p50": percentile(total_hist, 0.5),
            "p99": percentile(total_hist, 0.99),
        },
    }


# --- examples for the "try it" box and the snippets -----------------------------------------------------------------


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def example_records(*, version: ModelVersion | None, rows: int = 2) -> list[dict[str, Any]]:
    """Rows for a `dataframe_records` example: the first rows of the version's training data when it is known,
    else a placeholder per signature type."""
    if version is None:
        return []
    inputs = (version.signature or {}).get("inputs") or []
    names = [str(i["name"]) for i in inputs]
    if version.dataset_version is not None:
        from apps.datasets import selectors as data_selectors

        try:
            frame = data_selectors.version_frame(version=version.dataset_version, max_rows=rows, as_written=True)
            if all(n in frame.columns for n in names) and len(frame):
                return [{n: _plain(r[n]) for n in names} for r in frame[names].to_dict("records")]
        except (OSError, ValueError):
            pass
    return [{str(i["name"]): EXAMPLE_VALUES.get(str(i.get("type")), "text") for i in inputs}]


# --- asynchronous requests (called by the serving path, in a thread) ---------------------------------------------


def _async_get(endpoint_id: int, inference_id: str) -> AsyncInvocation | None:
    try:
        wanted = uuid.UUID(inference_id)
    except ValueError:
        return None
    return (
        AsyncInvocation.objects.select_related("endpoint").filter(endpoint_id=endpoint_id, inference_id=wanted).first()
    )


def async_invocation_status(*, endpoint_id: int, inference_id: str) -> dict[str, Any] | None:
    from apps.endpoints.services import async_status_payload

    invocation = _async_get(endpoint_id, inference_id)
    return async_status_payload(invocation) if invocation is not None else None


def async_invocation_output(*, endpoint_id: int, inference_id: str) -> str | None:
    invocation = _async_get(endpoint_id, inference_id)
    if invocation is None or invocation.status != AsyncStatus.SUCCEEDED or not invocation.output_path:
        return None
    return invocation.output_path


def async_invocation_list(*, endpoint: Endpoint, limit: int = 20) -> list[AsyncInvocation]:
    return list(endpoint.async_invocations.select_related("job").order_by("-created_at", "-id")[:limit])
