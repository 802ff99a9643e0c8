"""Format strings: case, strip, pad, prefix/suffix, regex replace, replace values, split, extract, combine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from apps.core.regex import Regex, RegexError, compile_regex

from .base import (
    Operator,
    Param,
    ParameterError,
    Params,
    place_columns,
    quote_list,
    register,
    require_new_column,
    script_function,
)

GROUP = "Format strings"
TEXT_COLUMNS = Param("columns", "columns", required=True, kind="string")
TEXT_COLUMN = Param("column", "column", required=True, kind="string")
MAX_PARTS = 50
PATTERN_HELP = (
    "Python syntax, run in linear time; backreferences, lookahead/lookbehind, possessive quantifiers, atomic and "
    "conditional groups are not supported."
)


def user_regex(pattern: str, ignore_case: bool = False) -> Regex:
    """The kernels' regular expressions: linear-time (apps/core/regex.py). An exported script defines its own
    ``user_regex`` with Python's ``re``, which gives the same results for the patterns accepted here."""
    return compile_regex(pattern, ignore_case=ignore_case)


def compile_pattern(param: str, pattern: str, ignore_case: bool = False) -> Regex:
    """Compile a user's pattern for a parameter check: ParameterError naming the parameter and the problem."""
    try:
        return compile_regex(pattern, ignore_case=ignore_case, param=param)
    except RegexError as exc:
        raise ParameterError(str(exc), param=exc.param) from exc


@script_function()
def per_text_value(values: pd.Series, fn: Any, missing: Any) -> list[Any]:
    """``fn(value)`` for every text value of ``values``, computed once per distinct value; ``missing`` elsewhere."""
    done: dict[str, Any] = {}
    out = []
    for value in values:
        if isinstance(value, str):
            if value not in done:
                done[value] = fn(value)
            out.append(done[value])
        else:
            out.append(missing)
    return out


@script_function()
def change_case(df: pd.DataFrame, columns: list[str], case: str) -> pd.DataFrame:
    out = df.copy(deep=False)
    for name in columns:
        out[name] = getattr(df[name].str, case)()
    return out


@script_function()
def strip_text(df: pd.DataFrame, columns: list[str], side: str = "both", characters: str | None = None) -> pd.DataFrame:
    out = df.copy(deep=False)
    method = {"both": "strip", "left": "lstrip", "right": "rstrip"}[side]
    for name in columns:
        out[name] = getattr(df[name].str, method)(characters or None)
    return out


@script_function()
def pad_text(
    df: pd.DataFrame,
    columns: list[str],
    width: int,
    side: str = "left",
    fill_char: str = " ",
) -> pd.DataFrame:
    out = df.copy(deep=False)
    for name in columns:
        out[name] = df[name].str.pad(width, side=side, fillchar=fill_char)
    return out


@script_function()
def add_prefix_suffix(df: pd.DataFrame, columns: list[str], prefix: str = "", suffix: str = "") -> pd.DataFrame:
    out = df.copy(deep=False)
    for name in columns:
        out[name] = prefix + df[name] + suffix
    return out


@script_function(per_text_value)
def replace_regex(
    df: pd.DataFrame,
    columns: list[str],
    pattern: str,
    replacement: str = "",
    case_sensitive: bool = True,
) -> pd.DataFrame:
    """Python ``re`` semantics for the pattern and the replacement (``\\1``, ``\\g<name>``, ``\\n``)."""
    compiled = user_regex(pattern, not case_sensitive)
    out = df.copy(deep=False)
    for name in columns:
        s = df[name]
        new = pd.Series(per_text_value(s, lambda v: compiled.sub(replacement, v), None), index=s.index, dtype=object)
        out[name] = s.where(s.isna(), new).astype(s.dtype)
    return out


@script_function()
def replace_values(df: pd.DataFrame, columns: list[str], mapping: dict[str, str | None]) -> pd.DataFrame:
    """Replace whole values exactly equal to a key of ``mapping``."""
    out = df.copy(deep=False)
    for name in columns:
        s = df[name]
        hit = s.isin(list(mapping))
        out[name] = s.where(~hit, s.map(mapping))
    return out


