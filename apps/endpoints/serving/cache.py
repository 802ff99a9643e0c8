"""Loaded models of a serving process, one per model version id.

Loading takes a per-version lock, so a burst of cold requests loads a version once. Dropping an entry (a version no
longer served, a serverless endpoint idle past its timeout) only forgets it: requests already holding the predictor
finish with it.

After a load the process's heap is frozen (`settle_heap`): everything alive then (Django, pandas, scikit-learn, the
models) moves out of the cyclic garbage collector's sight. Without it, each full collection walked those millions of
long-lived objects, stalling every request of the process for ~120 ms a few times a minute under load; that was the
p99 of small CSV requests (whose parsing allocates enough to trigger it). Requests' own garbage is collected as
before. After a drop the heap is thawed and collected once, so a dropped model's memory is given back."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)
FAILED_RETRY_S = 10.0


def settle_heap(*, thaw: bool = False) -> None:
    """Freeze what is alive now out of the garbage collector's sight; with `thaw`, first unfreeze and collect
    everything (one full pause: after a model is dropped, so that its memory is freed)."""
    if thaw:
        gc.unfreeze()
        gc.collect()
    else:
        gc.collect(1)  # young garbage first, so that it is not frozen for good
    gc.freeze()


class ModelLoadError(Exception):
    """The version's model could not be loaded (tampered artifact, unsafe file, missing file); see the message."""


@dataclass
class Entry:
    predictor: Any
    loaded_at: float
    last_used: float


class ModelCache:
    def __init__(self, loader: Callable[[Any], Any]) -> None:
        self._loader = loader
        self._entries: dict[int, Entry] = {}
        self._failed: dict[int, tuple[float, str]] = {}
        self._locks: dict[int, threading.Lock] = {}
        self._lock = threading.Lock()
        self.loads = 0  # how many times a model was loaded (tests and the page's "cold starts")
        self.drops = 0  # how many were dropped (the config thread thaws and collects the heap after a drop)

    def _version_lock(self, version_id: int) -> threading.Lock:
        with self._lock:
            lock = self._locks.get(version_id)
            if lock is None:
                lock = self._locks[version_id] = threading.Lock()
            return lock

    def peek(self, version_id: int) -> Any | None:
        entry = self._entries.get(version_id)
        return entry.predictor if entry else None

    def loaded(self, version_id: int) -> Any | None:
        """The version's predictor if it is loaded (counted as a use, as `get` counts it), else None."""
        entry = self._entries.get(version_id)
        if entry is None:
            return None
        entry.last_used = time.monotonic()
        return entry.predictor

    def loaded_ids(self) -> set[int]:
        return set(self._entries)

    def get(self, version: Any) -> tuple[Any, bool]:
        """(predictor, loaded_now) for a ModelVersion; ModelLoadError when it cannot be loaded."""
        predictor = self.loaded(version.pk)
        if predictor is not None:
            return predictor, False
        with self._version_lock(version.pk):
            predictor = self.loaded(version.pk)  # loaded by another request while this one waited for the lock
            if predictor is not None:
                return predictor, False
            failed = self._failed.get(version.pk)
            if failed is not None and time.monotonic() - failed[0] < FAILED_RETRY_S:
                raise ModelLoadError(failed[1])
            try:
                predictor = self._loader(version)
            except Exception as exc:
                message = f"Model version {version} could not be loaded: {exc}"
                logger.warning(message)
                self._failed[version.pk] = (time.monotonic(), message)
                raise ModelLoadError(message) from exc
            now = time.monotonic()
            self._entries[version.pk] = Entry(predictor, now, now)
            self._failed.pop(version.pk, None)
            self.loads += 1
            settle_heap()
            return predictor, True

    def drop(self, version_id: int) -> bool:
        with self._lock:
            dropped = self._entries.pop(version_id, None) is not None
            self.drops += dropped
            return dropped

    def retain(self, keep: set[int]) -> None:
        for version_id in list(self._entries):
            if version_id not in keep:
                self.drop(version_id)

    def idle_since(self, version_id: int) -> float | None:
        entry = self._entries.get(version_id)
        return None if entry is None else time.monotonic() - entry.last_used
