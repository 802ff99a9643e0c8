"""Semantic column types: infer them on a sample, cast the whole frame to the (user-edited) choice.

Plain module: no Django imports. Types are ``numeric`` (float), ``integer``, ``boolean``, ``categorical``,
``datetime``, ``text`` (long free text) and ``identifier`` (unique-ish ids). String checks run on the distinct
values of a column (weighted by their counts), so a 1M-row column costs one factorisation plus work on its
distinct values.

A boolean column inferred from the user's spellings (``yes``/``no``, ``Y``/``N``, ``true``/``false``, ``T``/``F``,
``1``/``0``) records them as ``tokens: {"true": "yes", "false": "no"}`` (numbers for a 0/1 number column): the stored
values are booleans for analysis and models, and every place that gives values back to people or systems writes the
tokens (:mod:`apps.datasets.tokens`). A column is boolean only when each value has one spelling (``yes``, ``Yes``
and ``no`` in one column stay categorical, so nothing the user wrote is lost).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

TYPES: tuple[str, ...] = ("numeric", "integer", "boolean", "categorical", "datetime", "text", "identifier")
TRUE_TOKENS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_TOKENS = frozenset({"false", "f", "no", "n", "0"})
DEFAULT_SAMPLE = 100_000

_ID_NAME = re.compile(
    r"(^|[_\s.-])(id|uuid|guid|key|code)$|^id[_\s.-]|[a-z](Id|ID|Uuid|Key)$|^(id|uuid|guid)$", re.IGNORECASE
)
_DATE_LIKE = re.compile(
    r"\d{1,4}[-/.]\d{1,2}|\d{1,2}:\d{2}|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)", re.IGNORECASE
)
_LEADING_ZERO = re.compile(r"^\s*0\d")

THRESHOLD_PARSE = 0.95  # share of values that must parse as numbers
THRESHOLD_DATETIME = 0.9  # share of values that must parse as dates
THRESHOLD_UNIQUE_ID = 0.99  # distinct/non-null for an identifier (0.9 when the name says id)
TEXT_MEAN_LENGTH = 40  # mean characters for free text


@dataclass(frozen=True)
class _Values:
    """The non-null distinct values of a sampled column with their counts (descending)."""

    uniques: pd.Series
    counts: np.ndarray
    n: int  # non-null values in the sample

    @property
    def distinct(self) -> int:
        return len(self.uniques)

    def share(self, mask: np.ndarray) -> float:
        return float(self.counts[np.asarray(mask, dtype=bool)].sum()) / self.n if self.n else 0.0


# --------------------------------------------------------------------------------------------------- inference
def with_string_names(df: pd.DataFrame) -> pd.DataFrame:
    """The frame with every column name as a string (a cheap relabelling; the data is not copied)."""
    if all(isinstance(c, str) for c in df.columns):
        return df
    return df.set_axis([str(c) for c in df.columns], axis=1)


def infer_schema(df: pd.DataFrame, *, sample_size: int = DEFAULT_SAMPLE, seed: int = 0) -> list[dict[str, Any]]:
    """One entry per column: ``{name, type, pandas_dtype, nullable, reason}`` (+ ``format`` for parsed dates)."""
    df = with_string_names(df)
    sample = _sample(df, sample_size, seed)
    return [
        infer_column(sample[name], name=str(name), total_rows=len(df), nullable=bool(df[name].isna().any()))
        for name in df.columns
    ]


def _sample(df: pd.DataFrame, size: int, seed: int) -> pd.DataFrame:
    if len(df) <= size:
        return df
    idx = np.sort(np.random.default_rng(seed).choice(len(df), size=size, replace=False))
    return df.take(idx)


def infer_column(
    s: pd.Series, *, name: str, total_rows: int | None = None, nullable: bool | None = None
) -> dict[str, Any]:
    """Infer the semantic type of one (sampled) column."""
    nullable = bool(s.isna().any()) if nullable is None else nullable
    total_rows = len(s) if total_rows is None else total_rows
    type_, reason, extra = _classify(s, name, total_rows)
    entry = {
        "name": name,
        "type": type_,
        "pandas_dtype": pandas_dtype_for(type_, s.dtype),
        "nullable": nullable,
        "reason": reason,
    }
    entry.update(extra)
    return entry


def _classify(s: pd.Series, name: str, total_rows: int) -> tuple[str, str, dict[str, Any]]:
    dtype = s.dtype
    if ptypes.is_bool_dtype(dtype):
        return "boolean", "stored as true/false values", {}
    if ptypes.is_datetime64_any_dtype(dtype):
        return "datetime", "stored as timestamps", {}
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical", f"stored as a categorical with {len(dtype.categories)} categories", {}
    if ptypes.is_timedelta64_dtype(dtype):
        return "numeric", "stored as durations (cast to seconds)", {}
    values = _distinct_values(s)
    if values.n == 0:
        kind = "numeric" if ptypes.is_numeric_dtype(dtype) else "text"
        return kind, "all values are missing", {}
    if ptypes.is_numeric_dtype(dtype):
        return _classify_numbers(values, name, s, total_rows)
    return _classify_strings(values, name, total_rows)


def factorize(s: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize`` (missing = -1) that also copes with unhashable objects (lists, dicts) by using their text."""
    try:
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
    except TypeError:
        codes, uniques = pd.factorize(s.astype("str"), use_na_sentinel=True)
    return codes, pd.Index(uniques)


