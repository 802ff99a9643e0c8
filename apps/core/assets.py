"""What a project holds, per asset type. Each app registers a counter for its assets here, so the
storage report (and later the Model Dashboard) can list every asset type without knowing the apps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class AssetCount:
    asset_type: str
    count: int
    bytes: int


AssetCounter = Callable[[int], list[AssetCount]]
_COUNTERS: dict[str, AssetCounter] = {}


def register_asset_counter(name: str) -> Callable[[AssetCounter], AssetCounter]:
    def register(fn: AssetCounter) -> AssetCounter:
        _COUNTERS[name] = fn
        return fn

    return register


def asset_counters() -> dict[str, AssetCounter]:
    return dict(_COUNTERS)
