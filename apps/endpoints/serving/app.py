"""The serving hot path: a small raw ASGI app for /endpoints/..., in front of Django (studio/asgi.py).

No sessions, CSRF, middleware or database reads per request:
* endpoint config and key hashes come from an in-memory snapshot (serving/config.py) that a background thread
  re-reads at most every SERVING_CONFIG_REFRESH_S; before a new snapshot is used, the models of its real-time
  variants are loaded, so an update to a new version never makes a request wait or fail (requests in flight finish
  on the predictor they hold);
* models come from a per-version cache (serving/cache.py);
* counters and latency histograms are summed in memory and flushed to EndpointMetric every
  SERVING_METRICS_FLUSH_S; captured requests go through a bounded queue to a writer thread.

Routes (every one but ping needs `Authorization: Bearer <endpoint key>`):
    POST /endpoints/{name}/invocations                        MLflow scoring protocol → {"predictions": [...]}
    GET  /endpoints/{name}/ping                               200 while the endpoint has an approved version
    POST /endpoints/{name}/async-invocations                  body streamed to storage → 202 {inference_id, ...}
    GET  /endpoints/{name}/async-invocations/{id}             status (and where the result is)
    GET  /endpoints/{name}/async-invocations/{id}/result      the result JSON
Errors: {"error_code", "message", "detail", "errors": {field_or_column: [messages]}} with 400 (schema: the
columns at fault), 401 (no, wrong, revoked or another endpoint's key), 404, 405, 413 (body over
SERVING_MAX_REQUEST_BYTES), 415, 429 (serverless concurrency), 503 (no approved version / model not loadable),
504 (prediction slower than the endpoint's timeout)."""

from __future__ import annotations

import asyncio
import logging
import random
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar
from urllib.parse import parse_qs

import orjson
from django.conf import settings
from django.db import close_old_connections, connection

from apps.core.tempfiles import temp_path
from apps.endpoints.choices import EndpointType
from apps.endpoints.serving import protocol
from apps.endpoints.serving.batching import Batcher, Deferred
from apps.endpoints.serving.cache import ModelCache, ModelLoadError, settle_heap
from apps.endpoints.serving.capture import CaptureWriter, body_field
from apps.endpoints.serving.config import EMPTY, PRELOADED_TYPES, EndpointConfig, Snapshot, VariantConfig
from apps.endpoints.serving.errors import ClientGone, HTTPError, error_body, mapped_errors
from apps.endpoints.serving.metrics import MetricsBuffer

logger = logging.getLogger(__name__)

PREFIX = "/endpoints/"
NAME_RE = re.compile(r"^[A-Za-z0-9](?:-*[A-Za-z0-9]){0,62}$")
UUID_RE = re.compile(r"^[0-9a-fA-F]{32}$|^[0-9a-fA-F-]{36}$")
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASYNC_CHUNK = 1 << 20
JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
T = TypeVar("T")
INLINE_BODY_BYTES = 64 * 1024  # bodies up to this size are parsed on the event loop (see ServingApp._predict)


def header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def bearer_key(scope: Scope) -> str:
    raw = header(scope, b"authorization").strip()
    scheme, _, key = raw.partition(" ")
    return key.strip() if scheme.lower() == "bearer" else ""


async def respond(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
    content_type: bytes = b"application/json",
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"x-content-type-options", b"nosniff"),
                (b"cache-control", b"no-store"),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def body_chunks(receive: Receive, limit: int, too_large: str) -> AsyncIterator[bytes]:
    """The request body's chunks as they arrive; 413 with `too_large` once more than `limit` bytes came."""
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise HTTPError(413, too_large)
        yield chunk
        if not message.get("more_body"):
            return


async def unless_gone(receive: Receive, work: Awaitable[T]) -> T:
    """`work`'s result, or ClientGone as soon as the client disconnects. The work is then cancelled: a prediction
    still queued for the thread or a batch is never run, so that a burst of clients that gave up (their own timeout,
    a load balancer's) does not keep the process busy with answers nobody reads while new requests wait."""
    task = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(receive())  # after the body, the server's next message is the disconnect
    try:
        done, _ = await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            return task.result()
        if watch.result()["type"] == "http.disconnect":
            raise ClientGone()
        return await task  # a server that sends something else after the body: stop watching rather than spin
    finally:
        for future in (task, watch):
            if not future.done():
                future.cancel()


