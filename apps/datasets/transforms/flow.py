"""The flow executor: runs the DAG of steps of a Data Wrangler flow over pandas DataFrames.

A flow is JSON::

    {"format": 1,
     "sources": [{"id": "src1", "name": "orders", "dataset_version": 12}],
     "steps": [{"id": "s1", "op": "drop_columns", "op_version": 1, "inputs": ["src1"],
                "parameters": {"columns": ["a"]}, "trained_parameters": null, "label": "optional"}]}

A step's inputs are source ids or ids of earlier steps, so the list order is a topological order.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from .base import (
    FlowError,
    Operator,
    StepError,
    TransformError,
    UnknownOperatorError,
    get_operator,
    json_roundtrip,
    script_function,
)

FLOW_FORMAT = 1
PREVIEW_ROWS = 50_000


@dataclass(frozen=True)
class StepDef:
    id: str
    op: str
    op_version: int
    inputs: list[str]
    parameters: dict[str, Any]
    trained_parameters: dict[str, Any] | None
    label: str | None = None

    def describe(self, operator: Operator | None = None) -> str:
        """``Step 's3' (Impute missing)``: how error messages name the step."""
        title = operator.title if operator is not None else f"{self.op}@{self.op_version}"
        label = f"{self.label}, " if self.label else ""
        return f"Step {self.id!r} ({label}{title})"


@dataclass(frozen=True)
class FlowDef:
    sources: list[str]
    steps: list[StepDef]

    def step(self, step_id: str) -> StepDef:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise FlowError(f"Flow has no step {step_id!r}. Steps: {', '.join(s.id for s in self.steps) or '(none)'}.")

    def needed(self, target: str | None) -> list[StepDef]:
        """Steps that ``target`` depends on (itself included), in flow order; every step when None."""
        if target is None:
            return list(self.steps)
        wanted = {target}
        for step in reversed(self.steps):
            if step.id in wanted:
                wanted.update(step.inputs)
        return [s for s in self.steps if s.id in wanted]


@dataclass
class FlowResult:
    """Outputs per step id, the flow with updated ``trained_parameters``, and seconds spent per step."""

    outputs: dict[str, pd.DataFrame]
    flow: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    target: str | None = None

    @property
    def output(self) -> pd.DataFrame:
        """The output of ``until`` (or of the last step)."""
        if self.target is None:
            raise FlowError("The flow has no steps.")
        return self.outputs[self.target]


# --------------------------------------------------------------------------------------------
# Structure
# --------------------------------------------------------------------------------------------


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise FlowError(message)


def parse_flow(flow: Mapping[str, Any]) -> FlowDef:
    """Check the structure of a flow document (not the parameters). Raises FlowError / StepError."""
    _require(isinstance(flow, Mapping), "A flow must be a JSON object.")
    _require(flow.get("format") == FLOW_FORMAT, f"Unsupported flow format {flow.get('format')!r} (expected 1).")
    sources = flow.get("sources") or []
    steps = flow.get("steps") or []
    _require(isinstance(sources, list) and isinstance(steps, list), "'sources' and 'steps' must be lists.")
    source_ids: list[str] = []
    for source in sources:
        _require(
            isinstance(source, Mapping) and isinstance(source.get("id"), str) and bool(source["id"]),
            "Every source needs a non-empty text 'id'.",
        )
        _require(source["id"] not in source_ids, f"Source id {source['id']!r} is used twice.")
        source_ids.append(source["id"])
    known = set(source_ids)
    parsed: list[StepDef] = []
    for raw in steps:
        step = _parse_step(raw, known)
        known.add(step.id)
        parsed.append(step)
    return FlowDef(sources=source_ids, steps=parsed)


def _parse_step(raw: Any, known: set[str]) -> StepDef:
    _require(
        isinstance(raw, Mapping) and isinstance(raw.get("id"), str) and bool(raw["id"]),
        "Every step needs a non-empty text 'id'.",
    )
    step_id: str = raw["id"]
    op = raw.get("op")
    version = raw.get("op_version", 1)

    def fail(message: str) -> StepError:
        return StepError(step_id, str(op), f"Step {step_id!r}: {message}")

    if step_id in known:
        raise fail("this id is already used by a source or an earlier step.")
    if not isinstance(op, str) or not op:
        raise fail("'op' must name an operator.")
    if isinstance(version, bool) or not isinstance(version, int):
        raise fail("'op_version' must be an integer.")
    inputs = raw.get("inputs")
    if not isinstance(inputs, list) or not inputs or not all(isinstance(i, str) for i in inputs):
        raise fail("'inputs' must be a non-empty list of source or step ids.")
    unknown = [i for i in inputs if i not in known]
    if unknown:
        raise fail(f"input(s) {', '.join(map(repr, unknown))} are not sources or earlier steps.")
    parameters = raw.get("parameters") or {}
    trained = raw.get("trained_parameters")
    if not isinstance(parameters, Mapping):
        raise fail("'parameters' must be an object.")
    if trained is not None and not isinstance(trained, Mapping):
        raise fail("'trained_parameters' must be an object or null.")
    label = raw.get("label")
    return StepDef(
        id=step_id,
        op=op,
        op_version=version,
        inputs=list(inputs),
        parameters=dict(parameters),
        trained_parameters=dict(trained) if trained is not None else None,
        label=label if isinstance(label, str) and label else None,
    )


def resolve_operator(step: StepDef) -> Operator:
    """The step's operator, checking it exists and accepts the number of inputs."""
    try:
        operator = get_operator(step.op, step.op_version)
    except UnknownOperatorError as exc:
        raise StepError(step.id, step.op, f"{step.describe()}: {exc.message}") from exc
    count = len(step.inputs)
    if count < operator.min_inputs or (operator.max_inputs is not None and count > operator.max_inputs):
        wanted = (
            str(operator.min_inputs)
            if operator.min_inputs == operator.max_inputs
            else f"{operator.min_inputs} to {operator.max_inputs or 'any number of'}"
        )
        raise StepError(step.id, step.op, f"{step.describe(operator)}: takes {wanted} input(s), got {count}.")
    return operator