@script_function(place_columns, per_text_value)
def split_column(
    df: pd.DataFrame,
    column: str,
    delimiter: str,
    max_parts: int = 2,
    regex: bool = False,
    drop_original: bool = False,
) -> pd.DataFrame:
    """Split on ``delimiter`` into exactly ``max_parts`` columns ``<column>_1..n`` (the last holds the rest)."""
    if regex:
        compiled = user_regex(delimiter)
        rows = per_text_value(df[column], lambda v: compiled.split(v, maxsplit=max_parts - 1), [])
        width = max(map(len, rows), default=0)
        parts = pd.DataFrame([row + [None] * (width - len(row)) for row in rows], index=df.index, dtype=object)
    else:
        parts = df[column].str.split(delimiter, n=max_parts - 1, expand=True, regex=False)
    parts = parts.reindex(columns=range(max_parts)).astype("str")
    parts.columns = [f"{column}_{i + 1}" for i in range(max_parts)]
    return place_columns(df, column, parts, drop_anchor=drop_original)


@script_function(place_columns, per_text_value)
def extract_regex(df: pd.DataFrame, column: str, pattern: str, names: list[str]) -> pd.DataFrame:
    """One new column per capture group of ``pattern`` (first match per value; no match: missing)."""
    compiled = user_regex(pattern)
    none = (None,) * compiled.groups

    def groups(value: str) -> tuple[str | None, ...]:
        match = compiled.search(value)
        return match.groups() if match else none

    rows = per_text_value(df[column], groups, none)
    found = pd.DataFrame(rows, index=df.index, columns=list(names), dtype=object).astype("str")
    return place_columns(df, column, found)


@script_function()
def combine_columns(df: pd.DataFrame, columns: list[str], new_column: str, separator: str = "") -> pd.DataFrame:
    """Concatenate columns as text; missing values count as empty text."""
    first, *rest = [df[name].astype("str") for name in columns]
    out = df.copy(deep=False)
    out[new_column] = first.str.cat(rest, sep=separator, na_rep="") if rest else first.fillna("")
    return out


@register
class ChangeCase(Operator):
    name = "change_case"
    title = "Change case"
    group = GROUP
    description = "Lower case, upper case, title case, capitalize the first letter, or swap case."
    params = (
        TEXT_COLUMNS,
        Param("case", "choice", default="lower", choices=("lower", "upper", "title", "capitalize", "swapcase")),
    )
    kernel = change_case


@register
class StripText(Operator):
    name = "strip_text"
    title = "Strip characters"
    group = GROUP
    description = "Remove whitespace (or the given characters) at both ends, the start (lstrip) or the end (rstrip)."
    params = (
        TEXT_COLUMNS,
        Param("side", "choice", default="both", choices=("both", "left", "right")),
        Param("characters", "string", description="Characters to remove; empty: whitespace."),
    )
    kernel = strip_text


@register
class PadText(Operator):
    name = "pad_text"
    title = "Pad to width"
    group = GROUP
    description = "Pad values shorter than a width with a fill character, on the left, the right or both sides."
    params = (
        TEXT_COLUMNS,
        Param("width", "integer", required=True, minimum=1, maximum=10_000),
        Param("side", "choice", default="left", choices=("left", "right", "both")),
        Param("fill_char", "string", default=" ", description="Exactly one character, e.g. 0."),
    )
    kernel = pad_text

    def check_params(self, params: Params) -> None:
        if len(params["fill_char"]) != 1:
            raise ParameterError(
                f"Parameter 'fill_char' must be exactly one character, got {params['fill_char']!r}.", param="fill_char"
            )


@register
class AddPrefixSuffix(Operator):
    name = "add_prefix_suffix"
    title = "Add prefix / suffix"
    group = GROUP
    description = "Add text before and/or after each value (missing values stay missing)."
    params = (TEXT_COLUMNS, Param("prefix", "string", default=""), Param("suffix", "string", default=""))
    kernel = add_prefix_suffix

    def check_params(self, params: Params) -> None:
        if not params["prefix"] and not params["suffix"]:
            raise ParameterError("Set 'prefix' or 'suffix' (or both).", param="prefix")


@register
class ReplaceRegex(Operator):
    name = "replace_regex"
    title = "Replace with regular expression"
    group = GROUP
    description = "Replace every match of a regular expression; the replacement may refer to groups as \\1."
    params = (
        TEXT_COLUMNS,
        Param("pattern", "string", required=True, description=PATTERN_HELP),
        Param("replacement", "string", default="", description="Python's syntax: \\1, \\g<name>, \\g<0>, \\n."),
        Param("case_sensitive", "boolean", default=True),
    )
    kernel = replace_regex

    def check_params(self, params: Params) -> None:
        compiled = compile_pattern("pattern", params["pattern"], ignore_case=not params["case_sensitive"])
        try:
            compiled.template(params["replacement"])
        except RegexError as exc:
            raise ParameterError(str(exc), param="replacement") from exc


