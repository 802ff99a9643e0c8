"""The embedded broker: kombu's filesystem transport (`CELERY_BROKER_URL=filesystem://`), with a worker that stops
at once when asked.

kombu's virtual transports wait for messages in `drain_events`, which the worker's loop calls with a 2 s timeout and
which polls the queue folder every `polling_interval`; a warm shutdown is only noticed between two such calls, so an
idle `make run` worker took 2-3 s to start stopping. Here the wait also ends when the worker is shutting down
(`stop_draining`, called from the worker's shutdown signal: apps/jobs/signals.py), before any message is taken, so
nothing is taken out of the queue and then dropped."""

from __future__ import annotations

import threading
import time
from queue import Empty
from typing import Any

from kombu.transport import filesystem

_stopping = threading.Event()


def stop_draining() -> None:
    """Make this process's waits for broker messages return now (safe from a signal handler)."""
    _stopping.set()


class FilesystemTransport(filesystem.Transport):
    def drain_events(self, connection: Any, timeout: Any = None, **kwargs: Any) -> Any:
        started = time.monotonic()
        while True:
            if _stopping.is_set():
                raise TimeoutError()
            try:
                self.cycle.get(self._deliver, timeout=timeout)  # type: ignore[attr-defined]
                return
            except Empty:
                if timeout is not None and time.monotonic() - started >= timeout:
                    raise TimeoutError() from None
                _stopping.wait(self.polling_interval or 0.1)
