"""Data capture: a sample of requests and responses written to storage as JSON Lines, off the request path.

`offer()` puts a record on a bounded queue without waiting; a full queue drops the record (counted in the minute's
`capture_dropped`). A writer thread drains the queue every SERVING_CAPTURE_FLUSH_S and writes one file per endpoint
and flush under

    projects/<project>/endpoints/<endpoint>/capture/<yyyy>/<mm>/<dd>/<hh>/<time>-<uuid>.jsonl

one record a line: {inference_id, endpoint, variant, model_version, time, latency_ms, request: {content_type, body,
truncated}, response: {status, body, truncated}}. Model Monitor reads these files."""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from django.conf import settings
from django.core.files.base import ContentFile

from apps.core.storage import project_path, storage

logger = logging.getLogger(__name__)


def capture_dir(project_id: int, endpoint: str) -> str:
    return project_path(project_id, "endpoints", endpoint, "capture")


def capture_file(project_id: int, endpoint: str, when: datetime) -> str:
    stamp = when.strftime("%Y%m%dT%H%M%S")
    return project_path(
        project_id,
        "endpoints",
        endpoint,
        "capture",
        when.strftime("%Y"),
        when.strftime("%m"),
        when.strftime("%d"),
        when.strftime("%H"),
        f"{stamp}-{uuid.uuid4().hex[:12]}.jsonl",
    )


def body_field(body: bytes, limit: int) -> tuple[str | None, bool]:
    if len(body) > limit:
        return None, True
    return body.decode("utf-8", errors="replace"), False


class CaptureWriter:
    def __init__(self, maxsize: int | None = None) -> None:
        self.queue: queue.Queue[tuple[int, str, dict[str, Any]]] = queue.Queue(
            maxsize=maxsize or int(settings.SERVING_CAPTURE_QUEUE)
        )
        self.written = 0
        self.dropped = 0

    def offer(self, project_id: int, endpoint: str, record: dict[str, Any]) -> bool:
        try:
            self.queue.put_nowait((project_id, endpoint, record))
            return True
        except queue.Full:
            self.dropped += 1
            return False

    def flush(self) -> int:
        """Write everything queued now; returns the number of records written."""
        groups: dict[tuple[int, str], list[dict[str, Any]]] = {}
        while True:
            try:
                project_id, endpoint, record = self.queue.get_nowait()
            except queue.Empty:
                break
            groups.setdefault((project_id, endpoint), []).append(record)
        n = 0
        now = datetime.now(UTC)
        for (project_id, endpoint), records in groups.items():
            data = b"".join(orjson.dumps(r, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n" for r in records)
            try:
                storage().save(capture_file(project_id, endpoint, now), ContentFile(data))
                n += len(records)
            except Exception:
                logger.exception("Could not write %d captured records of %s", len(records), endpoint)
        self.written += n
        return n

    def run_forever(self, stop: threading.Event) -> None:
        interval = float(settings.SERVING_CAPTURE_FLUSH_S)
        while not stop.wait(interval):
            self.flush()
        self.flush()
