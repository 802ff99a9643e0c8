"""Runtime of the expression language: the ``xf_*`` functions every expression calls.

The interpreter in ``expressions.py`` calls them on pandas Series; exported scripts contain their
source verbatim and call them the same way. They use only numpy and pandas.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .base import script_function


@script_function()
def xf_type(value: Any) -> str:
    """A short type name for error messages."""
    return str(value.dtype) if isinstance(value, pd.Series) else type(value).__name__


@script_function(xf_type)
def xf_bool(value: Any, what: str) -> Any:
    """Check that ``value`` holds true/false values."""
    if isinstance(value, pd.Series):
        if pd.api.types.is_bool_dtype(value.dtype):
            return value
    elif isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ValueError(f"{what} needs true/false values, got {xf_type(value)}")


@script_function(xf_type)
def xf_num(value: Any, what: str) -> Any:
    """Check that ``value`` is numeric (a number or a numeric column)."""
    if isinstance(value, pd.Series):
        if pd.api.types.is_numeric_dtype(value.dtype):
            return value
    elif isinstance(value, (int, float, np.number)):
        return value
    raise ValueError(f"{what} needs numbers, got {xf_type(value)}")


@script_function(xf_type)
def xf_text(value: Any, what: str) -> Any:
    """Check that ``value`` is text (a string or a text column)."""
    if isinstance(value, pd.Series):
        if isinstance(value.dtype, pd.StringDtype) or pd.api.types.is_object_dtype(value.dtype):
            return value
    elif isinstance(value, str):
        return value
    raise ValueError(f"{what} needs text, got {xf_type(value)}")


@script_function(xf_bool)
def xf_and(left: Any, right: Any) -> Any:
    return xf_bool(left, "'and'") & xf_bool(right, "'and'")


@script_function(xf_bool)
def xf_or(left: Any, right: Any) -> Any:
    return xf_bool(left, "'or'") | xf_bool(right, "'or'")


@script_function(xf_bool)
def xf_not(value: Any) -> Any:
    value = xf_bool(value, "'not'")
    return ~value if isinstance(value, pd.Series) else not value


@script_function(xf_type)
def xf_mul(left: Any, right: Any) -> Any:
    """``*`` on numbers only (no string repetition: it could allocate without bound)."""
    for side in (left, right):
        if isinstance(side, str) or (
            isinstance(side, pd.Series)
            and (isinstance(side.dtype, pd.StringDtype) or pd.api.types.is_object_dtype(side.dtype))
        ):
            raise ValueError(f"'*' needs numbers, got {xf_type(side)}")
    return left * right


@script_function(xf_num)
def xf_mod(left: Any, right: Any) -> Any:
    """``%`` on numbers only (no printf-style string formatting)."""
    return xf_num(left, "'%'") % xf_num(right, "'%'")


@script_function(xf_num)
def xf_pow(base: Any, exponent: Any) -> Any:
    """``**`` in floating point with a capped exponent."""
    limit = 100
    exponent = xf_num(exponent, "'**'")
    top = exponent.abs().max() if isinstance(exponent, pd.Series) else abs(exponent)
    if pd.notna(top) and top > limit:
        raise ValueError(f"exponent {top} is too large (at most {limit})")
    base = xf_num(base, "'**'")
    base = base.astype("float64") if isinstance(base, pd.Series) else np.float64(base)
    return base**exponent


@script_function()
def xf_isin(value: Any, options: list[Any], negate: bool) -> Any:
    if isinstance(value, pd.Series):
        found = value.isin(options)
        return ~found if negate else found
    return (value not in options) if negate else (value in options)


@script_function(xf_bool)
def xf_where(cond: Any, when_true: Any, when_false: Any) -> Any:
    """Vectorised ``when_true if cond else when_false``; missing conditions count as false."""
    cond = xf_bool(cond, "'if ... else'")
    if not isinstance(cond, pd.Series):
        return when_true if cond else when_false
    mask = cond.fillna(False).astype(bool)
    if isinstance(when_true, pd.Series):
        return when_true.where(mask, when_false)
    if isinstance(when_false, pd.Series):
        return when_false.mask(mask, when_true)
    return pd.Series(when_true, index=mask.index).where(mask, when_false)


@script_function(xf_num)
def xf_abs(value: Any) -> Any:
    return np.abs(xf_num(value, "abs()"))


@script_function(xf_num)
def xf_round(value: Any, digits: int = 0) -> Any:
    return np.round(xf_num(value, "round()"), digits)


@script_function(xf_num)
def xf_log(value: Any) -> Any:
    return np.log(xf_num(value, "log()"))


@script_function(xf_num)
def xf_exp(value: Any) -> Any:
    return np.exp(xf_num(value, "exp()"))


@script_function(xf_num)
def xf_sqrt(value: Any) -> Any:
    return np.sqrt(xf_num(value, "sqrt()"))


@script_function(xf_num)
def xf_min(left: Any, right: Any) -> Any:
    """Elementwise minimum; a missing value on one side yields the other side."""
    return np.fmin(xf_num(left, "min()"), xf_num(right, "min()"))


@script_function(xf_num)
def xf_max(left: Any, right: Any) -> Any:
    return np.fmax(xf_num(left, "max()"), xf_num(right, "max()"))


@script_function(xf_text)
def xf_upper(value: Any) -> Any:
    value = xf_text(value, "upper()")
    return value.str.upper() if isinstance(value, pd.Series) else value.upper()


@script_function(xf_text)
def xf_lower(value: Any) -> Any:
    value = xf_text(value, "lower()")
    return value.str.lower() if isinstance(value, pd.Series) else value.lower()


@script_function(xf_text)
def xf_len(value: Any) -> Any:
    value = xf_text(value, "len()")
    return value.str.len() if isinstance(value, pd.Series) else len(value)


@script_function(xf_text)
def xf_contains(value: Any, part: Any) -> Any:
    """Literal substring test (not a regular expression); missing values give false."""
    value = xf_text(value, "contains()")
    if not isinstance(part, str):
        raise ValueError("contains() needs a text literal as its second argument")
    return value.str.contains(part, regex=False, na=False) if isinstance(value, pd.Series) else part in value


@script_function(xf_text)
def xf_startswith(value: Any, prefix: Any) -> Any:
    value = xf_text(value, "startswith()")
    if not isinstance(prefix, str):
        raise ValueError("startswith() needs a text literal as its second argument")
    return value.str.startswith(prefix, na=False) if isinstance(value, pd.Series) else value.startswith(prefix)


@script_function()
def xf_isnull(value: Any) -> Any:
    return value.isna() if isinstance(value, pd.Series) else bool(pd.isna(value))


@script_function()
def xf_notnull(value: Any) -> Any:
    return value.notna() if isinstance(value, pd.Series) else not pd.isna(value)


@script_function()
def xf_fillna(value: Any, replacement: Any) -> Any:
    if isinstance(value, pd.Series):
        return value.fillna(replacement)
    return replacement if pd.isna(value) else value


@script_function(xf_num)
def xf_clip(value: Any, lower: Any, upper: Any) -> Any:
    value = xf_num(value, "clip()")
    if isinstance(value, pd.Series):
        return value.clip(lower, upper)
    if lower is not None:
        value = max(value, lower)
    return min(value, upper) if upper is not None else value


@script_function(xf_type)
def xf_datetime(value: Any, what: str) -> Any:
    if isinstance(value, pd.Series) and pd.api.types.is_datetime64_any_dtype(value.dtype):
        return value
    raise ValueError(f"{what} needs a datetime column, got {xf_type(value)}")


@script_function(xf_datetime)
def xf_year(value: Any) -> Any:
    return xf_datetime(value, "year()").dt.year


@script_function(xf_datetime)
def xf_month(value: Any) -> Any:
    return xf_datetime(value, "month()").dt.month


@script_function(xf_datetime)
def xf_day(value: Any) -> Any:
    return xf_datetime(value, "day()").dt.day


@dataclass(frozen=True)
class Function:
    helper: Callable[..., Any]
    min_args: int
    max_args: int
    doc: str


FUNCTIONS: dict[str, Function] = {
    "abs": Function(xf_abs, 1, 1, "abs(x): absolute value"),
    "round": Function(xf_round, 1, 2, "round(x, digits=0): round to a number of decimals"),
    "log": Function(xf_log, 1, 1, "log(x): natural logarithm"),
    "exp": Function(xf_exp, 1, 1, "exp(x): e to the power x"),
    "sqrt": Function(xf_sqrt, 1, 1, "sqrt(x): square root"),
    "min": Function(xf_min, 2, 2, "min(a, b): elementwise minimum"),
    "max": Function(xf_max, 2, 2, "max(a, b): elementwise maximum"),
    "upper": Function(xf_upper, 1, 1, "upper(s): upper case"),
    "lower": Function(xf_lower, 1, 1, "lower(s): lower case"),
    "len": Function(xf_len, 1, 1, "len(s): number of characters"),
    "contains": Function(xf_contains, 2, 2, "contains(s, 'text'): substring test"),
    "startswith": Function(xf_startswith, 2, 2, "startswith(s, 'prefix')"),
    "isnull": Function(xf_isnull, 1, 1, "isnull(x): value is missing"),
    "notnull": Function(xf_notnull, 1, 1, "notnull(x): value is present"),
    "fillna": Function(xf_fillna, 2, 2, "fillna(x, value): replace missing values"),
    "clip": Function(xf_clip, 3, 3, "clip(x, low, high): limit to a range (None for no limit)"),
    "year": Function(xf_year, 1, 1, "year(d): year of a datetime"),
    "month": Function(xf_month, 1, 1, "month(d): month of a datetime (1-12)"),
    "day": Function(xf_day, 1, 1, "day(d): day of the month"),
    "where": Function(xf_where, 3, 3, "where(cond, a, b): a where cond is true, else b"),
}
