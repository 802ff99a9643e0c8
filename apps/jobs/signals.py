"""Worker liveness for /readyz: each worker's main process writes a heartbeat row every few seconds.

(Connected in JobsConfig.ready; this is process plumbing, not business logic.)
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection

_stop = threading.Event()
logger = logging.getLogger(__name__)


def _beat(hostname: str, queues: str) -> None:
    from apps.jobs.services import worker_heartbeat_touch

    interval = max(1.0, min(10.0, settings.WORKER_SEEN_WITHIN_S / 4))
    while True:
        try:
            worker_heartbeat_touch(hostname=hostname, pid=os.getpid(), queues=queues)
        except Exception:  # noqa: BLE001 - keep beating through transient DB errors
            close_old_connections()
        if _stop.wait(interval):
            break
    connection.close()


def on_worker_ready(sender: Any = None, **kwargs: Any) -> None:
    hostname = getattr(sender, "hostname", None) or f"worker@{os.uname().nodename}"
    try:
        queues = ",".join(sorted(q.name for q in sender.app.amqp.queues.consume_from.values()))
    except Exception:  # noqa: BLE001
        queues = ""
    threading.Thread(target=_beat, args=(hostname, queues), name="worker-heartbeat", daemon=True).start()


def on_worker_shutdown(sender: Any = None, **kwargs: Any) -> None:
    from apps.jobs.services import worker_heartbeat_remove

    _stop.set()
    try:
        worker_heartbeat_remove(hostname=getattr(sender, "hostname", ""))
    except Exception:  # the DB may already be gone at shutdown; the row then just ages out
        logger.debug("could not remove worker heartbeat", exc_info=True)
