"""Endpoint writes: create and update endpoints (only Approved model versions; MLOps engineers and admins), keys
(hashed at rest, shown once, revocable), metrics merged from serving processes, asynchronous invocations and batch
transforms (jobs)."""

from __future__ import annotations

import contextlib
import logging
import os
import random
import re
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apps.accounts import personas
from apps.accounts.models import Project, User
from apps.core import webhooks
from apps.core.keys import key_hash
from apps.core.selectors import webhook_latest_attempt
from apps.core.storage import list_dir, project_path, storage
from apps.core.tempfiles import save_into_place, temp_path
from apps.endpoints.choices import AsyncStatus, EndpointType
from apps.endpoints.models import (
    AsyncInvocation,
    BatchTransform,
    Endpoint,
    EndpointKey,
    EndpointMetric,
    EndpointVariant,
)
from apps.endpoints.serving.metrics import merge_hist
from apps.jobs.runtime import JobContext, JobError
from apps.jobs.services import job_start
from apps.registry.choices import ApprovalStatus

logger = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[A-Za-z0-9](?:-*[A-Za-z0-9]){0,62}$")
KEY_PREFIX = "ep_"
MAX_VARIANTS = 10


def _need_deploy(user: User) -> None:
    if not personas.user_can(user, personas.DEPLOY_MODELS):  # defensive: views declare it (accounts/permissions.py)
        raise PermissionDenied(personas.refusal_message(personas.DEPLOY_MODELS))


def clean_endpoint_name(raw: Any) -> str:
    name = str(raw or "").strip()
    if not NAME_RE.fullmatch(name):
        raise ValidationError(
            {
                "name": f"{name!r} is not a valid endpoint name: use 1–63 letters, digits and "
                "hyphens, starting and ending with a letter or digit."
            }
        )
    return name


def _clean_number(value: Any, field: str, low: float, high: float, *, integer: bool = False) -> float:
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError({field: f"{field} must be a number."}) from exc
    if not low <= number <= high or number != number:
        raise ValidationError({field: f"{field} must be between {low:g} and {high:g}."})
    return number


def clean_webhook_url(raw: Any) -> str:
    """Checked through the SSRF guard now (form, resolution, address), not at the first delivery."""
    return webhooks.webhook_url_clean(raw, field="webhook_url")