def validate_flow(flow: Mapping[str, Any]) -> FlowDef:
    """Everything that can be checked without data: structure, operators, input counts, parameter types."""
    parsed = parse_flow(flow)
    for step in parsed.steps:
        operator = resolve_operator(step)
        try:
            operator.normalize(step.parameters)
        except TransformError as exc:
            raise step_error(step, operator, exc) from exc
    return parsed


def step_error(step: StepDef, operator: Operator | None, exc: BaseException) -> StepError:
    if isinstance(exc, TransformError):
        reason, details = exc.message, exc.details
    else:
        reason, details = describe_exception(exc), {}
    details = {k: v for k, v in details.items() if k not in ("step_id", "op")}
    return StepError(step.id, step.op, f"{step.describe(operator)}: {reason}", **details)


def describe_exception(exc: BaseException) -> str:
    if isinstance(exc, ValueError):
        return str(exc)
    if isinstance(exc, KeyError):
        return f"missing {exc} (the trained parameters may be out of date: run the flow with refit)"
    return f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------------------------
# Execution
# --------------------------------------------------------------------------------------------


@script_function()
def prepare_source(df: pd.DataFrame) -> pd.DataFrame:
    """Sources are used with a fresh 0..n-1 row index."""
    if isinstance(df.index, pd.RangeIndex) and df.index.start == 0 and df.index.step == 1:
        return df
    return df.reset_index(drop=True)


def run_flow(
    flow: Mapping[str, Any],
    sources: Mapping[str, pd.DataFrame],
    *,
    refit: bool,
    until: str | None = None,
    keep: Literal["all", "final"] = "all",
    on_step: Callable[[StepDef], None] | None = None,
) -> FlowResult:
    """Run the flow (or only what step ``until`` needs) over ``sources`` (source id -> DataFrame).

    ``refit=True`` fits every stateful step on the data it receives now (a run on the full data);
    ``refit=False`` reuses the stored ``trained_parameters`` and fits only the steps that have none.
    The returned ``flow`` is a copy with ``trained_parameters`` filled in. ``keep='final'`` frees
    intermediate outputs and keeps only ``until`` (or the steps nothing else consumes). ``on_step`` is
    called with each step before it runs (a sandbox uses it to name the step that ran out of time).
    """
    parsed = parse_flow(flow)
    target = until if until is not None else (parsed.steps[-1].id if parsed.steps else None)
    if until is not None:
        parsed.step(until)
    steps = parsed.needed(until)
    frames = _load_sources(parsed, steps, sources)
    keep_ids = _kept_ids(steps, target if until is not None else None) if keep == "final" else None
    last_use = {i: n for n, step in enumerate(steps) for i in step.inputs}
    updated = copy.deepcopy(dict(flow))
    raw_steps = {s["id"]: s for s in updated.get("steps") or []}
    timings: dict[str, float] = {}
    for index, step in enumerate(steps):
        if on_step is not None:
            on_step(step)
        started = time.perf_counter()
        output, trained = run_step(step, [frames[i] for i in step.inputs], refit=refit)
        frames[step.id] = output
        raw_steps[step.id]["trained_parameters"] = trained
        timings[step.id] = time.perf_counter() - started
        if keep_ids is not None:
            for name in step.inputs:
                if last_use.get(name) == index and name not in keep_ids:
                    frames.pop(name, None)
    outputs = {s.id: frames[s.id] for s in steps if s.id in frames and (keep_ids is None or s.id in keep_ids)}
    return FlowResult(outputs=outputs, flow=updated, timings=timings, target=target)


