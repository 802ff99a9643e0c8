"""Hyperparameter ranges: continuous, integer or categorical, on a linear or log scale; validated from JSON."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import optuna

CONTINUOUS = "continuous"
INTEGER = "integer"
CATEGORICAL = "categorical"
RANGE_TYPES = (CONTINUOUS, INTEGER, CATEGORICAL)
SCALES = ("linear", "log")


class SpecError(ValueError):
    """A hyperparameter spec that cannot be used; ``field`` names the offending entry."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class ParamRange:
    name: str
    type: str
    low: float | None = None
    high: float | None = None
    scale: str = "linear"
    values: tuple[Any, ...] = ()

    def suggest(self, trial: optuna.Trial) -> Any:
        if self.type == CATEGORICAL:
            return trial.suggest_categorical(self.name, list(self.values))
        log = self.scale == "log"
        if self.type == INTEGER:
            return trial.suggest_int(self.name, int(self.low or 0), int(self.high or 0), log=log)
        return trial.suggest_float(self.name, float(self.low or 0.0), float(self.high or 0.0), log=log)

    def distribution(self) -> optuna.distributions.BaseDistribution:
        if self.type == CATEGORICAL:
            return optuna.distributions.CategoricalDistribution(list(self.values))
        if self.type == INTEGER:
            return optuna.distributions.IntDistribution(
                int(self.low or 0), int(self.high or 0), log=self.scale == "log"
            )
        return optuna.distributions.FloatDistribution(
            float(self.low or 0.0), float(self.high or 0.0), log=self.scale == "log"
        )

    def grid(self, points: int) -> list[Any]:
        """Evenly spaced values (on the range's scale) for grid search."""
        if self.type == CATEGORICAL:
            return list(self.values)
        lo, hi = float(self.low or 0.0), float(self.high or 0.0)
        if points <= 1 or lo == hi:
            return [int(lo) if self.type == INTEGER else lo]
        if self.scale == "log":
            vals = [math.exp(math.log(lo) + (math.log(hi) - math.log(lo)) * i / (points - 1)) for i in range(points)]
        else:
            vals = [lo + (hi - lo) * i / (points - 1) for i in range(points)]
        vals = [min(hi, max(lo, v)) for v in vals]
        vals[0], vals[-1] = lo, hi
        if self.type == INTEGER:
            return sorted({round(v) for v in vals})
        return vals

    def contains(self, value: Any) -> bool:
        if self.type == CATEGORICAL:
            return value in self.values
        try:
            v = float(value)
        except (TypeError, ValueError):
            return False
        if self.type == INTEGER and v != round(v):
            return False
        return float(self.low or 0.0) <= v <= float(self.high or 0.0)

    def as_dict(self) -> dict[str, Any]:
        if self.type == CATEGORICAL:
            return {"type": self.type, "values": list(self.values)}
        return {"type": self.type, "min": self.low, "max": self.high, "scale": self.scale}


def cont(name: str, low: float, high: float, log: bool = False) -> ParamRange:
    return ParamRange(name, CONTINUOUS, low, high, "log" if log else "linear")


def integer(name: str, low: int, high: int, log: bool = False) -> ParamRange:
    return ParamRange(name, INTEGER, low, high, "log" if log else "linear")


def cat(name: str, *values: Any) -> ParamRange:
    return ParamRange(name, CATEGORICAL, values=tuple(values))


def parse_range(name: str, spec: Any) -> ParamRange:
    """One range from its JSON form: {"type": "continuous"|"integer", "min", "max", "scale"?} or
    {"type": "categorical", "values": [...]}."""
    where = f"ranges.{name}"
    if not isinstance(spec, dict):
        raise SpecError(f"{where} must be an object with a 'type'.", where)
    kind = spec.get("type")
    if kind not in RANGE_TYPES:
        raise SpecError(f"{where}.type must be one of {', '.join(RANGE_TYPES)}, not {kind!r}.", f"{where}.type")
    unknown = set(spec) - {"type", "min", "max", "scale", "values"}
    if unknown:
        raise SpecError(f"{where} has unknown keys: {', '.join(sorted(unknown))}.", where)
    if kind == CATEGORICAL:
        values = spec.get("values")
        if not isinstance(values, list) or not values:
            raise SpecError(f"{where}.values must be a non-empty list.", f"{where}.values")
        if any(not isinstance(v, (str, int, float, bool)) and v is not None for v in values):
            raise SpecError(f"{where}.values may hold only strings, numbers, booleans or null.", f"{where}.values")
        if len({repr(v) for v in values}) != len(values):
            raise SpecError(f"{where}.values has duplicates.", f"{where}.values")
        return ParamRange(name, CATEGORICAL, values=tuple(values))
    scale = spec.get("scale", "linear")
    if scale not in SCALES:
        raise SpecError(f"{where}.scale must be 'linear' or 'log', not {scale!r}.", f"{where}.scale")
    lo, hi = spec.get("min"), spec.get("max")
    for key, v in (("min", lo), ("max", hi)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise SpecError(f"{where}.{key} must be a finite number.", f"{where}.{key}")
        if kind == INTEGER and v != round(v):
            raise SpecError(f"{where}.{key} must be a whole number for an integer range.", f"{where}.{key}")
    assert lo is not None and hi is not None
    if lo > hi:
        raise SpecError(f"{where}: min ({lo}) is greater than max ({hi}).", where)
    if scale == "log" and lo <= 0:
        raise SpecError(f"{where}: a log-scale range needs min > 0.", f"{where}.min")
    if kind == INTEGER:
        return ParamRange(name, INTEGER, int(lo), int(hi), scale)
    return ParamRange(name, CONTINUOUS, float(lo), float(hi), scale)