@register
class ReplaceValues(Operator):
    name = "replace_values"
    title = "Replace values"
    group = GROUP
    description = 'Replace whole values: {"old": "new", "N/A": null}.'
    params = (TEXT_COLUMNS, Param("mapping", "json", required=True))
    kernel = replace_values

    def check_params(self, params: Params) -> None:
        mapping = params["mapping"]
        if (
            not isinstance(mapping, dict)
            or not mapping
            or not all(v is None or isinstance(v, str) for v in mapping.values())
        ):
            raise ParameterError(
                "Parameter 'mapping' must be a non-empty object of text (or null) values.", param="mapping"
            )


@register
class SplitColumn(Operator):
    name = "split_column"
    title = "Split column"
    group = GROUP
    description = "Split text on a delimiter into a fixed number of new columns named <column>_1, <column>_2, ..."
    params = (
        TEXT_COLUMN,
        Param("delimiter", "string", required=True),
        Param(
            "max_parts",
            "integer",
            default=2,
            minimum=1,
            maximum=MAX_PARTS,
            description="Number of new columns; the last one keeps the rest of the text.",
        ),
        Param(
            "regex",
            "boolean",
            default=False,
            description="Treat the delimiter as a regular expression: " + PATTERN_HELP,
        ),
        Param("drop_original", "boolean", default=False),
    )
    kernel = split_column

    def check_params(self, params: Params) -> None:
        if not params["delimiter"]:
            raise ParameterError("Parameter 'delimiter' must not be empty.", param="delimiter")
        if params["regex"]:
            compile_pattern("delimiter", params["delimiter"])

    def check_data(self, params: Params, inputs: Sequence[pd.DataFrame]) -> None:
        df, column = inputs[0], params["column"]
        new = [f"{column}_{i + 1}" for i in range(params["max_parts"])]
        clash = [n for n in new if n in df.columns and not (params["drop_original"] and n == column)]
        if clash:
            raise ParameterError(
                f"Parameter 'column': output column(s) {quote_list(clash)} already exist.", param="column"
            )


@register
class ExtractRegex(Operator):
    name = "extract_regex"
    title = "Extract with regular expression"
    group = GROUP
    description = (
        "Create one column per capture group of a regular expression, e.g. (\\d+)-(\\d+). Named groups "
        "(?P<name>...) name their column; others are <column>_1, <column>_2, ..."
    )
    params = (TEXT_COLUMN, Param("pattern", "string", required=True, description=PATTERN_HELP))
    kernel = extract_regex

    def check_params(self, params: Params) -> None:
        compiled = compile_pattern("pattern", params["pattern"])
        if not 1 <= compiled.groups <= MAX_PARTS:
            raise ParameterError(
                f"Parameter 'pattern' needs between 1 and {MAX_PARTS} capture groups such as (\\d+), "
                f"it has {compiled.groups}.",
                param="pattern",
            )

    def check_data(self, params: Params, inputs: Sequence[pd.DataFrame]) -> None:
        names = self.group_names(params)
        clash = [n for n in names if n in inputs[0].columns]
        if clash:
            raise ParameterError(
                f"Parameter 'pattern': output column(s) {quote_list(clash)} already exist.", param="pattern"
            )

    def group_names(self, params: Params) -> list[str]:
        compiled = compile_pattern("pattern", params["pattern"])
        by_index = {index: name for name, index in compiled.groupindex.items()}
        return [by_index.get(i, f"{params['column']}_{i}") for i in range(1, compiled.groups + 1)]

    def kernel_args(self, params: Params, trained: Any) -> dict[str, Any]:
        return {"column": params["column"], "pattern": params["pattern"], "names": self.group_names(params)}


@register
class CombineColumns(Operator):
    name = "combine_columns"
    title = "Combine columns"
    group = GROUP
    description = "Concatenate the text of several columns into a new column, with an optional separator."
    params = (
        Param("columns", "columns", required=True),
        Param("new_column", "string", required=True),
        Param("separator", "string", default=""),
    )
    kernel = combine_columns

    def check_data(self, params: Params, inputs: Sequence[pd.DataFrame]) -> None:
        if not params["new_column"]:
            raise ParameterError("Parameter 'new_column' must not be empty.", param="new_column")
        require_new_column("new_column", params["new_column"], inputs[0])