def _load_sources(
    parsed: FlowDef,
    steps: Sequence[StepDef],
    sources: Mapping[str, pd.DataFrame],
) -> dict[str, pd.DataFrame]:
    wanted = [s for s in parsed.sources if any(s in step.inputs for step in steps)]
    missing = [s for s in wanted if s not in sources]
    if missing:
        raise FlowError(f"No data given for source(s) {', '.join(map(repr, missing))}.", sources=missing)
    frames = {}
    for source_id in wanted:
        frame = sources[source_id]
        if not isinstance(frame, pd.DataFrame):
            raise FlowError(f"Source {source_id!r} must be a pandas DataFrame.", sources=[source_id])
        frames[source_id] = prepare_source(frame)
    return frames


def _kept_ids(steps: Sequence[StepDef], target: str | None) -> set[str]:
    if target is not None:
        return {target}
    consumed = {i for step in steps for i in step.inputs}
    return {s.id for s in steps if s.id not in consumed}


def run_step(
    step: StepDef,
    inputs: Sequence[pd.DataFrame],
    *,
    refit: bool,
) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """Validate, fit if needed and apply one step. Every failure becomes a StepError naming the step."""
    operator = resolve_operator(step)
    try:
        with np.errstate(all="ignore"):
            params = operator.validate(step.parameters, inputs, step.inputs)
            trained = None
            if operator.stateful:
                trained = step.trained_parameters
                if refit or trained is None:
                    trained = operator.fit_validated(inputs[0], params)
                else:
                    trained = json_roundtrip(trained)
            output = operator.apply_validated(inputs, params, trained, step.inputs)
        _check_output(output)
    except Exception as exc:
        raise step_error(step, operator, exc) from exc
    return output, trained


def _check_output(output: Any) -> None:
    if not isinstance(output, pd.DataFrame):
        raise TransformError(f"produced {type(output).__name__} instead of a table.")
    names = list(output.columns)
    odd = [n for n in names if not isinstance(n, str)]
    if odd:
        raise TransformError(f"produced column names that are not text: {odd[:5]}.")
    repeated = sorted({n for n in names if names.count(n) > 1}) if len(set(names)) != len(names) else []
    if repeated:
        raise TransformError(f"produced duplicate column names: {', '.join(map(repr, repeated))}.")


def sample_sources(
    sources: Mapping[str, pd.DataFrame],
    rows: int = PREVIEW_ROWS,
    method: Literal["head", "random"] = "head",
    seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """At most ``rows`` rows of each source: the first ones, or a random subset kept in order."""
    sampled = {}
    for name, frame in sources.items():
        if len(frame) <= rows:
            sampled[name] = frame
        elif method == "head":
            sampled[name] = frame.iloc[:rows]
        else:
            positions = np.sort(np.random.default_rng(seed).choice(len(frame), size=rows, replace=False))
            sampled[name] = frame.iloc[positions]
    return sampled


def preview_step(
    flow: Mapping[str, Any],
    sources: Mapping[str, pd.DataFrame],
    step_id: str,
    *,
    rows: int = PREVIEW_ROWS,
    method: Literal["head", "random"] = "head",
    seed: int = 0,
    on_step: Callable[[StepDef], None] | None = None,
) -> FlowResult:
    """Run what ``step_id`` needs on a sample of each source, fitting stateful steps on that sample.

    ``result.output`` is the step's output; ``result.flow`` carries the sample-fitted trained
    parameters (a later ``run_flow(..., refit=True)`` on the full data replaces them).
    """
    sample = sample_sources(sources, rows=rows, method=method, seed=seed)
    return run_flow(flow, sample, refit=True, until=step_id, on_step=on_step)
