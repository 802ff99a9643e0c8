"""Operator base classes, parameter specs, errors, JSON helpers and the operator registry.

An operator is a small class that declares its name, version, title, group, description and a
parameter spec (a list of :class:`Param`) that a UI renders as a form. Its work is done by a
*kernel*: a module-level function that uses only pandas/numpy (and ``re``/``math``/``json``), so
the same function can be copied verbatim into an exported script (see ``export.py``).

No Django imports here or anywhere in this package.
"""

from __future__ import annotations

import copy
import datetime as dt
import inspect
import json
import math
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

ParamType = Literal["column", "columns", "string", "number", "integer", "boolean", "choice", "expression", "json"]
ColumnKind = Literal["numeric", "string", "datetime", "categorical"]
PARAM_TYPES: tuple[str, ...] = (
    "column",
    "columns",
    "string",
    "number",
    "integer",
    "boolean",
    "choice",
    "expression",
    "json",
)
MAX_LISTED_COLUMNS = 40


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class TransformError(Exception):
    """Base error of the transform engine. ``message`` is text a person can act on."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = {k: v for k, v in details.items() if v is not None}

    def __str__(self) -> str:
        return self.message


class ParameterError(TransformError):
    """A step parameter is missing, has the wrong type, or names a column that does not exist."""

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        columns: Sequence[str] | None = None,
        available: Sequence[str] | None = None,
    ) -> None:
        super().__init__(
            message,
            param=param,
            columns=list(columns) if columns is not None else None,
            available=list(available) if available is not None else None,
        )
        self.param = param
        self.columns = list(columns or [])
        self.available = list(available or [])


class ExpressionError(TransformError):
    """An expression is malformed, uses a forbidden construct, or fails to evaluate."""

    def __init__(self, message: str, *, construct: str | None = None) -> None:
        super().__init__(message, construct=construct)
        self.construct = construct


class UnknownOperatorError(TransformError):
    """No operator is registered under that name (and version)."""


class FlowError(TransformError):
    """The flow document itself is malformed (not tied to one step), or a source is missing."""


class StepError(TransformError):
    """A step of a flow failed. ``message`` says which step and why."""

    def __init__(self, step_id: str, op: str, message: str, **details: Any) -> None:
        super().__init__(message, step_id=step_id, op=op, **details)
        self.step_id = step_id
        self.op = op


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def quote_list(names: Sequence[Any], limit: int = MAX_LISTED_COLUMNS) -> str:
    """``'a', 'b', 'c'`` (truncated with a count after ``limit`` names)."""
    shown = ", ".join(repr(str(n)) for n in list(names)[:limit])
    extra = len(names) - limit
    return f"{shown}, ... ({extra} more)" if extra > 0 else (shown or "(none)")


def comment(text: str) -> str:
    """``text`` on one line, safe to put after ``#`` in generated code."""
    return " ".join(str(text).splitlines())


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def to_json_value(value: Any) -> Any:
    """Convert fitted values to plain JSON (no numpy types, no NaN/inf: those become ``None``)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be strings, got {key!r}")
            out[key] = to_json_value(item)
        return out
    if isinstance(value, (list, tuple, np.ndarray, pd.Index, pd.Series)):
        return [to_json_value(item) for item in list(value)]
    raise TypeError(f"Value of type {type(value).__name__} cannot be stored as JSON")


def json_roundtrip(value: Any) -> Any:
    """Plain JSON copy of ``value``: exactly what a stored flow (or an exported script) reads back."""
    return json.loads(json.dumps(to_json_value(value), allow_nan=False))


def column_kind_ok(dtype: Any, kind: ColumnKind) -> bool:
    if kind == "numeric":
        return bool(pd.api.types.is_numeric_dtype(dtype)) and not pd.api.types.is_bool_dtype(dtype)
    if kind == "datetime":
        return bool(pd.api.types.is_datetime64_any_dtype(dtype))
    if kind == "string":
        return isinstance(dtype, pd.StringDtype) or pd.api.types.is_object_dtype(dtype)
    # categorical: anything that is not a float or a datetime
    return not pd.api.types.is_float_dtype(dtype) and not pd.api.types.is_datetime64_any_dtype(dtype)


KIND_TEXT: dict[str, str] = {
    "numeric": "a numeric column",
    "string": "a text (string) column",
    "datetime": "a datetime column (convert it first with the 'Cast column type' step)",
    "categorical": "a categorical column (text, category, boolean or integer)",
}


def require_columns(param: str, names: Sequence[str], df: pd.DataFrame, where: str = "") -> None:
    """Raise a :class:`ParameterError` naming every missing column and listing the available ones."""
    available = [str(c) for c in df.columns]
    missing = [n for n in names if n not in df.columns]
    if missing:
        noun = "Column" if len(missing) == 1 else "Columns"
        raise ParameterError(
            f"Parameter '{param}': {noun.lower()} {quote_list(missing)} not found{where}. "
            f"Available columns: {quote_list(available)}.",
            param=param,
            columns=missing,
            available=available,
        )


def require_new_column(param: str, name: str, df: pd.DataFrame) -> None:
    if name in df.columns:
        raise ParameterError(f"Parameter '{param}': a column named {name!r} already exists.", param=param)


# --------------------------------------------------------------------------------------------
# Script functions (kernels and their helpers)
# --------------------------------------------------------------------------------------------

_SCRIPT_DEPS: dict[Callable[..., Any], tuple[Callable[..., Any], ...]] = {}


def script_function(*deps: Callable[..., Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a module-level function as copyable into an exported script, declaring the helpers it calls.

    Script functions may use only builtins, ``np``, ``pd``, ``math``, ``re``, ``json`` and the
    functions listed in ``deps`` (a test checks this for every registered operator).
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        _SCRIPT_DEPS[fn] = tuple(deps)
        return fn

    return decorate


def script_dependencies(fn: Callable[..., Any]) -> tuple[Callable[..., Any], ...]:
    return _SCRIPT_DEPS.get(fn, ())


def collect_script_functions(roots: Sequence[Callable[..., Any]]) -> list[Callable[..., Any]]:
    """The functions ``roots`` need, dependencies first, each once."""
    ordered: list[Callable[..., Any]] = []
    seen: set[Callable[..., Any]] = set()

    def visit(fn: Callable[..., Any]) -> None:
        if fn in seen:
            return
        seen.add(fn)
        for dep in script_dependencies(fn):
            visit(dep)
        ordered.append(fn)

    for root in roots:
        visit(root)
    return ordered


def script_source(fn: Callable[..., Any]) -> str:
    """Source of a script function without its decorator lines."""
    lines = textwrap.dedent(inspect.getsource(fn)).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("def "))
    return "\n".join(lines[start:]) + "\n"


# --------------------------------------------------------------------------------------------
# Parameter spec
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One field of an operator's parameter form."""

    name: str
    type: ParamType
    label: str = ""
    required: bool = False
    default: Any = None
    choices: tuple[Any, ...] | None = None
    multiple: bool = False
    minimum: float | None = None
    maximum: float | None = None
    input: int | Literal["all"] = 0
    kind: ColumnKind | None = None
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "label": self.label or self.name.replace("_", " ").capitalize(),
            "required": self.required,
            "default": copy.deepcopy(self.default),
            "choices": list(self.choices) if self.choices is not None else None,
            "multiple": self.multiple,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "input": self.input,
            "column_kind": self.kind,
            "description": self.description,
        }

    # -- schema-free checks -------------------------------------------------------------------

    def coerce(self, value: Any) -> Any:
        checker = _COERCERS[self.type]
        return checker(self, value)

    def fail(self, expected: str, value: Any) -> ParameterError:
        shown = repr(value) if not isinstance(value, (dict, list)) else type_name(value)
        return ParameterError(
            f"Parameter '{self.name}' must be {expected}, got {shown} ({type_name(value)}).",
            param=self.name,
        )

    def check_range(self, value: float) -> None:
        if self.minimum is not None and value < self.minimum:
            raise ParameterError(
                f"Parameter '{self.name}' must be at least {self.minimum:g}, got {value!r}.",
                param=self.name,
            )
        if self.maximum is not None and value > self.maximum:
            raise ParameterError(
                f"Parameter '{self.name}' must be at most {self.maximum:g}, got {value!r}.",
                param=self.name,
            )