def _distinct_values(s: pd.Series) -> _Values:
    codes, uniques = factorize(s)
    valid = codes[codes >= 0]
    counts = np.bincount(valid, minlength=len(uniques)) if len(uniques) else np.zeros(0, dtype=np.int64)
    order = np.argsort(-counts, kind="stable")
    return _Values(pd.Series(uniques.take(order)), counts[order], len(valid))


def _is_id_name(name: str) -> bool:
    return bool(_ID_NAME.search(name))


def _looks_like_int_id(values: _Values, name: str, observed: np.ndarray | None, total_rows: int) -> str | None:
    ratio = values.distinct / values.n
    threshold = 0.9 if _is_id_name(name) else THRESHOLD_UNIQUE_ID
    if values.n < 20 or ratio < threshold:
        return None
    nums = pd.to_numeric(values.uniques, errors="coerce").to_numpy(dtype=float)
    if _is_id_name(name):
        return f"whole numbers, {ratio:.1%} distinct, and the name looks like an id"
    if observed is not None and len(observed) > 1 and bool(np.all(np.diff(observed.astype(float)) > 0)):
        return f"whole numbers, {ratio:.1%} distinct and strictly increasing"
    span = float(np.nanmax(nums) - np.nanmin(nums) + 1)
    if nums.min() >= 0 and span <= 1.1 * max(total_rows, values.n):
        return f"whole numbers, {ratio:.1%} distinct, densely covering {span:.0f} consecutive values"
    return None


def _classify_numbers(values: _Values, name: str, s: pd.Series, total_rows: int) -> tuple[str, str, dict[str, Any]]:
    nums = pd.to_numeric(values.uniques, errors="coerce").to_numpy(dtype=float)
    if values.distinct == 2 and set(nums.tolist()) == {0.0, 1.0}:
        return "boolean", "exactly two values, 0 and 1", {"tokens": {"true": 1, "false": 0}}
    finite = nums[np.isfinite(nums)]
    integral = bool(np.all(finite == np.round(finite)))
    if integral:
        why = _looks_like_int_id(values, name, s.dropna().to_numpy(dtype=float), total_rows)
        if why:
            return "identifier", why, {}
        stored = "" if ptypes.is_integer_dtype(s.dtype) else " (stored as floats)"
        return "integer", f"whole numbers{stored}, {values.distinct} distinct values", {}
    return "numeric", f"numbers with fractions, {values.distinct} distinct values", {}


def _strings(values: _Values) -> pd.Series:
    return values.uniques.astype("str")


def _classify_strings(values: _Values, name: str, total_rows: int) -> tuple[str, str, dict[str, Any]]:
    text = _strings(values)
    lowered = text.str.strip().str.lower()
    boolean = _boolean_reason(lowered, values)
    if boolean:
        tokens = boolean_tokens_of(text.tolist())
        if tokens is not None:
            return "boolean", boolean, {"tokens": tokens}
    numbers = pd.to_numeric(lowered, errors="coerce").to_numpy(dtype=float)
    parsed = np.isfinite(numbers)
    rate = values.share(parsed)
    leading_zero = values.share(text.str.match(_LEADING_ZERO).to_numpy(dtype=bool))
    if rate >= THRESHOLD_PARSE and leading_zero < 0.05:
        finite = numbers[parsed]
        if not bool(np.all(finite == np.round(finite))):
            return "numeric", f"{rate:.1%} of values parse as numbers", {}
        why = _looks_like_int_id(values, name, None, total_rows)
        if why:
            return "identifier", why, {}
        return "integer", f"{rate:.1%} of values parse as whole numbers", {}
    date_fmt, date_rate = _datetime_format(text, values)
    if date_fmt is not None and date_rate >= THRESHOLD_DATETIME:
        return "datetime", f"{date_rate:.1%} of values parse as dates ({date_fmt})", {"format": date_fmt}
    return _classify_free_strings(text, values, name, leading_zero)