def clean_variants(*, project: Project, variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """[{model_version: ModelVersion, weight, name?}] checked: same project, Approved, positive weights, unique
    names (variant-1, variant-2 … when not given). The error names the version at fault."""
    if not variants:
        raise ValidationError({"variants": "Give at least one model version."})
    if len(variants) > MAX_VARIANTS:
        raise ValidationError({"variants": f"At most {MAX_VARIANTS} variants."})
    out, names = [], set()
    for i, raw in enumerate(variants):
        version = raw["model_version"]
        if version.project_id != project.pk:
            raise ValidationError({"model_version": f"Model version {version} belongs to another project."})
        if version.approval_status != ApprovalStatus.APPROVED:
            raise ValidationError(
                {
                    "model_version": f"Model version {version} (id {version.pk}) is "
                    f"{version.get_approval_status_display().lower()}: only Approved "
                    "versions can be deployed."
                }
            )
        weight = _clean_number(raw.get("weight", 1.0), "weight", 0.0, 1e6)
        name = str(raw.get("name") or f"variant-{i + 1}").strip()
        if not NAME_RE.fullmatch(name):
            raise ValidationError({"variants": f"{name!r} is not a valid variant name (letters, digits, hyphens)."})
        if name in names:
            raise ValidationError({"variants": f"Two variants are named {name!r}."})
        names.add(name)
        out.append({"model_version": version, "weight": weight, "name": name})
    if sum(v["weight"] for v in out) <= 0:
        raise ValidationError({"variants": "At least one variant needs a weight above 0."})
    return out


def endpoint_key_create(*, endpoint: Endpoint, user: User, name: Any = "") -> tuple[EndpointKey, str]:
    """A new key for the endpoint: the row and the raw key (shown once; only its SHA-256 is stored)."""
    _need_deploy(user)
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    label = str(name or "").strip()[:100] or "key"
    key = EndpointKey.objects.create(
        endpoint=endpoint, name=label, prefix=raw[:10], key_hash=key_hash(raw), created_by=user
    )
    return key, raw


def endpoint_key_revoke(*, key: EndpointKey, user: User) -> EndpointKey:
    """The key stops working in every serving process within SERVING_CONFIG_REFRESH_S."""
    _need_deploy(user)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def endpoint_create(
    *,
    project: Project,
    user: User,
    name: Any,
    endpoint_type: Any = EndpointType.REALTIME,
    variants: list[dict[str, Any]],
    description: Any = "",
    idle_timeout_s: Any = None,
    max_concurrency: Any = None,
    capture_percent: Any = None,
    timeout_s: Any = None,
    webhook_url: Any = "",
) -> tuple[Endpoint, str]:
    """The endpoint, its variants and a first key; returns (endpoint, raw key shown once)."""
    _need_deploy(user)
    clean_name = clean_endpoint_name(name)
    if endpoint_type not in EndpointType.values:
        raise ValidationError(
            {"type": f"Unknown endpoint type {endpoint_type!r}; use one of {', '.join(EndpointType.values)}."}
        )
    refuse_other_types_settings(
        endpoint_type, idle_timeout_s=idle_timeout_s, max_concurrency=max_concurrency, webhook_url=webhook_url
    )
    checked = clean_variants(project=project, variants=variants)
    fields = _clean_settings(
        idle_timeout_s=idle_timeout_s,
        max_concurrency=max_concurrency,
        capture_percent=capture_percent,
        timeout_s=timeout_s,
        webhook_url=webhook_url,
    )
    try:
        with transaction.atomic():
            endpoint = Endpoint.objects.create(
                project=project,
                created_by=user,
                name=clean_name,
                type=endpoint_type,
                description=str(description or "")[:2000],
                **fields,
            )
            _replace_variants(endpoint, checked)
            _, raw = endpoint_key_create(endpoint=endpoint, user=user, name="default")
    except IntegrityError as exc:
        raise ValidationError({"name": f"An endpoint named {clean_name!r} already exists."}) from exc
    return endpoint, raw


# Settings that only one type of endpoint uses; the others would store them and never read them.
TYPE_SETTINGS = {
    "idle_timeout_s": EndpointType.SERVERLESS,
    "max_concurrency": EndpointType.SERVERLESS,
    "webhook_url": EndpointType.ASYNC,
}


def refuse_other_types_settings(endpoint_type: str, **given: Any) -> None:
    """A 400 naming each setting that does not apply to this type of endpoint (the deploy form sends only the
    chosen type's fields; an API client that sends another type's is told rather than silently ignored)."""
    errors = {
        name: f"{name} applies to {TYPE_SETTINGS[name].label.lower()} endpoints only, not {endpoint_type} ones."
        for name, value in given.items()
        if value not in (None, "") and TYPE_SETTINGS[name] != endpoint_type
    }
    if errors:
        raise ValidationError(errors)


def _clean_settings(**raw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if raw.get("idle_timeout_s") not in (None, ""):
        out["idle_timeout_s"] = int(_clean_number(raw["idle_timeout_s"], "idle_timeout_s", 1, 86_400, integer=True))
    if raw.get("max_concurrency") not in (None, ""):
        out["max_concurrency"] = int(_clean_number(raw["max_concurrency"], "max_concurrency", 1, 1000, integer=True))
    if raw.get("capture_percent") not in (None, ""):
        out["capture_percent"] = _clean_number(raw["capture_percent"], "capture_percent", 0, 100)
    if raw.get("timeout_s") not in (None, ""):
        out["timeout_s"] = _clean_number(raw["timeout_s"], "timeout_s", 0.01, 3600)
    if "webhook_url" in raw and raw["webhook_url"] is not None:
        out["webhook_url"] = clean_webhook_url(raw["webhook_url"])
    return out


def _replace_variants(endpoint: Endpoint, checked: list[dict[str, Any]]) -> None:
    endpoint.variants.all().delete()
    EndpointVariant.objects.bulk_create(
        [
            EndpointVariant(
                endpoint=endpoint, name=v["name"], model_version=v["model_version"], weight=v["weight"], position=i
            )
            for i, v in enumerate(checked)
        ]
    )


def endpoint_update(
    *, endpoint: Endpoint, user: User, variants: list[dict[str, Any]] | None = None, **settings_: Any
) -> Endpoint:
    """New variants and weights (and/or settings). Serving processes load the new versions' models before they
    switch, and requests in flight finish on the old ones: no request is dropped."""
    _need_deploy(user)
    checked = clean_variants(project=endpoint.project, variants=variants) if variants is not None else None
    fields = _clean_settings(**settings_)
    with transaction.atomic():
        locked = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
        if checked is not None:
            _replace_variants(locked, checked)
        for key, value in fields.items():
            setattr(locked, key, value)
        locked.config_version = F("config_version") + 1
        locked.save()
    locked.refresh_from_db()
    return locked


def endpoint_webhook_secret_rotate(*, endpoint: Endpoint, user: User) -> str:
    """A new webhook signing secret (returned); the previous one keeps signing beside it for
    WEBHOOK_SECRET_GRACE_S so receivers can switch without losing deliveries."""
    _need_deploy(user)
    return webhooks.webhook_secret_rotate(subscriber=endpoint)


def endpoint_delete(*, endpoint: Endpoint, user: User) -> None:
    _need_deploy(user)
    endpoint.delete()


# --- metrics (from serving processes) ---------------------------------------------------------------------------


def endpoint_metrics_merge(*, entries: list[tuple[int, str, int, Any]]) -> None:
    """Add drained in-memory counts (serving/metrics.MetricsBuffer) to the per-minute rows."""
    existing = set(Endpoint.objects.filter(pk__in={e[0] for e in entries}).values_list("pk", flat=True))
    for endpoint_id, variant, minute_epoch, counts in entries:
        if endpoint_id not in existing:
            continue
        minute = datetime.fromtimestamp(minute_epoch, tz=UTC)
        for _attempt in range(2):
            try:
                with transaction.atomic():
                    row = (
                        EndpointMetric.objects.select_for_update()
                        .filter(endpoint_id=endpoint_id, variant=variant, minute=minute)
                        .first()
                    )
                    if row is None:
                        EndpointMetric.objects.create(
                            endpoint_id=endpoint_id, variant=variant, minute=minute, **counts.as_dict()
                        )
                    else:
                        row.invocations += counts.invocations
                        row.client_errors += counts.client_errors
                        row.server_errors += counts.server_errors
                        row.latency_sum_ms += counts.latency_sum_ms
                        row.latency_max_ms = max(row.latency_max_ms, counts.latency_max_ms)
                        row.latency_hist = merge_hist(row.latency_hist or [], counts.hist)
                        row.captured += counts.captured
                        row.capture_dropped += counts.capture_dropped
                        row.rejected += counts.rejected
                        row.save()
                break
            except IntegrityError:  # another process created the row in between: add to it
                continue


# --- asynchronous invocations -------------------------------------------------------------------------------------


def async_dir(endpoint: Endpoint) -> str:
    return project_path(endpoint.project_id, "endpoints", endpoint.name, "async")


def async_invocation_create(
    *, endpoint_id: int, local_file: str, size: int, content_type: str, probabilities: bool = False
) -> dict[str, Any]:
    """Called by the serving process once the body is on local disk: the body moves into storage, the row and its
    job are created. Returns the 202 answer."""
    endpoint = Endpoint.objects.select_related("project").get(pk=endpoint_id)
    inference_id = uuid.uuid4()
    saved = save_into_place(local_file, f"{async_dir(endpoint)}/{inference_id.hex}.in")
    try:
        with transaction.atomic():
            invocation = AsyncInvocation.objects.create(
                endpoint=endpoint,
                inference_id=inference_id,
                content_type=content_type,
                probabilities=probabilities,
                input_path=saved,
                input_bytes=size,
                webhook_url=endpoint.webhook_url,
                expires_at=timezone.now() + timedelta(seconds=int(settings.SERVING_ASYNC_TTL_S)),
            )
            job = job_start(
                kind="endpoints.async_invoke",
                project=endpoint.project,
                created_by=None,
                params={"invocation": invocation.pk},
                title=f"Async request to {endpoint.name}",
            )
            invocation.job = job
            invocation.save(update_fields=["job", "updated_at"])
    except BaseException:
        with contextlib.suppress(OSError):
            storage().delete(saved)
        raise
    return async_status_payload(invocation)


def async_status_payload(invocation: AsyncInvocation) -> dict[str, Any]:
    base = f"/endpoints/{invocation.endpoint.name}/async-invocations/{invocation.inference_id.hex}"
    status = invocation.status
    if status == AsyncStatus.QUEUED and invocation.expires_at < timezone.now():
        status = AsyncStatus.EXPIRED
    out: dict[str, Any] = {
        "inference_id": invocation.inference_id.hex,
        "status": status,
        "location": base,
        "created_at": invocation.created_at.isoformat(),
        "expires_at": invocation.expires_at.isoformat(),
        "input_bytes": invocation.input_bytes,
    }
    if invocation.finished_at:
        out["finished_at"] = invocation.finished_at.isoformat()
    if status == AsyncStatus.SUCCEEDED:
        out.update(output_location=f"{base}/result", rows=invocation.rows, variant=invocation.variant)
    if invocation.error:
        out["error"] = invocation.error
    if invocation.webhook_url and invocation.finished_at:  # notified once finished: no query before
        latest = webhook_latest_attempt(subscriber=invocation.endpoint, reference=invocation.inference_id.hex)
        if latest is not None:
            out["webhook"] = webhooks.webhook_status_text(latest)
    return out


WEBHOOK_EVENT = "async_invocation.completed"


def _notify(invocation: AsyncInvocation) -> None:
    """Queue the signed notification (a worker sends it, retried and logged: apps/core/webhooks.py)."""
    if not invocation.webhook_url:
        return
    payload = {k: v for k, v in async_status_payload(invocation).items() if k != "webhook"}
    payload["endpoint"] = invocation.endpoint.name
    webhooks.webhook_send(
        subscriber=invocation.endpoint,
        project_id=invocation.endpoint.project_id,
        url=invocation.webhook_url,
        event=WEBHOOK_EVENT,
        payload=payload,
        reference=invocation.inference_id.hex,
    )


def _finish(invocation: AsyncInvocation, status: str, *, error: str = "", **fields: Any) -> None:
    invocation.status = status
    invocation.error = error[:5000]
    invocation.finished_at = timezone.now()
    for key, value in fields.items():
        setattr(invocation, key, value)
    invocation.save()
    with contextlib.suppress(OSError):
        storage().delete(invocation.input_path)
    _notify(invocation)


def _frames(path: str, content_type: str, input_names: list[str], chunk_rows: int, ctx: JobContext):
    """(frame, fraction done) chunks of the stored body: CSV read chunk by chunk, JSON parsed whole."""
    from apps.endpoints.serving import protocol

    size = max(1, storage().size(path))
    with storage().open(path, "rb") as handle:
        if content_type == "text/csv":
            try:
                for chunk in pd.read_csv(handle, chunksize=chunk_rows):
                    yield chunk, min(0.95, handle.tell() / size)
            except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
                raise protocol.ProtocolError(400, f"The CSV body could not be read: {exc}") from exc
            return
        frame, _params = protocol.parse_json(handle.read(), input_names)
    for start in range(0, max(len(frame), 1), chunk_rows):
        yield frame.iloc[start : start + chunk_rows], min(0.95, (start + chunk_rows) / max(len(frame), 1))


def async_invocation_run(ctx: JobContext) -> dict[str, Any]:
    from apps.automl.engine.model import SchemaError
    from apps.endpoints.serving import protocol
    from apps.registry.loading import load_version

    invocation = AsyncInvocation.objects.select_related("endpoint").get(pk=ctx.params["invocation"])
    if invocation.status in (AsyncStatus.SUCCEEDED, AsyncStatus.FAILED, AsyncStatus.EXPIRED):
        return {"status": invocation.status}
    if invocation.expires_at < timezone.now():
        _finish(
            invocation, AsyncStatus.EXPIRED, error="The request expired before a worker took it (SERVING_ASYNC_TTL_S)."
        )
        ctx.final_message = "Expired before it started."
        return {"status": AsyncStatus.EXPIRED}
    invocation.status = AsyncStatus.RUNNING
    invocation.save(update_fields=["status", "updated_at"])
    variants = list(
        invocation.endpoint.variants.select_related("model_version__artifact", "model_version__group").filter(
            model_version__approval_status=ApprovalStatus.APPROVED, weight__gt=0
        )
    )
    if not variants:
        _finish(invocation, AsyncStatus.FAILED, error="The endpoint has no approved model version to serve.")
        raise JobError("The endpoint has no approved model version to serve.")
    variant = random.choices(variants, weights=[v.weight for v in variants])[0]
    ctx.progress(0.02, f"Loading {variant.model_version}", force=True)
    predictor = load_version(variant.model_version)
    input_names = [str(i["name"]) for i in (variant.model_version.signature or {}).get("inputs") or []]
    rows = 0
    keys = [str(c) for c in predictor.classes]
    with temp_path(".pred") as pred_file, temp_path(".proba") as proba_file, temp_path(".json") as out_file:
        try:
            with open(pred_file, "wb") as preds, open(proba_file, "wb") as probas:
                for frame, done in _frames(
                    invocation.input_path,
                    invocation.content_type,
                    input_names,
                    int(settings.SERVING_BATCH_CHUNK_ROWS),
                    ctx,
                ):
                    labels, proba = predictor.predict(frame)
                    for value in labels.tolist():
                        preds.write((b"," if rows else b"") + orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY))
                        rows += 1
                    if invocation.probabilities and proba is not None:
                        first = probas.tell() == 0
                        for i, row in enumerate(np.round(proba, 6).tolist()):
                            sep = b"" if first and i == 0 else b","
                            probas.write(sep + orjson.dumps(dict(zip(keys, row, strict=False))))
                    ctx.progress(done, f"{rows:,} rows predicted")
        except (protocol.ProtocolError, SchemaError) as exc:
            message = exc.message if hasattr(exc, "message") else str(exc)
            _finish(invocation, AsyncStatus.FAILED, error=message, variant=variant.name)
            raise JobError(f"The request could not be processed: {message}") from exc
        with open(out_file, "wb") as out:
            out.write(b'{"predictions":[')
            _copy(pred_file, out)
            out.write(b"]")
            if invocation.probabilities and os.path.getsize(proba_file):
                out.write(b',"probabilities":[')
                _copy(proba_file, out)
                out.write(b"]")
            out.write(b"}")
        saved = save_into_place(out_file, f"{async_dir(invocation.endpoint)}/{invocation.inference_id.hex}.out.json")
    _finish(invocation, AsyncStatus.SUCCEEDED, output_path=saved, rows=rows, variant=variant.name)
    ctx.final_message = f"{rows:,} predictions from {variant.name} ({variant.model_version})."
    return {"status": AsyncStatus.SUCCEEDED, "rows": rows, "output": saved}


def _copy(path: str, out: Any) -> None:
    with open(path, "rb") as src:
        while chunk := src.read(1 << 20):
            out.write(chunk)


# --- batch transform ------------------------------------------------------------------------------------------


def batch_transform_start(
    *, user: User, model_version: Any, dataset_version: Any, join_input_columns: Any = False, probabilities: Any = True
) -> BatchTransform:
    """Predictions of an Approved model version for every row of a dataset version of the same project (a job);
    the output is a new dataset version."""
    if not personas.user_can(user, personas.RUN_JOBS):  # defensive: views declare it (accounts/permissions.py)
        raise PermissionDenied(personas.refusal_message(personas.RUN_JOBS))
    if dataset_version.project_id != model_version.project_id:
        raise ValidationError({"dataset_version": "The dataset version belongs to another project than the model."})
    if model_version.approval_status != ApprovalStatus.APPROVED:
        raise ValidationError(
            {
                "model_version": f"Model version {model_version} (id {model_version.pk}) is "
                f"{model_version.get_approval_status_display().lower()}: only "
                "Approved versions run batch transforms."
            }
        )
    _check_batch_columns(model_version, dataset_version)
    with transaction.atomic():
        transform = BatchTransform.objects.create(
            project_id=model_version.project_id,
            created_by=user,
            model_version=model_version,
            dataset_version=dataset_version,
            join_input_columns=bool(join_input_columns),
            probabilities=bool(probabilities),
        )
        transform.job = job_start(
            kind="endpoints.batch_transform",
            project=transform.project,
            created_by=user,
            params={"transform": transform.pk},
            title=f"Batch transform: {model_version} on {dataset_version}",
        )
        transform.save(update_fields=["job", "updated_at"])
    return transform


def _check_batch_columns(model_version: Any, dataset_version: Any) -> None:
    """A 400 before any job starts when the dataset version lacks columns the model reads (from its signature); the
    message names them once, and each missing column gets its own short reason."""
    inputs = [str(i["name"]) for i in (model_version.signature or {}).get("inputs", []) if "name" in i]
    present = set(dataset_version.column_names)
    missing = [name for name in inputs if name not in present]
    if missing:
        message = (
            f"Missing column(s) in {dataset_version}: {', '.join(missing)}. "
            f"Model version {model_version} reads: {', '.join(inputs)}."
        )
        raise ValidationError({"non_field_errors": [message], **{name: ["missing"] for name in missing}})


def _output_columns(target: str, existing: list[str]) -> str:
    name = f"predicted_{target}" if target else "prediction"
    while name in existing:
        name = f"{name}_"
    return name


def batch_transform_run(ctx: JobContext) -> dict[str, Any]:
    """Reads the input Parquet file SERVING_BATCH_CHUNK_ROWS rows at a time and appends each chunk's predictions to
    the output Parquet file, so memory stays flat whatever the input size."""
    from apps.automl.engine.model import SchemaError
    from apps.datasets import selectors as data_selectors
    from apps.datasets import services as data_services
    from apps.datasets.choices import VersionKind
    from apps.datasets.models import DatasetVersion
    from apps.registry.loading import load_version

    transform = BatchTransform.objects.select_related(
        "model_version__artifact", "model_version__group", "dataset_version__dataset"
    ).get(pk=ctx.params["transform"])
    done = DatasetVersion.objects.filter(job_id=ctx.job_id).first()
    if done is not None:
        BatchTransform.objects.filter(pk=transform.pk).update(output_version=done, rows=done.row_count)
        return {"dataset_version": done.pk}
    version, source = transform.model_version, transform.dataset_version
    if source is None:
        raise JobError("The input dataset version was deleted before the transform ran.")
    ctx.progress(0.02, f"Loading {version}", force=True)
    predictor = load_version(version)
    total = max(1, int(source.row_count))
    chunk_rows = int(settings.SERVING_BATCH_CHUNK_ROWS)
    keys = [str(c) for c in predictor.classes]
    rows = 0
    writer: pq.ParquetWriter | None = None
    with temp_path(".parquet") as out_path:
        try:
            with storage().open(source.file, "rb") as handle:
                parquet = pq.ParquetFile(handle)
                columns = parquet.schema_arrow.names
                predicted = _output_columns(version.target, columns if transform.join_input_columns else [])
                for batch in parquet.iter_batches(batch_size=chunk_rows):
                    frame = data_selectors.frame_as_written(frame=batch.to_pandas(), version=source)
                    try:
                        labels, proba = predictor.predict(frame)
                    except SchemaError as exc:
                        raise JobError(exc.message) from exc
                    out = (
                        frame.reset_index(drop=True)
                        if transform.join_input_columns
                        else pd.DataFrame(index=range(len(frame)))
                    )
                    out[predicted] = labels
                    if transform.probabilities and proba is not None:
                        for i, cls in enumerate(keys):
                            out[f"probability_{cls}"] = proba[:, i]
                    table = pa.Table.from_pandas(out, preserve_index=False)
                    if writer is None:
                        writer = pq.ParquetWriter(out_path, table.schema)
                    else:
                        table = table.cast(writer.schema)
                    writer.write_table(table, row_group_size=65_536)
                    rows += len(frame)
                    ctx.progress(0.05 + 0.8 * rows / total, f"{rows:,} of {total:,} rows predicted")
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            raise JobError("The dataset version has no rows to predict.")
        ctx.progress(0.9, "Saving the predictions as a dataset version", force=True)
        new = data_services.dataset_version_create(
            project_id=transform.project_id,
            local_file=out_path,
            kind=VersionKind.PREDICTION,
            dataset_name=f"{source.dataset.name} predictions",
            source={
                "kind": "batch_transform",
                "transform": transform.pk,
                "model_version": version.pk,
                "dataset_version": source.pk,
                "join_input_columns": transform.join_input_columns,
            },
            parents=[source],
            job_id=ctx.job_id,
            created_by_id=ctx.created_by_id,
        )
    BatchTransform.objects.filter(pk=transform.pk).update(output_version=new, rows=rows, updated_at=timezone.now())
    ctx.final_message = f"{rows:,} predictions saved as {new}."
    return {"dataset_version": new.pk, "rows": rows}


# --- retention -------------------------------------------------------------------------------------------------


def retention_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Forget what has outlived its retention setting (0 keeps it forever): finished asynchronous requests with
    their result files (SERVING_ASYNC_RETENTION_S after they finished), captured request files
    (SERVING_CAPTURE_RETENTION_DAYS, by the hour they were captured), per-minute metrics
    (SERVING_METRICS_RETENTION_DAYS). Run hourly by beat (`endpoints.retention`)."""
    now = now or timezone.now()
    counts = {"async_requests": 0, "capture_files": 0, "metric_minutes": 0}
    keep_async = int(settings.SERVING_ASYNC_RETENTION_S)
    if keep_async > 0:
        old = AsyncInvocation.objects.filter(finished_at__lt=now - timedelta(seconds=keep_async))
        for invocation in old.only("pk", "input_path", "output_path").iterator():
            for path in (invocation.output_path, invocation.input_path):
                if path:
                    with contextlib.suppress(OSError):
                        storage().delete(path)
            invocation.delete()
            counts["async_requests"] += 1
    keep_capture = int(settings.SERVING_CAPTURE_RETENTION_DAYS)
    if keep_capture > 0:
        counts["capture_files"] = _sweep_capture(now - timedelta(days=keep_capture))
    keep_metrics = int(settings.SERVING_METRICS_RETENTION_DAYS)
    if keep_metrics > 0:
        counts["metric_minutes"], _ = EndpointMetric.objects.filter(
            minute__lt=now - timedelta(days=keep_metrics)
        ).delete()
    return counts


def _sweep_capture(cutoff: datetime) -> int:
    """Delete capture files of every hour that ended before `cutoff`, under every project's endpoints (deleted
    endpoints included); the capture layout is .../capture/<yyyy>/<mm>/<dd>/<hh>/*.jsonl."""
    deleted = 0
    for project in list_dir("projects")[0]:
        for name in list_dir(f"projects/{project}/endpoints")[0]:
            base = f"projects/{project}/endpoints/{name}/capture"
            for parts in _dir_paths(base, 4):
                try:
                    year, month, day, hour = (int(p) for p in parts)
                    ended = datetime(year, month, day, hour, tzinfo=UTC) + timedelta(hours=1)
                except ValueError:
                    continue  # not ours: left alone
                if ended > cutoff:
                    continue
                folder = "/".join([base, *parts])
                for file in list_dir(folder)[1]:
                    with contextlib.suppress(OSError):
                        storage().delete(f"{folder}/{file}")
                        deleted += 1
    return deleted


def _dir_paths(base: str, depth: int, parts: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every chain of `depth` directory names below `base` (as tuples), e.g. (yyyy, mm, dd, hh)."""
    if depth == 0:
        yield parts
        return
    for name in list_dir("/".join([base, *parts]))[0]:
        yield from _dir_paths(base, depth - 1, (*parts, name))