def _coerce_column(spec: Param, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise spec.fail("a column name (text)", value)
    return value


def _coerce_columns(spec: Param, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise spec.fail("a list of column names", value)
    duplicates = sorted({v for v in value if value.count(v) > 1})
    if duplicates:
        raise ParameterError(
            f"Parameter '{spec.name}' lists column(s) {quote_list(duplicates)} more than once.",
            param=spec.name,
        )
    if spec.required and not value:
        raise ParameterError(f"Parameter '{spec.name}' needs at least one column.", param=spec.name)
    return list(value)


def _coerce_string(spec: Param, value: Any) -> str:
    if not isinstance(value, str):
        raise spec.fail("text", value)
    return value


def _coerce_number(spec: Param, value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise spec.fail("a finite number", value)
    spec.check_range(value)
    return value


def _coerce_integer(spec: Param, value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise spec.fail("an integer", value)
    spec.check_range(value)
    return value


def _coerce_boolean(spec: Param, value: Any) -> bool:
    if not isinstance(value, bool):
        raise spec.fail("true or false", value)
    return value


def _coerce_choice(spec: Param, value: Any) -> Any:
    choices = list(spec.choices or ())
    if spec.multiple:
        if not isinstance(value, list) or not value:
            raise spec.fail(f"a non-empty list of values among {quote_list(choices)}", value)
        bad = [v for v in value if v not in choices]
        if bad:
            raise ParameterError(
                f"Parameter '{spec.name}': {quote_list(bad)} not allowed. Choose among {quote_list(choices)}.",
                param=spec.name,
            )
        return list(dict.fromkeys(value))
    if value not in choices or isinstance(value, (list, dict)):
        raise ParameterError(
            f"Parameter '{spec.name}' must be one of {quote_list(choices)}, got {value!r}.",
            param=spec.name,
        )
    return value


def _coerce_expression(spec: Param, value: Any) -> str:
    from .expressions import parse_expression  # local import: expressions imports this module

    if not isinstance(value, str) or not value.strip():
        raise spec.fail("an expression (text)", value)
    try:
        parse_expression(value)
    except ExpressionError as exc:
        raise ParameterError(f"Parameter '{spec.name}': {exc.message}", param=spec.name) from exc
    return value


def _coerce_json(spec: Param, value: Any) -> Any:
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise spec.fail("plain JSON", value) from exc


_COERCERS: dict[str, Callable[[Param, Any], Any]] = {
    "column": _coerce_column,
    "columns": _coerce_columns,
    "string": _coerce_string,
    "number": _coerce_number,
    "integer": _coerce_integer,
    "boolean": _coerce_boolean,
    "choice": _coerce_choice,
    "expression": _coerce_expression,
    "json": _coerce_json,
}


# --------------------------------------------------------------------------------------------
# Operators
# --------------------------------------------------------------------------------------------

Params = dict[str, Any]
Trained = dict[str, Any]


class CodeRef:
    """Stands in for trained parameters when rendering code: ``ref["k"]`` renders as ``TRAINED[...]["k"]``."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __repr__(self) -> str:
        return self.code

    def __getitem__(self, key: str) -> CodeRef:
        return CodeRef(f"{self.code}[{key!r}]")


@dataclass(frozen=True)
class Snippet:
    """Code for one step of an exported script: ``lines`` assign the step's output variable."""

    lines: list[str]
    functions: list[Callable[..., Any]]


class Operator:
    """A transform with one input. Subclasses set the class attributes and a ``kernel``.

    ``kernel`` is a script function ``kernel(df, **kernel_args(params, trained)) -> DataFrame``.
    Stateful operators also implement ``_fit(df, params) -> dict`` (plain JSON after conversion).
    """

    name: ClassVar[str]
    version: ClassVar[int] = 1
    title: ClassVar[str]
    group: ClassVar[str]
    description: ClassVar[str]
    params: ClassVar[tuple[Param, ...]] = ()
    stateful: ClassVar[bool] = False
    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int | None] = 1
    kernel: ClassVar[Callable[..., pd.DataFrame]]

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    def spec(self) -> dict[str, Any]:
        """The operator as plain JSON, for the UI to render its form."""
        return {
            "name": self.name,
            "version": self.version,
            "title": self.title,
            "group": self.group,
            "description": self.description,
            "stateful": self.stateful,
            "inputs": {"min": self.min_inputs, "max": self.max_inputs},
            "parameters": [p.to_dict() for p in self.params],
        }

    # -- validation ---------------------------------------------------------------------------

    def normalize(self, params: Mapping[str, Any] | None) -> Params:
        """Check types, fill defaults, reject unknown parameters. Needs no data."""
        if params is None:
            params = {}
        if not isinstance(params, Mapping):
            raise ParameterError(f"Parameters must be a JSON object, got {type_name(params)}.")
        known = {p.name for p in self.params}
        unknown = [k for k in params if k not in known]
        if unknown:
            raise ParameterError(
                f"Unknown parameter(s) {quote_list(unknown)}. Known parameters: {quote_list(sorted(known))}.",
                param=str(unknown[0]),
            )
        out: Params = {}
        for spec in self.params:
            value = params.get(spec.name)
            if value is None:
                if spec.required:
                    raise ParameterError(f"Parameter '{spec.name}' is required.", param=spec.name)
                out[spec.name] = copy.deepcopy(spec.default)
            else:
                out[spec.name] = spec.coerce(value)
        self.check_params(out)
        return out

    def check_params(self, params: Params) -> None:
        """Cross-field checks that need no data. Raise :class:`ParameterError`."""

    def validate(
        self,
        params: Mapping[str, Any] | None,
        inputs: Sequence[pd.DataFrame],
        names: Sequence[str] | None = None,
    ) -> Params:
        """Normalize ``params`` and check them against the input frames (columns and their kinds)."""
        out = self.normalize(params)
        for spec in self.params:
            if spec.type not in ("column", "columns") or out.get(spec.name) is None:
                continue
            wanted = [out[spec.name]] if spec.type == "column" else out[spec.name]
            indexes = range(len(inputs)) if spec.input == "all" else [spec.input]
            for index in indexes:
                frame = inputs[index]
                where = f" in input {names[index]!r}" if names is not None and len(inputs) > 1 else ""
                require_columns(spec.name, wanted, frame, where)
                if spec.kind is not None:
                    check_kind(spec.name, wanted, frame, spec.kind)
        self.check_data(out, inputs)
        return out

    def check_data(self, params: Params, inputs: Sequence[pd.DataFrame]) -> None:
        """Checks that need the input frames. Raise :class:`ParameterError`."""

    # -- running ------------------------------------------------------------------------------

    def fit(self, df: pd.DataFrame, params: Mapping[str, Any] | None) -> Trained:
        """Fit a stateful operator on ``df``; returns plain JSON."""
        if not self.stateful:
            raise TransformError(f"Operator {self.key} is stateless and has nothing to fit.")
        p = self.validate(params, [df])
        return self.fit_validated(df, p)

    def fit_validated(self, df: pd.DataFrame, params: Params) -> Trained:
        trained = json_roundtrip(self._fit(df, params))
        if not isinstance(trained, dict):
            raise TypeError(f"{self.key}: fit must return a JSON object")
        return trained

    def _fit(self, df: pd.DataFrame, params: Params) -> Mapping[str, Any]:
        raise NotImplementedError

    def apply(
        self,
        df: pd.DataFrame,
        params: Mapping[str, Any] | None,
        trained: Mapping[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Validate and apply. A stateful operator without ``trained`` fits on ``df`` first."""
        p = self.validate(params, [df])
        if self.stateful and trained is None:
            trained = self.fit_validated(df, p)
        return self.apply_validated([df], p, json_roundtrip(trained) if trained is not None else None)

    def apply_validated(
        self,
        inputs: Sequence[pd.DataFrame],
        params: Params,
        trained: Trained | None,
        names: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        return type(self).kernel(inputs[0], **self.kernel_args(params, trained))

    def kernel_args(self, params: Params, trained: Trained | None) -> dict[str, Any]:
        args = dict(params)
        if self.stateful:
            args["trained"] = trained
        return args

    # -- export -------------------------------------------------------------------------------

    def code(
        self,
        params: Params,
        trained_ref: str | None,
        input_vars: Sequence[str],
        input_ids: Sequence[str],
        output_var: str,
    ) -> Snippet:
        """Python lines that compute ``output_var`` from ``input_vars`` in an exported script.

        ``trained_ref`` is the expression that holds this step's trained parameters in the script.
        """
        kernel = type(self).kernel
        trained = CodeRef(trained_ref) if trained_ref is not None else None
        args = self.kernel_args(params, trained)  # type: ignore[arg-type]
        rendered = [f"{k}={v!r}" for k, v in args.items()]
        call = f"{output_var} = {kernel.__name__}({', '.join([input_vars[0], *rendered])})"
        return Snippet(lines=[call], functions=[kernel])


class MultiInputOperator(Operator):
    """An operator over several inputs (join, concatenate, SQL). Kernels take frames first."""

    min_inputs: ClassVar[int] = 2
    max_inputs: ClassVar[int | None] = None

    def apply(  # type: ignore[override]
        self,
        inputs: Mapping[str, pd.DataFrame],
        params: Mapping[str, Any] | None,
        trained: Mapping[str, Any] | None = None,
    ) -> pd.DataFrame:
        names = list(inputs)
        frames = list(inputs.values())
        p = self.validate(params, frames, names)
        return self.apply_validated(frames, p, None, names)


def check_kind(param: str, names: Sequence[str], df: pd.DataFrame, kind: ColumnKind) -> None:
    wrong = [n for n in names if not column_kind_ok(df[n].dtype, kind)]
    if wrong:
        types = ", ".join(f"{n!r} is {df[n].dtype}" for n in wrong)
        raise ParameterError(
            f"Parameter '{param}': {types}; {KIND_TEXT[kind]} is required.",
            param=param,
            columns=wrong,
        )


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------

_REGISTRY: dict[tuple[str, int], Operator] = {}


def register(cls: type[Operator]) -> type[Operator]:
    """Class decorator: add an operator to the registry (one instance per name and version)."""
    key = (cls.name, cls.version)
    if key in _REGISTRY:
        raise RuntimeError(f"Operator {cls.name}@{cls.version} is registered twice")
    _REGISTRY[key] = cls()
    return cls


def get_operator(name: str, version: int | None = None) -> Operator:
    """The operator ``name`` at ``version`` (latest when ``version`` is None)."""
    if version is None:
        versions = [v for (n, v) in _REGISTRY if n == name]
        if versions:
            return _REGISTRY[(name, max(versions))]
    elif (name, version) in _REGISTRY:
        return _REGISTRY[(name, version)]
    known = sorted({n for (n, _) in _REGISTRY})
    if any(n == name for n in known):
        have = sorted(v for (n, v) in _REGISTRY if n == name)
        raise UnknownOperatorError(f"Operator {name!r} has no version {version}; available versions: {have}.")
    raise UnknownOperatorError(f"Unknown operator {name!r}.")


def list_operators() -> list[Operator]:
    """Every registered operator, sorted by group then title."""
    return sorted(_REGISTRY.values(), key=lambda op: (op.group, op.title, op.version))


def operator_specs() -> list[dict[str, Any]]:
    return [op.spec() for op in list_operators()]


# --------------------------------------------------------------------------------------------
# Script helpers shared by several groups
# --------------------------------------------------------------------------------------------


@script_function()
def place_columns(df: pd.DataFrame, anchor: str, new: pd.DataFrame, drop_anchor: bool = False) -> pd.DataFrame:
    """Insert the columns of ``new`` right after column ``anchor`` (in its place when ``drop_anchor``)."""
    clash = [c for c in new.columns if c in df.columns and not (drop_anchor and c == anchor)]
    if clash:
        raise ValueError(f"Cannot add column(s) {', '.join(map(repr, clash))}: a column with that name exists")
    position = df.columns.get_loc(anchor)
    left = df.iloc[:, : position + (0 if drop_anchor else 1)]
    right = df.iloc[:, position + 1 :]
    return pd.concat([left, new.set_axis(df.index), right], axis=1)