async def read_body(receive: Receive, limit: int) -> bytes:
    too_large = (
        f"The request body is larger than the limit of {limit:,} bytes (SERVING_MAX_REQUEST_BYTES); use an "
        "asynchronous endpoint or batch transform."
    )
    return b"".join([chunk async for chunk in body_chunks(receive, limit, too_large)])


def content_length(scope: Scope) -> int | None:
    raw = header(scope, b"content-length")
    try:
        return int(raw) if raw else None
    except ValueError as exc:
        raise HTTPError(400, "Invalid Content-Length header.") from exc


class ServingApp:
    """`ServingApp(fallback)` serves /endpoints/ and hands everything else to `fallback` (Django)."""

    def __init__(
        self,
        fallback: Callable[..., Awaitable[None]] | None = None,
        *,
        background: bool = True,
        loader: Callable[[Any], Any] | None = None,
    ) -> None:
        if loader is None:
            from apps.registry.loading import load_version

            loader = load_version
        self.fallback = fallback
        self.background = background
        self.snapshot: Snapshot = EMPTY
        self.models = ModelCache(loader)
        self.metrics = MetricsBuffer()
        self.capture = CaptureWriter()
        self.pool = ThreadPoolExecutor(max_workers=int(settings.SERVING_THREADS), thread_name_prefix="serving")
        self.io_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="serving-io")
        self.batch_rows = int(settings.SERVING_BATCH_MAX_ROWS)
        self.batchers: dict[int, Batcher] = {}
        self.active: dict[int, int] = {}
        self.random = random.Random()
        self._ready = threading.Event()
        self._started = False
        self._start_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # --- background work: config refresh, metrics flush, serverless unload, capture writing --------------------

    def start(self) -> None:
        if self._started or not self.background or not settings.SERVING_ENABLED:
            return
        with self._start_lock:
            if self._started:
                return
            self._started = True
            for target, name in ((self._loop, "serving-config"), (self._capture_loop, "serving-capture")):
                thread = threading.Thread(target=target, name=name, daemon=True)
                thread.start()
                self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _capture_loop(self) -> None:
        self.capture.run_forever(self._stop)

    def _loop(self) -> None:
        next_flush = time.monotonic() + float(settings.SERVING_METRICS_FLUSH_S)
        settled = -1
        try:
            while not self._stop.is_set():
                try:
                    self.refresh()
                except Exception:
                    logger.exception("Could not refresh the endpoint configuration")
                    close_old_connections()
                if time.monotonic() >= next_flush:
                    self.flush_metrics()
                    next_flush = time.monotonic() + float(settings.SERVING_METRICS_FLUSH_S)
                self.reap_idle()
                settled = self.settle(settled)
                self._stop.wait(float(settings.SERVING_CONFIG_REFRESH_S))
            self.flush_metrics()
        finally:
            connection.close()

    def settle(self, settled: int) -> int:
        """Freeze the heap once the process is up; thaw and collect it after models were dropped (cache.settle_heap).
        `settled` is the drop count seen at the previous call (-1 at first); returns the current one."""
        if settled != self.models.drops:
            settle_heap(thaw=settled >= 0)
        return self.models.drops

    def refresh(self) -> Snapshot:
        """Read the configuration, load the models of real-time variants, then switch to it (sync; a thread)."""
        from apps.endpoints.serving.config import load_snapshot

        snap = load_snapshot()
        for cfg in snap.endpoints.values():
            if cfg.type in PRELOADED_TYPES:
                for variant in cfg.variants:
                    try:
                        self.models.get(variant.version)
                    except ModelLoadError:
                        pass  # requests to it answer 503 naming the problem
        self.snapshot = snap
        keep = snap.version_ids()
        self.models.retain(keep)
        self.batchers = {k: b for k, b in self.batchers.items() if k in keep}
        self._ready.set()
        return snap

    def flush_metrics(self) -> int:
        from apps.endpoints.services import endpoint_metrics_merge

        entries = self.metrics.drain()
        if not entries:
            return 0
        try:
            endpoint_metrics_merge(entries=entries)
        except Exception:
            logger.exception("Could not write endpoint metrics")
            self.metrics.restore(entries)
            close_old_connections()
            return 0
        return len(entries)

    def reap_idle(self) -> list[int]:
        """Unload serverless variants idle past their endpoint's timeout (unless a real-time endpoint uses them)."""
        snap = self.snapshot
        kept = snap.version_ids(PRELOADED_TYPES)
        dropped = []
        for cfg in snap.endpoints.values():
            if cfg.type != EndpointType.SERVERLESS or self.active.get(cfg.id):
                continue
            for variant in cfg.variants:
                idle = self.models.idle_since(variant.version_id)
                if idle is not None and idle >= cfg.idle_timeout_s and variant.version_id not in kept:
                    if self.models.drop(variant.version_id):
                        dropped.append(variant.version_id)
        return dropped

    async def _wait_ready(self) -> None:
        if self._ready.is_set():
            return
        if not self.background:
            raise HTTPError(503, "The serving configuration is not loaded yet.")
        loop = asyncio.get_running_loop()
        ready = await loop.run_in_executor(None, self._ready.wait, 30)
        if not ready:
            raise HTTPError(503, "The serving configuration could not be read from the database yet; try again.")

    # --- ASGI ---------------------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.start()
            if scope["path"].startswith(PREFIX) and settings.SERVING_ENABLED:
                await self.handle(scope, receive, send)
                return
        if self.fallback is None:
            if scope["type"] == "http":
                await respond(send, 404, error_body(404, "Not found."))
            return
        await self.fallback(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        parts = scope["path"][len(PREFIX) :].split("/")
        method = scope["method"]
        try:
            name, rest = parts[0], parts[1:]
            if not NAME_RE.match(name) or not rest:
                raise HTTPError(404, "Not found.")
            if rest == ["invocations"]:
                await self.invoke(scope, receive, send, name, method)
                return
            if rest == ["ping"]:
                allow(method, "GET")
                await self._wait_ready()
                cfg = self.endpoint(name)
                if not cfg.variants:
                    raise HTTPError(503, f"Endpoint {name!r} has no approved model version to serve.")
                await respond(send, 200, orjson.dumps({"status": "Healthy", "endpoint": name}))
                return
            if rest[0] == "async-invocations":
                await self.async_route(scope, receive, send, name, method, rest[1:])
                return
            raise HTTPError(404, "Not found.")
        except HTTPError as exc:
            await respond(send, exc.status, exc.body(), exc.headers)
        except ClientGone:
            return

    def endpoint(self, name: str) -> EndpointConfig:
        cfg = self.snapshot.endpoints.get(name)
        if cfg is None:
            raise HTTPError(404, f"No endpoint named {name!r}.", code="ENDPOINT_NOT_FOUND")
        return cfg

    def authorize(self, scope: Scope, cfg: EndpointConfig) -> None:
        key = bearer_key(scope)
        if not key:
            raise HTTPError(
                401,
                "Send the endpoint key as `Authorization: Bearer <key>`.",
                headers=[(b"www-authenticate", b'Bearer realm="endpoint"')],
            )
        if not cfg.key_ok(key):
            raise HTTPError(
                401,
                "The key is not valid for this endpoint (wrong, revoked, expired or another endpoint's key).",
                headers=[(b"www-authenticate", b'Bearer error="invalid_token"')],
            )

    # --- real-time and serverless -------------------------------------------------------------------------------

    def _prepare(
        self, variant: VariantConfig, body: bytes, content_type: str, probabilities: bool
    ) -> tuple[Any, Any, bool, bool]:
        """(predictor, checked rows, probabilities wanted, loaded now): everything before the model runs."""
        frame, want = self._parse(variant, body, content_type, probabilities)  # a bad body loads no model
        predictor, cold = self.models.get(variant.version)
        return predictor, predictor.check(frame), want, cold

    @staticmethod
    def _parse(variant: VariantConfig, body: bytes, content_type: str, probabilities: bool) -> tuple[Any, bool]:
        """(rows, probabilities wanted): the query's `probabilities` or the JSON body's own."""
        frame, params = protocol.parse(body, content_type, list(variant.input_names))
        return frame, probabilities or protocol.truthy(params.get("probabilities", False))

    def _batcher(self, version_id: int, predictor: Any) -> Batcher:
        loop = asyncio.get_running_loop()
        batcher = self.batchers.get(version_id)
        if batcher is None or batcher.predictor is not predictor or batcher.loop is not loop:
            # a reloaded model or a new loop: the old batcher finishes what it holds on its own
            batcher = self.batchers[version_id] = Batcher(predictor, self.pool, self.batch_rows, loop)
        return batcher

    def _serve(self, variant: VariantConfig, body: bytes, content_type: str, probabilities: bool) -> tuple[bytes, bool]:
        """A request's whole trip to the prediction thread: parse, check, load the model if need be, predict, encode."""
        predictor, X, want, cold = self._prepare(variant, body, content_type, probabilities)
        return predict_encoded(predictor, X, want), cold

    async def _predict(
        self, variant: VariantConfig, body: bytes, content_type: str, probabilities: bool
    ) -> tuple[bytes, bool]:
        loop = asyncio.get_running_loop()
        predictor = self.models.loaded(variant.version_id)
        kind = protocol.media_type(content_type)
        if predictor is not None and kind == "application/json" and len(body) <= INLINE_BODY_BYTES:
            # a small JSON body for a loaded model: parsed here, in well under a millisecond, which costs less than a
            # hand-off to the thread. Not CSV: pandas' parser gives the GIL back and takes it again many times per
            # body, and each time waits up to the switch interval (5 ms) for a thread that is predicting (measured:
            # 1-row CSV parses took 20 ms at p50 next to a busy thread); in the prediction thread it waits for none.
            frame, want = self._parse(variant, body, content_type, probabilities)
            X = predictor.check(frame)
            if 0 < len(X) <= self.batch_rows:
                labels, proba = await self._batcher(variant.version_id, predictor).predict(X)
                return encode(predictor, labels, proba, want), False
            return await loop.run_in_executor(self.pool, predict_encoded, predictor, X, want), False
        if predictor is not None and kind == "text/csv" and 0 < (lines := body.count(b"\n")) <= self.batch_rows:
            # a small CSV body is parsed and checked in its batch's trip to the prediction thread (batching.Deferred)
            deferred = Deferred(partial(csv_rows, predictor, body), rows=lines)
            labels, proba = await self._batcher(variant.version_id, predictor).predict(deferred)
            return encode(predictor, labels, proba, probabilities), False
        return await loop.run_in_executor(self.pool, self._serve, variant, body, content_type, probabilities)

    async def invoke(self, scope: Scope, receive: Receive, send: Send, name: str, method: str) -> None:
        started = time.perf_counter()
        allow(method, "POST")
        await self._wait_ready()
        cfg = self.endpoint(name)
        inference_id = uuid.uuid4().hex
        status, variant, body, out = 500, None, b"", b""
        extra: list[tuple[bytes, bytes]] = [(b"x-inference-id", inference_id.encode())]
        counted = False
        try:
            # chosen first, so that refused requests count against the variant they would have reached
            variant = cfg.choose(self.random.random()) if cfg.variants else None
            self.authorize(scope, cfg)
            if cfg.type == EndpointType.ASYNC:
                raise HTTPError(400, f"Endpoint {name!r} is asynchronous: POST to /endpoints/{name}/async-invocations.")
            if variant is None:
                raise HTTPError(503, f"Endpoint {name!r} has no approved model version to serve.")
            wanted = header(scope, b"x-target-variant")
            if wanted:
                variant = cfg.variant_named(wanted)
            if variant is None:
                raise HTTPError(
                    400,
                    f"Endpoint {name!r} has no variant named {wanted!r}.",
                    {"x-target-variant": [f"no variant {wanted!r}"]},
                )
            extra += [
                (b"x-atelier-variant", variant.name.encode()),
                (b"x-atelier-model-version", str(variant.version_id).encode()),
            ]
            content_type = header(scope, b"content-type")
            with mapped_errors():
                protocol.check_content_type(content_type)
            limit = int(settings.SERVING_MAX_REQUEST_BYTES)
            declared = content_length(scope)
            if declared is not None and declared > limit:
                raise HTTPError(
                    413,
                    f"The request body ({declared:,} bytes) is larger than the limit of {limit:,} "
                    "bytes (SERVING_MAX_REQUEST_BYTES); use an asynchronous endpoint or batch "
                    "transform.",
                )
            if cfg.type == EndpointType.SERVERLESS:
                if self.active.get(cfg.id, 0) >= cfg.max_concurrency:
                    raise HTTPError(
                        429,
                        f"Endpoint {name!r} is at its maximum concurrency ({cfg.max_concurrency}); retry shortly.",
                        headers=[(b"retry-after", b"1")],
                    )
                self.active[cfg.id] = self.active.get(cfg.id, 0) + 1
                counted = True
            body = await read_body(receive, limit)
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            probabilities = protocol.truthy((query.get("probabilities") or ["0"])[0])
            timeout = float(cfg.timeout_s or settings.SERVING_TIMEOUT_S)
            try:
                with mapped_errors():
                    out, cold = await asyncio.wait_for(
                        unless_gone(receive, self._predict(variant, body, content_type, probabilities)), timeout
                    )
            except TimeoutError as exc:
                message = f"The prediction took longer than the endpoint's timeout of {timeout:g} s."
                raise HTTPError(504, message) from exc
            if cold:
                extra.append((b"x-atelier-cold-start", b"true"))
            status = 200
            await respond(send, 200, out, extra)
        except HTTPError as exc:
            status = exc.status
            out = exc.body()
            await respond(send, exc.status, out, extra + exc.headers)
        except ClientGone:
            status = 499
        except Exception:
            logger.exception("Endpoint %s failed", name)
            status = 500
            out = error_body(500, "The model failed on this request; see the server log.")
            await respond(send, 500, out, extra)
        finally:
            if counted:
                self.active[cfg.id] -= 1
            latency_ms = (time.perf_counter() - started) * 1000
            now = time.time()
            variant_name = variant.name if variant is not None else ""
            self.metrics.record(cfg.id, variant_name, status, latency_ms, now)
            # only answered requests are captured (Model Monitor compares them with the baseline)
            if (
                status == 200
                and variant is not None
                and cfg.capture_percent > 0
                and self.random.random() * 100 < cfg.capture_percent
            ):
                self._capture(cfg, variant, inference_id, scope, body, status, out, latency_ms, now)

    def _capture(
        self,
        cfg: EndpointConfig,
        variant: VariantConfig,
        inference_id: str,
        scope: Scope,
        body: bytes,
        status: int,
        out: bytes,
        latency_ms: float,
        now: float,
    ) -> None:
        limit = int(settings.SERVING_CAPTURE_MAX_RECORD_BYTES)
        request_body, request_cut = body_field(body, limit)
        response_body, response_cut = body_field(out, limit)
        record = {
            "inference_id": inference_id,
            "endpoint": cfg.name,
            "variant": variant.name,
            "model_version": variant.version_id,
            "time": datetime.fromtimestamp(now, UTC).isoformat(),
            "latency_ms": round(latency_ms, 3),
            "request": {"content_type": header(scope, b"content-type"), "body": request_body, "truncated": request_cut},
            "response": {"status": status, "body": response_body, "truncated": response_cut},
        }
        ok = self.capture.offer(cfg.project_id, cfg.name, record)
        self.metrics.record_capture(cfg.id, variant.name, now, dropped=not ok)

    # --- asynchronous -------------------------------------------------------------------------------------------

    async def async_route(
        self, scope: Scope, receive: Receive, send: Send, name: str, method: str, rest: list[str]
    ) -> None:
        await self._wait_ready()
        cfg = self.endpoint(name)
        if not rest:
            allow(method, "POST")
            self.authorize(scope, cfg)
            await self.async_submit(scope, receive, send, cfg)
            return
        if len(rest) > 2 or not UUID_RE.match(rest[0]) or (len(rest) == 2 and rest[1] != "result"):
            raise HTTPError(404, "Not found.")
        allow(method, "GET")
        self.authorize(scope, cfg)
        loop = asyncio.get_running_loop()
        if len(rest) == 1:
            from apps.endpoints.selectors import async_invocation_status

            status = partial(async_invocation_status, endpoint_id=cfg.id, inference_id=rest[0])
            data = await loop.run_in_executor(self.io_pool, _db_call, status)
            if data is None:
                raise HTTPError(404, "No such asynchronous request for this endpoint.")
            await respond(send, 200, orjson.dumps(data))
            return
        from apps.endpoints.selectors import async_invocation_output

        output = partial(async_invocation_output, endpoint_id=cfg.id, inference_id=rest[0])
        path = await loop.run_in_executor(self.io_pool, _db_call, output)
        if path is None:
            raise HTTPError(404, "No result for this request (unknown id, not finished, failed or expired).")
        await self._stream_file(send, path)

    async def _stream_file(self, send: Send, path: str) -> None:
        from apps.core.storage import storage

        loop = asyncio.get_running_loop()
        store = storage()
        size = await loop.run_in_executor(self.io_pool, store.size, path)
        handle = await loop.run_in_executor(self.io_pool, store.open, path, "rb")
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(size).encode()),
                        (b"x-content-type-options", b"nosniff"),
                        (b"cache-control", b"no-store"),
                    ],
                }
            )
            while True:
                chunk = await loop.run_in_executor(self.io_pool, handle.read, ASYNC_CHUNK)
                await send({"type": "http.response.body", "body": chunk, "more_body": bool(chunk)})
                if not chunk:
                    break
        finally:
            handle.close()

    async def async_submit(self, scope: Scope, receive: Receive, send: Send, cfg: EndpointConfig) -> None:
        if cfg.type != EndpointType.ASYNC:
            raise HTTPError(
                400, f"Endpoint {cfg.name!r} is not asynchronous: POST to /endpoints/{cfg.name}/invocations."
            )
        if not cfg.variants:
            raise HTTPError(503, f"Endpoint {cfg.name!r} has no approved model version to serve.")
        content_type = header(scope, b"content-type")
        with mapped_errors():
            kind = protocol.check_content_type(content_type)
        limit, setting = int(settings.SERVING_ASYNC_MAX_BYTES), "SERVING_ASYNC_MAX_BYTES"
        advice = ""
        if kind == "application/json" and int(settings.SERVING_ASYNC_JSON_MAX_BYTES) < limit:
            # CSV is read in chunks of rows; a JSON document is parsed whole, at several times its size in memory
            limit, setting = int(settings.SERVING_ASYNC_JSON_MAX_BYTES), "SERVING_ASYNC_JSON_MAX_BYTES"
            advice = (
                " JSON bodies are parsed whole, so they have a lower limit than CSV: send the rows as text/csv "
                f"(read in chunks, up to {int(settings.SERVING_ASYNC_MAX_BYTES):,} bytes)."
            )
        declared = content_length(scope)
        if declared is not None and declared > limit:
            raise HTTPError(
                413,
                f"The request body ({declared:,} bytes) is larger than the asynchronous limit of "
                f"{limit:,} bytes ({setting}).{advice}",
            )
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        probabilities = protocol.truthy((query.get("probabilities") or ["0"])[0])
        loop = asyncio.get_running_loop()
        size = 0
        with temp_path(".in", prefix="async-") as tmp:  # removed once its bytes are in storage
            too_large = f"The request body is larger than the asynchronous limit of {limit:,} bytes ({setting})."
            too_large += advice
            with open(tmp, "wb") as handle:
                async for chunk in body_chunks(receive, limit, too_large):
                    size += len(chunk)
                    if chunk:
                        await loop.run_in_executor(self.io_pool, handle.write, chunk)
            if size == 0:
                raise HTTPError(400, "The request body is empty.")
            from apps.endpoints.services import async_invocation_create

            create = partial(
                async_invocation_create,
                endpoint_id=cfg.id,
                local_file=tmp,
                size=size,
                content_type=kind,
                probabilities=probabilities,
            )
            data = await loop.run_in_executor(self.io_pool, _db_call, create)
        self.metrics.record(cfg.id, "", 202, 0.0, time.time())
        await respond(send, 202, orjson.dumps(data), [(b"x-inference-id", str(data["inference_id"]).encode())])


def encode(predictor: Any, labels: Any, proba: Any, probabilities: bool) -> bytes:
    from apps.registry.loading import predictions_answer

    return orjson.dumps(predictions_answer(predictor, labels, proba, probabilities=probabilities), option=JSON_OPTIONS)


def csv_rows(predictor: Any, body: bytes) -> Any:
    """A CSV body's rows, checked against the model's schema."""
    return predictor.check(protocol.parse_csv(body))


def predict_encoded(predictor: Any, X: Any, probabilities: bool) -> bytes:
    """A large request's prediction and its answer in one trip to the prediction thread."""
    labels, proba = predictor.predict_checked(X)
    return encode(predictor, labels, proba, probabilities)


def allow(method: str, expected: str) -> None:
    if method != expected and not (expected == "GET" and method == "HEAD"):
        raise HTTPError(405, f"Use {expected} here.", headers=[(b"allow", expected.encode())])


def _db_call(fn: Callable[[], Any]) -> Any:
    """Run a database function in an executor thread with fresh connections."""
    close_old_connections()
    try:
        return fn()
    finally:
        close_old_connections()
