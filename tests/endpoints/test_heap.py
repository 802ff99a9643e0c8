"""The serving process freezes its heap after loading models (apps/endpoints/serving/cache.settle_heap), so that
full garbage collections no longer walk the long-lived objects (they stalled every request for ~120 ms), and thaws
and collects it after a model is dropped, so that the dropped model's memory is freed."""

from __future__ import annotations

import gc
import weakref
from types import SimpleNamespace

from apps.endpoints.serving.app import ServingApp


class Cyclic:
    """A model that only the cyclic collector can free (it refers to itself)."""

    def __init__(self) -> None:
        self.me = self
        self.weights = list(range(1000))


def test_a_loaded_model_is_frozen_and_freed_after_it_is_dropped() -> None:
    app = ServingApp(background=False, loader=lambda version: Cyclic())
    try:
        predictor, cold = app.models.get(SimpleNamespace(pk=7))
        assert cold and gc.get_freeze_count() > 0
        assert app.settle(-1) == 0  # the process is up: frozen, nothing dropped yet
        ref = weakref.ref(predictor)
        del predictor
        assert app.models.drop(7)
        gc.collect()
        assert ref() is not None, "frozen: a full collection no longer looks at it"
        assert app.settle(0) == 1  # a drop was seen: thawed, collected, frozen again
        assert ref() is None, "the dropped model's memory was freed"
        assert app.settle(1) == 1  # nothing new: no collection
    finally:
        app.pool.shutdown(wait=False)
        app.io_pool.shutdown(wait=False)
        gc.unfreeze()