def _classify_free_strings(
    text: pd.Series, values: _Values, name: str, leading_zero: float
) -> tuple[str, str, dict[str, Any]]:
    ratio = values.distinct / values.n
    lengths = text.str.len().to_numpy(dtype=float)
    mean_len = float(np.average(lengths, weights=values.counts))
    spaced = values.share(text.str.strip().str.contains(" ", regex=False).to_numpy(dtype=bool))
    id_threshold = 0.9 if _is_id_name(name) else THRESHOLD_UNIQUE_ID
    if values.n >= 20 and ratio >= id_threshold and mean_len <= 64 and spaced < 0.1:
        return "identifier", f"{ratio:.1%} of values are distinct short codes", {}
    if mean_len >= TEXT_MEAN_LENGTH or (spaced >= 0.5 and ratio >= 0.5):
        return "text", f"free text: {mean_len:.0f} characters on average, {ratio:.0%} distinct", {}
    zero_note = ", codes with leading zeros" if leading_zero >= 0.05 else ""
    if values.distinct <= 50 or ratio <= 0.5:
        return "categorical", f"{values.distinct} distinct values ({ratio:.1%} of values){zero_note}", {}
    return "categorical", f"high cardinality: {values.distinct} distinct short values ({ratio:.0%}){zero_note}", {}


def _boolean_reason(lowered: pd.Series, values: _Values) -> str | None:
    tokens = set(lowered.unique().tolist())
    if not tokens or not tokens <= (TRUE_TOKENS | FALSE_TOKENS) or len(tokens) > 2:
        return None
    if tokens <= {"0", "1"} and len(tokens) != 2:
        return None
    if len(tokens) == 2 and not (tokens & TRUE_TOKENS and tokens & FALSE_TOKENS):
        return None
    return f"only the values {', '.join(sorted(tokens))}"


# the other spelling of a one-sided column's token (its case follows the token's: YES -> NO, Yes -> No)
_COUNTERPART = {"true": "false", "t": "f", "yes": "no", "y": "n", "1": "0"}
_COUNTERPART.update({v: k for k, v in list(_COUNTERPART.items())})


def boolean_tokens_of(spellings: list[str]) -> dict[str, str] | None:
    """``{"true": token, "false": token}`` for the distinct spellings of a boolean column, or None when a value is
    spelled two ways (``yes`` and ``Yes``): then the column is not boolean, so that every spelling comes back."""
    by_side: dict[bool, str] = {}
    for spelling in spellings:
        key = spelling.strip().lower()
        side = key in TRUE_TOKENS
        if not side and key not in FALSE_TOKENS:
            return None
        if by_side.setdefault(side, spelling) != spelling:
            return None
    if not by_side:
        return None
    for side in (True, False):
        if side not in by_side:
            given = by_side[not side]
            other = _COUNTERPART[given.strip().lower()]
            by_side[side] = (
                other.upper() if given.strip().isupper() else other.title() if given.strip().istitle() else other
            )
    return {"true": by_side[True], "false": by_side[False]}


def _datetime_format(text: pd.Series, values: _Values) -> tuple[str | None, float]:
    """The date format (``ISO8601`` or a strftime pattern) that parses most values, and its success rate."""
    probe = text.iloc[:1000]
    if probe.str.contains(_DATE_LIKE).mean() < 0.5:
        return None, 0.0
    best: tuple[str | None, float] = (None, 0.0)
    for fmt in _candidate_formats(probe):
        parsed = _to_datetime(text, fmt)
        rate = values.share(parsed.notna().to_numpy())
        if rate > best[1]:
            best = (fmt, rate)
        if rate >= 0.999:
            break
    return best


