"""Worker process plumbing (connected in JobsConfig.ready; no business logic here):

- liveness for /readyz: each worker's main process writes a heartbeat row every few seconds;
- orderly shutdown: when the main process is asked to stop (SIGTERM, Ctrl-C), it tells its pool processes with
  SIGURG; a job running there hands itself back to the queue without using up an attempt (apps/jobs/runtime.py).
  SIGURG because its default action is to ignore it (an idle pool process, or one started before this handler, is
  not hurt), no terminal sends it, and billiard does not take it over in pool processes as it does SIGUSR1/SIGUSR2.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
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


def on_worker_shutting_down(sig: str = "", how: str = "", **kwargs: Any) -> None:
    """In the worker's main process, from its signal handler: tell the pool processes that running jobs must hand
    themselves back (SIGURG; see on_pool_process_init)."""
    from billiard.process import active_children

    from apps.jobs.broker import stop_draining

    stop_draining()  # the embedded broker's wait for messages ends now, not at its next 2 s timeout
    for child in active_children():
        if child.pid:
            try:
                os.kill(child.pid, signal.SIGURG)
            except (ProcessLookupError, PermissionError):
                pass


def on_pool_process_init(**kwargs: Any) -> None:
    """In each pool process: SIGURG asks the job running here (if any) to hand itself back."""
    from apps.jobs.runtime import request_shutdown

    signal.signal(signal.SIGURG, lambda *_: request_shutdown())


def on_worker_shutdown(sender: Any = None, **kwargs: Any) -> None:
    from apps.jobs.services import worker_heartbeat_remove

    _stop.set()
    try:
        worker_heartbeat_remove(hostname=getattr(sender, "hostname", ""))
    except Exception:  # the DB may already be gone at shutdown; the row then just ages out
        logger.debug("could not remove worker heartbeat", exc_info=True)
    if settings.WORKER_FAST_EXIT and getattr(sender, "pool", None) is not None:
        # The pool has stopped and every task ended or was handed back; what is left is the interpreter's teardown
        # of a large heap and billiard's exit handlers (~3 s measured), which hold up a restart for nothing.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(getattr(sender, "exitcode", 0) or 0)