def _candidate_formats(probe: pd.Series) -> list[str]:
    from pandas.tseries.api import guess_datetime_format

    formats = ["ISO8601"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas warns when dayfirst disagrees with the guess; both are tried
        for value in probe.iloc[:20].tolist():
            for dayfirst in (False, True):
                fmt = guess_datetime_format(value.strip(), dayfirst=dayfirst)
                if fmt and fmt not in formats:
                    formats.append(fmt)
    return formats[:6]


def _to_datetime(values: pd.Series, fmt: str | None) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return pd.to_datetime(values, errors="coerce", format=fmt)
        except (ValueError, TypeError):
            return pd.to_datetime(values, errors="coerce", format=fmt, utc=True)


def pandas_dtype_for(type_: str, source: Any = None) -> str:
    """The pandas dtype :func:`apply_schema` produces for a semantic type (nullable dtypes throughout)."""
    if type_ == "integer":
        return "Int64"
    if type_ == "numeric":
        return "float64"
    if type_ == "boolean":
        return "boolean"
    if type_ == "categorical":
        return "category"
    if type_ == "datetime":
        return str(source) if source is not None and ptypes.is_datetime64_any_dtype(source) else "datetime64[us]"
    if type_ == "identifier" and source is not None and ptypes.is_numeric_dtype(source):
        return "Int64"
    return "str"


# --------------------------------------------------------------------------------------------------- casting
def apply_schema(df: pd.DataFrame, schema: list[dict[str, Any]]) -> pd.DataFrame:
    """Cast each column named in ``schema`` to its ``type`` with errors="coerce" semantics.

    Values that were present (not missing, not blank) but could not be converted become missing; the
    returned frame's ``attrs["cast_report"]`` maps each column to ``{type, failed, examples}``. Columns not in
    the schema are kept as they are. Column names are matched as strings.
    """
    df = with_string_names(df)
    unknown = [e["name"] for e in schema if e["name"] not in df.columns]
    if unknown:
        raise ValueError(f"Schema names columns that are not in the data: {', '.join(map(repr, unknown))}")
    bad = [f"{e['name']!r}: {e['type']!r}" for e in schema if e["type"] not in TYPES]
    if bad:
        raise ValueError(f"Unknown column types ({', '.join(bad)}); use one of {', '.join(TYPES)}")
    by_name = {e["name"]: e for e in schema}
    columns: dict[str, pd.Series] = {}
    report: dict[str, dict[str, Any]] = {}
    for name in df.columns:
        entry = by_name.get(name)
        if entry is None:
            columns[name] = df[name]
            continue
        cast, failed = cast_series(df[name], entry["type"], fmt=entry.get("format"))
        columns[name] = cast
        report[name] = {"type": entry["type"], "failed": int(failed.sum()), "examples": _examples(df[name], failed)}
    out = pd.DataFrame(columns, index=df.index, copy=False)
    out.attrs["cast_report"] = report
    return out


def cast_failures(df: pd.DataFrame) -> dict[str, int]:
    """``{column: values that could not be converted}`` from a frame returned by :func:`apply_schema`."""
    return {name: r["failed"] for name, r in df.attrs.get("cast_report", {}).items()}


def _examples(source: pd.Series, failed: np.ndarray, k: int = 5) -> list[str]:
    if not failed.any():
        return []
    return [str(v) for v in pd.unique(source[failed].head(200))[:k]]


def cast_series(s: pd.Series, type_: str, *, fmt: str | None = None) -> tuple[pd.Series, np.ndarray]:
    """``(converted, failed)`` where ``failed`` marks values present before and missing after the cast."""
    present = _present(s)
    if type_ in ("text", "categorical") or (type_ == "identifier" and not ptypes.is_numeric_dtype(s.dtype)):
        out = _to_category(s) if type_ == "categorical" else _to_text(s)
        return out, np.zeros(len(s), dtype=bool)
    if (
        ptypes.is_numeric_dtype(s.dtype)
        or ptypes.is_bool_dtype(s.dtype)
        or ptypes.is_datetime64_any_dtype(s.dtype)
        or ptypes.is_timedelta64_dtype(s.dtype)
    ):
        out = _CASTERS[type_](s, fmt)
    else:
        out = _cast_via_uniques(s, type_, fmt)
    return out, present & out.isna().to_numpy()


def _present(s: pd.Series) -> np.ndarray:
    """Not missing and, for strings, not blank."""
    present = s.notna().to_numpy(copy=True)
    if ptypes.is_string_dtype(s.dtype) or ptypes.is_object_dtype(s.dtype):
        codes, uniques = factorize(s)
        if len(uniques):
            blank = (pd.Series(uniques).astype("str").str.strip() == "").to_numpy(dtype=bool)
            present &= ~np.where(codes >= 0, blank[np.maximum(codes, 0)], False)
    return present


def _cast_via_uniques(s: pd.Series, type_: str, fmt: str | None) -> pd.Series:
    """Convert each distinct value once, then spread the results back over the rows."""
    codes, uniques = factorize(s)
    converted = _CASTERS[type_](pd.Series(np.asarray(uniques, dtype=object)).astype("str"), fmt)
    taken = converted.array.take(codes, allow_fill=True)
    return pd.Series(taken, index=s.index, name=s.name)


def _to_text(s: pd.Series) -> pd.Series:
    return s.astype("str")


def _to_category(s: pd.Series) -> pd.Series:
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s
    if ptypes.is_object_dtype(s.dtype):
        s = s.astype("str")
    return s.astype("category")


def _to_float(s: pd.Series, _fmt: str | None) -> pd.Series:
    if ptypes.is_datetime64_any_dtype(s.dtype):
        return pd.Series(np.nan, index=s.index, name=s.name)
    if ptypes.is_timedelta64_dtype(s.dtype):
        return s.dt.total_seconds()
    if ptypes.is_bool_dtype(s.dtype) or ptypes.is_numeric_dtype(s.dtype):
        return s.astype("float64")
    return pd.to_numeric(s.str.strip(), errors="coerce").astype("float64")


def _to_int(s: pd.Series, fmt: str | None) -> pd.Series:
    if ptypes.is_integer_dtype(s.dtype):
        return s.astype("Int64")
    values = _to_float(s, fmt).to_numpy(dtype=float, copy=True)
    ok = np.isfinite(values) & (values == np.round(values)) & (np.abs(values) < 2**63)
    values[~ok] = np.nan
    return pd.Series(pd.array(values, dtype="Float64").astype("Int64"), index=s.index, name=s.name)


def _to_bool(s: pd.Series, _fmt: str | None) -> pd.Series:
    if ptypes.is_bool_dtype(s.dtype):
        return s.astype("boolean")
    if ptypes.is_numeric_dtype(s.dtype):
        values = s.to_numpy(dtype=float, na_value=np.nan)
        out = pd.array(values == 1, dtype="boolean")
        out[~np.isin(values, (0.0, 1.0))] = pd.NA
        return pd.Series(out, index=s.index, name=s.name)
    lowered = s.str.strip().str.lower()
    truthy = lowered.isin(TRUE_TOKENS).to_numpy()
    falsy = lowered.isin(FALSE_TOKENS).to_numpy()
    out = pd.array(truthy, dtype="boolean")
    out[~(truthy | falsy)] = pd.NA
    return pd.Series(out, index=s.index, name=s.name)


def _to_datetime_series(s: pd.Series, fmt: str | None) -> pd.Series:
    if ptypes.is_datetime64_any_dtype(s.dtype):
        return s
    if ptypes.is_numeric_dtype(s.dtype):
        return _epoch_to_datetime(s)
    if fmt:
        return _to_datetime(s, fmt)
    best = _to_datetime(s, "ISO8601")
    if best.notna().mean() < THRESHOLD_DATETIME:
        for candidate in _candidate_formats(s.dropna().astype("str"))[1:]:
            parsed = _to_datetime(s, candidate)
            if parsed.notna().sum() > best.notna().sum():
                best = parsed
    return best


def _epoch_to_datetime(s: pd.Series) -> pd.Series:
    """Numbers as Unix epoch seconds (1e8..1e10) or milliseconds (1e11..1e13); others fail."""
    values = s.to_numpy(dtype=float, na_value=np.nan)
    magnitude = np.nanmedian(np.abs(values)) if np.isfinite(values).any() else np.nan
    unit = "s" if 1e8 <= magnitude < 1e10 else "ms" if 1e11 <= magnitude < 1e13 else None
    if unit is None:
        return pd.Series(pd.NaT, index=s.index, name=s.name, dtype="datetime64[us]")
    return pd.Series(pd.to_datetime(values, unit=unit, errors="coerce"), index=s.index, name=s.name)


def _to_identifier(s: pd.Series, fmt: str | None) -> pd.Series:
    return _to_int(s, fmt)


_CASTERS = {
    "numeric": _to_float,
    "integer": _to_int,
    "boolean": _to_bool,
    "datetime": _to_datetime_series,
    "identifier": _to_identifier,
    "text": lambda s, _f: _to_text(s),
    "categorical": lambda s, _f: _to_category(s),
}
