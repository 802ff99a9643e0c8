"""Every built-in transform, tested on values, plus parameter validation and the registry contract.

Plain pandas: no Django, no database. ``EXAMPLES`` (one valid use of every operator, tests/datasets/data.py) is
shared with the export-script tests.
"""

from __future__ import annotations

import builtins
import dis
import json
import math
import re
import time
from collections.abc import Callable
from types import CodeType
from typing import Any

import numpy as np
import pandas as pd
import pytest

from apps.datasets.transforms import (
    Operator,
    ParameterError,
    UnknownOperatorError,
    get_operator,
    list_operators,
    operator_specs,
)
from apps.datasets.transforms.base import PARAM_TYPES, collect_script_functions, script_dependencies
from apps.datasets.transforms.expressions import FUNCTIONS
from tests.datasets.data import EXAMPLES, FRAMES, base_frame, other_frame

NAN = np.nan


def run(name: str, df: pd.DataFrame, params: dict[str, Any], trained: dict[str, Any] | None = None) -> pd.DataFrame:
    return get_operator(name).apply(df, params, trained)


def frame(**columns: Any) -> pd.DataFrame:
    return pd.DataFrame(columns)


def example_inputs(names: tuple[str, ...]) -> list[pd.DataFrame]:
    return [FRAMES[n]() for n in names]


# --------------------------------------------------------------------------------------------
# Registry and operator contract
# --------------------------------------------------------------------------------------------


def test_registry_has_at_least_fifty_operators_and_every_one_has_an_example() -> None:
    names = {op.name for op in list_operators()}
    assert len(names) >= 50
    assert names == {name for name, _, _ in EXAMPLES}


def test_specs_are_plain_json_with_known_field_types() -> None:
    specs = json.loads(json.dumps(operator_specs()))
    assert len(specs) == len(list_operators())
    for spec in specs:
        assert spec["name"] and spec["version"] >= 1 and spec["title"] and spec["group"] and spec["description"]
        assert {"min", "max"} == set(spec["inputs"])
        for field in spec["parameters"]:
            assert field["type"] in PARAM_TYPES, (spec["name"], field)
            assert field["label"]
            if field["type"] == "choice":
                assert field["choices"], (spec["name"], field["name"])


def test_get_operator_by_version_and_unknown_names() -> None:
    assert get_operator("drop_columns").version == 1
    assert get_operator("drop_columns", 1).key == "drop_columns@1"
    with pytest.raises(UnknownOperatorError, match="no version 7"):
        get_operator("drop_columns", 7)
    with pytest.raises(UnknownOperatorError, match="Unknown operator 'nope'"):
        get_operator("nope")


def _globals_used(code: CodeType) -> set[str]:
    names = {i.argval for i in dis.get_instructions(code) if i.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _globals_used(const)
    return names


def _all_script_functions() -> list[Callable[..., Any]]:
    roots = [type(op).kernel for op in list_operators()] + [f.helper for f in FUNCTIONS.values()]
    from apps.datasets.transforms import expression_functions, flow, formula, join, rows, sql

    roots += [
        rows.filter_by_mask,
        formula.assign_column,
        join.join_frames,
        join.concatenate_frames,
        sql.run_sql,
        flow.prepare_source,
    ]
    roots += [getattr(expression_functions, n) for n in dir(expression_functions) if n.startswith("xf_")]
    return collect_script_functions(roots)


def test_script_functions_only_use_the_script_header_names_and_their_declared_helpers() -> None:
    from apps.datasets.transforms.export import HEADER_NAMES

    allowed_modules = {"np", "pd", "math", "re", "json", *HEADER_NAMES}
    for fn in _all_script_functions():
        declared = {dep.__name__ for dep in script_dependencies(fn)}
        unknown = _globals_used(fn.__code__) - allowed_modules - declared - set(dir(builtins))
        assert not unknown, f"{fn.__name__} uses undeclared names {unknown}"


def test_script_function_names_are_unique() -> None:
    functions = _all_script_functions()
    names = [fn.__name__ for fn in functions]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(("name", "params", "inputs"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_every_example_runs_and_returns_a_clean_frame(
    name: str,
    params: dict[str, Any],
    inputs: tuple[str, ...],
) -> None:
    op = get_operator(name)
    frames = example_inputs(inputs)
    originals = [f.copy() for f in frames]
    out = (
        op.apply(dict(zip(inputs, frames, strict=True)), params)
        if len(inputs) > 1 or name == "sql"
        else op.apply(frames[0], params)
    )
    assert isinstance(out.index, pd.RangeIndex) and out.index.start == 0
    assert all(isinstance(c, str) for c in out.columns) and out.columns.is_unique
    for before, after in zip(originals, frames, strict=True):
        pd.testing.assert_frame_equal(before, after)  # inputs are never modified


# --------------------------------------------------------------------------------------------
# Parameter validation, generic over every operator
# --------------------------------------------------------------------------------------------

BAD_VALUES: dict[str, Any] = {
    "column": 5,
    "columns": "not-a-list",
    "string": 5,
    "number": "ten",
    "integer": 2.5,
    "boolean": "yes",
    "choice": "not-a-choice",
    "expression": 5,
    "json": float("nan"),
}


def _validate(op: Operator, params: dict[str, Any], inputs: tuple[str, ...]) -> dict[str, Any]:
    frames = example_inputs(inputs)
    return op.validate(params, frames, list(inputs))


BAD_TYPE_CASES = [
    (name, spec.name)
    for name, params, _ in EXAMPLES
    for spec in get_operator(name).params
    if spec.type != "json" or spec.name in params
]


@pytest.mark.parametrize(("name", "param"), BAD_TYPE_CASES, ids=[f"{n}-{p}" for n, p in BAD_TYPE_CASES])
def test_a_wrongly_typed_parameter_is_named_in_the_error(name: str, param: str) -> None:
    op = get_operator(name)
    params, inputs = next((p, i) for n, p, i in EXAMPLES if n == name)
    spec = next(s for s in op.params if s.name == param)
    with pytest.raises(ParameterError) as caught:
        _validate(op, {**params, param: BAD_VALUES[spec.type]}, inputs)
    assert caught.value.param == param
    assert f"'{param}'" in caught.value.message


COLUMN_CASES = [
    (name, spec.name)
    for name, params, _ in EXAMPLES
    for spec in get_operator(name).params
    if spec.type in ("column", "columns") and params.get(spec.name)
]


@pytest.mark.parametrize(("name", "param"), COLUMN_CASES, ids=[f"{n}-{p}" for n, p in COLUMN_CASES])
def test_an_unknown_column_is_named_and_the_available_ones_listed(name: str, param: str) -> None:
    op = get_operator(name)
    params, inputs = next((p, i) for n, p, i in EXAMPLES if n == name)
    value = params[param]
    bad = "no_such_col" if isinstance(value, str) else ["no_such_col", *value[1:]]
    with pytest.raises(ParameterError) as caught:
        _validate(op, {**params, param: bad}, inputs)
    error = caught.value
    assert error.columns == ["no_such_col"]
    assert "'no_such_col'" in error.message and "Available columns:" in error.message
    assert set(error.available) in [set(f.columns) for f in example_inputs(inputs)]


@pytest.mark.parametrize(("name", "params", "inputs"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_unknown_and_missing_parameters_are_rejected(
    name: str,
    params: dict[str, Any],
    inputs: tuple[str, ...],
) -> None:
    op = get_operator(name)
    with pytest.raises(ParameterError, match=r"Unknown parameter.*'bogus'"):
        op.normalize({**params, "bogus": 1})
    required = [s.name for s in op.params if s.required]
    for missing in required:
        with pytest.raises(ParameterError, match=f"'{missing}' is required"):
            op.normalize({k: v for k, v in params.items() if k != missing})


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("standard_scale", {"columns": ["city"]}, "'city' is str; a numeric column is required"),
        ("change_case", {"columns": ["qty"], "case": "lower"}, "'qty' is int64; a text"),
        ("extract_datetime_parts", {"column": "code", "parts": ["year"]}, "a datetime column"),
        ("sample_rows", {"mode": "n"}, "'n' is required when mode is 'n'"),
        ("outliers_quantile", {"columns": ["qty"], "lower": 0.9, "upper": 0.1}, "'lower' must be smaller"),
        ("outliers_minmax", {"columns": ["qty"]}, "at least one of 'min' and 'max'"),
        ("pad_text", {"columns": ["code"], "width": 3, "fill_char": "ab"}, "exactly one character"),
        ("replace_regex", {"columns": ["code"], "pattern": "(unclosed"}, "not a valid regular expression"),
        ("replace_regex", {"columns": ["code"], "pattern": "(a)", "replacement": r"\2"}, "'replacement' is not valid"),
        ("extract_regex", {"column": "code", "pattern": "no groups"}, "capture groups"),
        ("split_column", {"column": "code", "delimiter": ""}, "'delimiter' must not be empty"),
        ("duplicate_column", {"column": "qty", "new_column": "price"}, "'price' already exists"),
        ("rename_columns", {"mapping": {"qty": "price"}}, "'price' already exist"),
        ("rename_columns", {"mapping": {"qty": "a", "id": "a"}}, "several columns would be named 'a'"),
        ("move_column", {"column": "qty", "position": 10}, "between -10 and 9"),
        ("fill_missing", {"columns": ["price"], "value": "zero"}, "'zero' does not fit column 'price'"),
        ("impute_missing", {"columns": ["city"], "strategy": "mean"}, "numeric column is required"),
        ("cast_columns", {"columns": ["qty"], "to": "float", "date_format": "%Y"}, "only when 'to' is 'datetime'"),
        (
            "group_by_aggregate",
            {"keys": ["label"], "aggregations": [{"column": "qty", "func": "explode"}]},
            "'func' must be one of",
        ),
        (
            "group_by_aggregate",
            {"keys": ["label"], "aggregations": [{"column": "city", "func": "sum"}]},
            "'city' is str; a numeric column",
        ),
        ("group_by_aggregate", {"keys": ["label"], "aggregations": []}, "non-empty list"),
        ("pca", {"columns": ["qty", "id"], "n_components": 3}, "cannot exceed the number of columns"),
        ("random_oversample", {"target": "price"}, "distinct values; balancing needs a class column"),
        ("group_rare_categories", {"columns": ["qty"], "min_count": 2}, "'qty' must be text or category columns"),
        ("smote", {"target": "label", "features": ["label"]}, "'label' is str; a numeric column"),
        ("custom_formula", {"new_column": "x", "expression": "nope + 1"}, "Unknown column 'nope'"),
        ("filter_rows", {"expression": "qty >"}, "Syntax error"),
        ("tfidf", {"column": "review", "max_features": 100000}, "at most 200"),
    ],
)
def test_operator_specific_parameter_errors(name: str, params: dict[str, Any], message: str) -> None:
    df = base_frame()
    if name == "random_oversample":
        df = pd.DataFrame({"price": np.arange(300)})
    with pytest.raises(ParameterError) as caught:
        get_operator(name).validate(params, [df])
    assert message in caught.value.message


def test_join_parameter_errors_name_the_input() -> None:
    join = get_operator("join")
    inputs = {"left": base_frame(), "right": other_frame().rename(columns={"id": "key"})}
    with pytest.raises(ParameterError, match="'id' not found in input 'right'"):
        join.apply(inputs, {"on": ["id"]})
    with pytest.raises(ParameterError, match="either 'on' or 'left_on'"):
        join.apply(inputs, {"on": ["id"], "left_on": ["id"], "right_on": ["key"]})
    with pytest.raises(ParameterError, match="incompatible types"):
        join.apply(inputs, {"left_on": ["city"], "right_on": ["key"]})


# --------------------------------------------------------------------------------------------
# Manage columns
# --------------------------------------------------------------------------------------------


def test_drop_select_rename_duplicate() -> None:
    df = frame(a=[1, 2], b=["x", "y"], c=[0.5, 1.5])
    assert list(run("drop_columns", df, {"columns": ["b"]}).columns) == ["a", "c"]
    selected = run("select_columns", df, {"columns": ["c", "a"]})
    assert list(selected.columns) == ["c", "a"] and selected["c"].tolist() == [0.5, 1.5]
    swapped = run("rename_columns", df, {"mapping": {"a": "b", "b": "a"}})
    assert list(swapped.columns) == ["b", "a", "c"] and swapped["b"].tolist() == [1, 2]
    copied = run("duplicate_column", df, {"column": "a", "new_column": "a2"})
    assert list(copied.columns) == ["a", "a2", "b", "c"] and copied["a2"].tolist() == [1, 2]


@pytest.mark.parametrize(
    ("column", "position", "expected"),
    [("c", 0, ["c", "a", "b"]), ("a", -1, ["b", "c", "a"]), ("a", 1, ["b", "a", "c"]), ("b", -3, ["b", "a", "c"])],
)
def test_move_column(column: str, position: int, expected: list[str]) -> None:
    df = frame(a=[1], b=[2], c=[3])
    assert list(run("move_column", df, {"column": column, "position": position}).columns) == expected


@pytest.mark.parametrize(
    ("values", "to", "extra", "expected", "dtype"),
    [
        (["1", "2.5", "x", None], "numeric", {}, [1.0, 2.5, NAN, NAN], "float64"),
        (["1", "2", None], "numeric", {}, [1.0, 2.0, NAN], "float64"),
        ([1, 2, 3], "float", {}, [1.0, 2.0, 3.0], "float64"),
        (["1", "2.0", "2.5", None], "integer", {}, [1, 2, pd.NA, pd.NA], "Int64"),
        (["yes", "No", " 1 ", "maybe", None, "F"], "boolean", {}, [True, False, True, pd.NA, pd.NA, False], "boolean"),
        ([1, 0, 2], "boolean", {}, [True, False, pd.NA], "boolean"),
        (
            ["31/12/2024", "01/02/2023", "bad"],
            "datetime",
            {"date_format": "%d/%m/%Y"},
            [pd.Timestamp("2024-12-31"), pd.Timestamp("2023-02-01"), pd.NaT],
            None,
        ),
        (
            ["2024-01-01", "2024-06-15 13:45"],
            "datetime",
            {},
            [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-06-15 13:45")],
            None,
        ),
        ([1.5, None], "string", {}, ["1.5", NAN], "str"),
    ],
)
def test_cast_columns_values(
    values: list[Any], to: str, extra: dict[str, Any], expected: list[Any], dtype: str | None
) -> None:
    out = run("cast_columns", frame(v=values), {"columns": ["v"], "to": to, **extra})["v"]
    if dtype is not None:
        assert out.dtype == pd.api.types.pandas_dtype(dtype)
    else:
        assert pd.api.types.is_datetime64_any_dtype(out.dtype)
    pd.testing.assert_series_equal(out, pd.Series(expected, name="v", dtype=out.dtype), check_dtype=False)


def test_cast_to_category_and_fail_mode_names_bad_values() -> None:
    out = run("cast_columns", frame(v=["a", "b", "a"]), {"columns": ["v"], "to": "category"})
    assert isinstance(out["v"].dtype, pd.CategoricalDtype) and list(out["v"].cat.categories) == ["a", "b"]
    with pytest.raises(ValueError, match=r"Column 'v': 2 value\(s\) cannot be converted to integer, for example 'x'"):
        run("cast_columns", frame(v=["1", "x", "2.5"]), {"columns": ["v"], "to": "integer", "errors": "fail"})


# --------------------------------------------------------------------------------------------
# Manage rows
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "mode", "expected_ids"),
    [
        ("price > 10", "keep", [2, 4, 5, 7, 8]),
        ("price > 10", "drop", [1, 3, 6]),
        ("city == 'Paris' or qty >= 8", "keep", [1, 4, 6, 8]),
        ("not flag and `label` == 'no'", "keep", [2, 5, 8]),
        ("isnull(city)", "keep", [3]),
        ("True", "keep", [1, 2, 3, 4, 5, 6, 7, 8]),
        ("qty < 0", "keep", []),
    ],
)
def test_filter_rows(expression: str, mode: str, expected_ids: list[int]) -> None:
    out = run("filter_rows", base_frame(), {"expression": expression, "mode": mode})
    assert out["id"].tolist() == expected_ids
    assert out.index.tolist() == list(range(len(expected_ids)))


def test_filter_rows_needs_a_boolean_expression() -> None:
    with pytest.raises(ValueError, match="must give true/false values, got float64"):
        run("filter_rows", base_frame(), {"expression": "price * 2"})


def test_sort_rows_is_stable_and_places_missing_values() -> None:
    df = frame(k=[2.0, 1.0, NAN, 2.0, 1.0], tag=["a", "b", "c", "d", "e"])
    assert run("sort_rows", df, {"columns": ["k"]})["tag"].tolist() == ["b", "e", "a", "d", "c"]
    out = run("sort_rows", df, {"columns": ["k"], "ascending": False, "na_position": "first"})
    assert out["tag"].tolist() == ["c", "a", "d", "b", "e"]


@pytest.mark.parametrize(
    ("subset", "keep", "expected"),
    [
        (None, "first", ["a", "b", "c", "e"]),
        (["k"], "first", ["a", "b", "c"]),
        (["k"], "last", ["c", "a", "e"]),
        (["k"], "none", ["c"]),
    ],
)
def test_drop_duplicates(subset: list[str] | None, keep: str, expected: list[str]) -> None:
    df = frame(k=[1, 2, 3, 1, 2], v=[0, 0, 0, 0, 1], tag=["a", "b", "c", "a", "e"])
    params = {"keep": keep, **({"subset": subset} if subset else {})}
    assert run("drop_duplicates", df, params)["tag"].tolist() == expected


def test_sample_rows_is_reproducible_ordered_and_sized() -> None:
    df = frame(i=list(range(100)))
    first = run("sample_rows", df, {"n": 10, "seed": 1})["i"].tolist()
    assert first == run("sample_rows", df, {"n": 10, "seed": 1})["i"].tolist()
    assert first != run("sample_rows", df, {"n": 10, "seed": 2})["i"].tolist()
    assert len(first) == 10 and first == sorted(first) and len(set(first)) == 10
    assert len(run("sample_rows", df, {"mode": "fraction", "fraction": 0.25})) == 25
    assert len(run("sample_rows", df, {"n": 1000})) == 100


@pytest.mark.parametrize(
    ("n", "from_end", "expected"),
    [(2, False, [0, 1]), (2, True, [3, 4]), (9, False, [0, 1, 2, 3, 4])],
)
def test_head_rows(n: int, from_end: bool, expected: list[int]) -> None:
    out = run("head_rows", frame(i=[0, 1, 2, 3, 4]), {"n": n, "from_end": from_end})
    assert out["i"].tolist() == expected and out.index.tolist() == list(range(len(expected)))


# --------------------------------------------------------------------------------------------
# Handle missing
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [({}, [0]), ({"columns": ["a"]}, [0, 2]), ({"columns": ["a", "b"], "how": "all"}, [0, 1, 2])],
)
def test_drop_missing(params: dict[str, Any], expected: list[int]) -> None:
    df = frame(i=[0, 1, 2, 3], a=[1.0, NAN, 3.0, NAN], b=["x", "y", None, None])
    assert run("drop_missing", df, params)["i"].tolist() == expected


def test_fill_missing_adapts_to_column_types() -> None:
    df = frame(f=[1.0, NAN], s=["a", None], n=pd.array([1, None], dtype="Int64"), c=pd.Categorical(["x", None]))
    out = run("fill_missing", df, {"columns": ["f"], "value": 0})
    assert out["f"].tolist() == [1.0, 0.0]
    assert run("fill_missing", df, {"columns": ["s", "c"], "value": "?"})[["s", "c"]].astype(str).values.tolist() == [
        ["a", "x"],
        ["?", "?"],
    ]
    filled = run("fill_missing", df, {"columns": ["n"], "value": 2.5})["n"]
    assert filled.tolist() == [1.0, 2.5] and filled.dtype == "Float64"


@pytest.mark.parametrize(
    ("strategy", "column", "fitted", "expected_fill"),
    [("mean", "x", 3.0, 3.0), ("median", "x", 1.5, 1.5), ("mode", "s", "b", "b"), ("mode", "x", 1.0, 1.0)],
)
def test_impute_missing_fits_on_one_frame_and_applies_to_another(
    strategy: str, column: str, fitted: Any, expected_fill: Any
) -> None:
    train = frame(x=[1.0, 1.0, 2.0, 8.0, NAN], s=["a", "b", "b", None, "c"])
    test = frame(x=[NAN, 5.0], s=[None, "z"])
    op = get_operator("impute_missing")
    trained = op.fit(train, {"columns": [column], "strategy": strategy})
    assert trained == {"values": {column: fitted}}
    out = op.apply(test, {"columns": [column], "strategy": strategy}, trained)
    assert out[column].tolist()[0] == expected_fill and out[column].tolist()[1] == test[column].tolist()[1]


def test_impute_mode_of_a_datetime_column_round_trips_through_json() -> None:
    dates = pd.to_datetime(["2024-01-02", "2024-01-02", None, "2023-05-06"])
    op = get_operator("impute_missing")
    trained = op.fit(frame(d=dates), {"columns": ["d"], "strategy": "mode"})
    assert trained == {"values": {"d": "2024-01-02T00:00:00"}}
    out = op.apply(frame(d=dates), {"columns": ["d"], "strategy": "mode"}, trained)["d"]
    assert out.dtype == dates.dtype and out[2] == pd.Timestamp("2024-01-02")


def test_impute_all_missing_column_leaves_it_missing() -> None:
    df = frame(x=[NAN, NAN])
    op = get_operator("impute_missing")
    assert op.fit(df, {"columns": ["x"]}) == {"values": {"x": None}}
    assert op.apply(df, {"columns": ["x"]})["x"].isna().all()


def test_missing_indicator_is_placed_after_its_column() -> None:
    out = run("add_missing_indicator", frame(a=[1.0, NAN], b=[None, "y"]), {"columns": ["a", "b"], "suffix": "_na"})
    assert list(out.columns) == ["a", "a_na", "b", "b_na"]
    assert out["a_na"].tolist() == [False, True] and out["b_na"].tolist() == [True, False]


def test_forward_and_backward_fill_with_limit() -> None:
    df = frame(a=[1.0, NAN, NAN, 4.0, NAN], b=[None, "x", None, None, "y"])
    assert run("forward_fill", df, {"columns": ["a"]})["a"].tolist()[1:] == [1.0, 1.0, 4.0, 4.0]
    assert run("forward_fill", df, {"columns": ["a"], "limit": 1})["a"].isna().tolist() == [
        False,
        False,
        True,
        False,
        False,
    ]
    out = run("backward_fill", df, {})
    assert out["b"].tolist() == ["x", "x", "y", "y", "y"] and out["a"].isna().tolist()[-1]


# --------------------------------------------------------------------------------------------
# Handle outliers
# --------------------------------------------------------------------------------------------

OUTLIER_X = [1.0, 2.0, 3.0, 4.0, 100.0, NAN]


def test_std_outliers_bounds_and_clip() -> None:
    values = np.array(OUTLIER_X[:-1])
    low, high = values.mean() - values.std(ddof=1), values.mean() + values.std(ddof=1)
    op = get_operator("outliers_std")
    trained = op.fit(frame(x=OUTLIER_X), {"columns": ["x"], "n_std": 1})
    assert trained["bounds"]["x"] == pytest.approx([low, high])
    out = op.apply(frame(x=OUTLIER_X), {"columns": ["x"], "n_std": 1}, trained)["x"]
    assert out.tolist()[:4] == [1.0, 2.0, 3.0, 4.0] and out[4] == pytest.approx(high) and math.isnan(out[5])


@pytest.mark.parametrize(
    ("action", "expected"),
    [("clip", [1.0, 2.0, 3.0, 4.0, 3 + 2 * 1.4826, NAN]), ("remove", [1.0, 2.0, 3.0, 4.0, NAN])],
)
def test_robust_outliers_use_median_and_mad(action: str, expected: list[float]) -> None:
    out = run("outliers_robust_std", frame(x=OUTLIER_X), {"columns": ["x"], "n_std": 2, "action": action})
    np.testing.assert_allclose(out["x"].to_numpy(), expected)


def test_quantile_outliers_fitted_thresholds_apply_to_new_data() -> None:
    op = get_operator("outliers_quantile")
    params = {"columns": ["x"], "lower": 0.1, "upper": 0.9}
    trained = op.fit(frame(x=np.arange(101.0)), params)
    assert trained == {"bounds": {"x": [10.0, 90.0]}}
    assert op.apply(frame(x=[-5.0, 50.0, 500.0]), params, trained)["x"].tolist() == [10.0, 50.0, 90.0]
    removed = op.apply(frame(x=[-5.0, 50.0, 500.0]), {**params, "action": "remove"}, trained)
    assert removed["x"].tolist() == [50.0]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"min": 2, "max": 4, "action": "remove"}, [2.0, 3.0, NAN]),
        ({"max": 2}, [1.0, 2.0, 2.0, 2.0, NAN]),
        ({"min": 3}, [3.0, 3.0, 3.0, 5.0, NAN]),
    ],
)
def test_minmax_outliers(params: dict[str, Any], expected: list[float]) -> None:
    out = run("outliers_minmax", frame(x=pd.array([1, 2, 3, 5, None], dtype="Int64")), {"columns": ["x"], **params})
    np.testing.assert_allclose(out["x"].astype("float64").to_numpy(), expected)


# --------------------------------------------------------------------------------------------
# Encode categorical
# --------------------------------------------------------------------------------------------

TRAIN_CATS = frame(c=["b", "a", "b", "c", None], k=[1, 2, 3, 4, 5])
TEST_CATS = frame(c=["a", "d", None], k=[7, 8, 9])


@pytest.mark.parametrize(
    ("unknown", "expected_columns", "expected_rows"),
    [
        ("ignore", ["c_a", "c_b", "c_c", "k"], [[1, 0, 0], [0, 0, 0], [0, 0, 0]]),
        ("indicator", ["c_a", "c_b", "c_c", "c_other", "k"], [[1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0]]),
    ],
)
def test_one_hot_encode_with_fitted_categories(
    unknown: str, expected_columns: list[str], expected_rows: list[list[int]]
) -> None:
    op = get_operator("one_hot_encode")
    params = {"columns": ["c"], "unknown": unknown}
    trained = op.fit(TRAIN_CATS, params)
    assert trained == {"categories": {"c": ["a", "b", "c"]}}
    out = op.apply(TEST_CATS, params, trained)
    assert list(out.columns) == expected_columns
    assert out[expected_columns[:-1]].to_numpy().tolist() == expected_rows


def test_one_hot_max_categories_keeps_most_frequent_and_error_mode() -> None:
    op = get_operator("one_hot_encode")
    assert op.fit(TRAIN_CATS, {"columns": ["c"], "max_categories": 2}) == {"categories": {"c": ["a", "b"]}}
    kept = op.apply(TEST_CATS, {"columns": ["c"], "drop_original": False, "separator": "="})
    assert list(kept.columns) == ["c", "c=a", "c=d", "k"]
    with pytest.raises(ValueError, match="values not seen when the step was fitted: 'd'"):
        op.apply(TEST_CATS, {"columns": ["c"], "unknown": "error"}, {"categories": {"c": ["a"]}})


@pytest.mark.parametrize(
    ("order", "categories", "codes"),
    [("value", ["a", "b", "c"], [0, -1, pd.NA]), ("frequency", ["b", "a", "c"], [1, -1, pd.NA])],
)
def test_ordinal_encode(order: str, categories: list[str], codes: list[Any]) -> None:
    op = get_operator("ordinal_encode")
    trained = op.fit(TRAIN_CATS, {"columns": ["c"], "order": order})
    assert trained == {"categories": {"c": categories}}
    out = op.apply(TEST_CATS, {"columns": ["c"], "order": order}, trained)["c"]
    assert out.dtype == "Int64" and out.tolist() == codes


def test_frequency_ties_are_broken_by_value_not_by_first_appearance() -> None:
    params = {"columns": ["c"], "order": "frequency"}
    trained = get_operator("ordinal_encode").fit(frame(c=["z", "y", "x", "x"]), params)
    assert trained == {"categories": {"c": ["x", "y", "z"]}}


def test_ordinal_encode_numeric_categories_and_missing_unknown_value() -> None:
    out = run("ordinal_encode", frame(n=[30, 10, 20, 10]), {"columns": ["n"], "unknown_value": None})
    assert out["n"].tolist() == [2, 0, 1, 0]


@pytest.mark.parametrize(
    ("params", "kept", "expected"),
    [
        ({"min_count": 2}, ["b"], ["Other", "Other", None]),
        ({"min_fraction": 0.2}, ["b", "a", "c"], ["a", "Other", None]),
        ({"min_count": 1, "min_fraction": 0.3, "other_label": "rare"}, ["b"], ["rare", "rare", None]),
    ],
)
def test_group_rare_categories(params: dict[str, Any], kept: list[str], expected: list[Any]) -> None:
    op = get_operator("group_rare_categories")
    trained = op.fit(TRAIN_CATS, {"columns": ["c"], **params})
    assert trained == {"keep": {"c": kept}}
    out = op.apply(TEST_CATS, {"columns": ["c"], **params}, trained)["c"]
    assert [None if pd.isna(v) else v for v in out] == expected


def test_group_rare_categories_turns_a_category_column_into_text() -> None:
    df = frame(c=pd.Categorical(["x", "x", "y", None]))
    out = run("group_rare_categories", df, {"columns": ["c"], "min_count": 2})["c"]
    assert out.dtype == "str" and [None if pd.isna(v) else v for v in out] == ["x", "x", "Other", None]


@pytest.mark.parametrize(("normalize", "expected"), [(False, [1, 0, 0]), (True, [0.2, 0.0, 0.0])])
def test_count_encode(normalize: bool, expected: list[float]) -> None:
    op = get_operator("count_encode")
    params = {"columns": ["c"], "normalize": normalize}
    trained = op.fit(TRAIN_CATS, params)
    assert trained["counts"]["c"][0] == ["b", 0.4 if normalize else 2]
    out = op.apply(TEST_CATS, params, trained)
    assert list(out.columns) == ["c", "c_count", "k"] and out["c_count"].tolist() == expected


# --------------------------------------------------------------------------------------------
# Scale numeric
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params", "train", "test", "expected"),
    [
        ("standard_scale", {}, [1.0, 2.0, 3.0], [4.0, 2.0], [2 / math.sqrt(2 / 3), 0.0]),
        ("standard_scale", {"with_std": False}, [1.0, 2.0, 3.0], [4.0], [2.0]),
        ("standard_scale", {}, [5.0, 5.0], [5.0, 6.0], [0.0, 1.0]),
        ("robust_scale", {}, [1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 3.0, 6.0], [-1.0, 0.0, 1.5]),
        ("minmax_scale", {}, [2.0, 4.0, 6.0], [2.0, 5.0, 8.0], [0.0, 0.75, 1.5]),
        ("minmax_scale", {"feature_min": -1, "feature_max": 1}, [2.0, 4.0, 6.0], [2.0, 4.0], [-1.0, 0.0]),
        ("maxabs_scale", {}, [-4.0, 2.0], [-4.0, 1.0, 8.0], [-1.0, 0.25, 2.0]),
    ],
)
def test_scalers_fit_then_apply(
    name: str, params: dict[str, Any], train: list[float], test: list[float], expected: list[float]
) -> None:
    op = get_operator(name)
    trained = op.fit(frame(x=train), {"columns": ["x"], **params})
    assert json.loads(json.dumps(trained)) == trained
    out = op.apply(frame(x=test), {"columns": ["x"], **params}, trained)["x"]
    np.testing.assert_allclose(out.to_numpy(), expected)
    assert out.dtype == "float64"


@pytest.mark.parametrize(
    ("method", "values", "expected"),
    [
        ("log1p", [0.0, math.e - 1, -1.0], [0.0, 1.0, NAN]),
        ("log", [-1.0, 0.0, 1.0, math.e], [NAN, NAN, 0.0, 1.0]),
        ("log10", [10.0, 100.0], [1.0, 2.0]),
        ("log2", [8.0], [3.0]),
    ],
)
def test_log_transform(method: str, values: list[float], expected: list[float]) -> None:
    out = run("log_transform", frame(x=values), {"columns": ["x"], "method": method})["x"]
    np.testing.assert_allclose(out.to_numpy(), expected)


def test_bin_numeric_uniform_edges_and_out_of_range_values() -> None:
    op = get_operator("bin_numeric")
    params = {"columns": ["x"], "n_bins": 2, "strategy": "uniform"}
    trained = op.fit(frame(x=[0.0, 10.0]), params)
    assert trained == {"edges": {"x": [0.0, 5.0, 10.0]}}
    out = op.apply(frame(x=[0.0, 4.9, 5.0, 10.0, 12.0, -1.0, NAN]), params, trained)
    assert out["x_bin"].tolist() == [0, 0, 1, 1, 1, 0, pd.NA]


def test_bin_numeric_quantile_edges() -> None:
    trained = get_operator("bin_numeric").fit(frame(x=[1.0, 2.0, 3.0, 4.0, 5.0]), {"columns": ["x"], "n_bins": 4})
    assert trained == {"edges": {"x": [1.0, 2.0, 3.0, 4.0, 5.0]}}


# --------------------------------------------------------------------------------------------
# Format strings
# --------------------------------------------------------------------------------------------

TEXT = frame(s=["hello World", "  padded  ", None])


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("lower", "hello world"),
        ("upper", "HELLO WORLD"),
        ("title", "Hello World"),
        ("capitalize", "Hello world"),
        ("swapcase", "HELLO wORLD"),
    ],
)
def test_change_case(case: str, expected: str) -> None:
    out = run("change_case", TEXT, {"columns": ["s"], "case": case})["s"]
    assert out[0] == expected and pd.isna(out[2])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"side": "both"}, "padded"),
        ({"side": "left"}, "padded  "),
        ({"side": "right"}, "  padded"),
        ({"characters": " d"}, "padde"),
    ],
)
def test_strip_text(params: dict[str, Any], expected: str) -> None:
    assert run("strip_text", TEXT, {"columns": ["s"], **params})["s"][1] == expected


@pytest.mark.parametrize(("side", "expected"), [("left", "0007"), ("right", "7000"), ("both", "0700")])
def test_pad_text(side: str, expected: str) -> None:
    out = run("pad_text", frame(s=["7", "12345"]), {"columns": ["s"], "width": 4, "side": side, "fill_char": "0"})
    assert out["s"].tolist() == [expected, "12345"]


def test_prefix_suffix_keeps_missing_values() -> None:
    out = run("add_prefix_suffix", TEXT, {"columns": ["s"], "prefix": "[", "suffix": "]"})["s"]
    assert out[0] == "[hello World]" and pd.isna(out[2])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"pattern": r"(\d+)-(\d+)", "replacement": r"\2-\1"}, ["45-123", "x"]),
        ({"pattern": "X", "replacement": "y", "case_sensitive": False}, ["123-45", "y"]),
        ({"pattern": "X", "replacement": "y"}, ["123-45", "x"]),
    ],
)
def test_replace_regex(params: dict[str, Any], expected: list[str]) -> None:
    assert run("replace_regex", frame(s=["123-45", "x"]), {"columns": ["s"], **params})["s"].tolist() == expected


def test_replace_values_matches_whole_values_only() -> None:
    out = run(
        "replace_values",
        frame(s=["yes", "yes sir", "N/A", None]),
        {"columns": ["s"], "mapping": {"yes": "y", "N/A": None}},
    )["s"]
    assert [None if pd.isna(v) else v for v in out] == ["y", "yes sir", None, None]


@pytest.mark.parametrize(
    ("params", "columns", "rows"),
    [
        ({"max_parts": 2}, ["s", "s_1", "s_2", "z"], [["a", "b,c"], ["x", None], [None, None]]),
        ({"max_parts": 3}, ["s", "s_1", "s_2", "s_3", "z"], [["a", "b", "c"], ["x", None, None], [None, None, None]]),
        (
            {"max_parts": 3, "delimiter": "[,;]", "regex": True, "drop_original": True},
            ["s_1", "s_2", "s_3", "z"],
            [["a", "b", "c"], ["x", None, None], [None, None, None]],
        ),
    ],
)
def test_split_column_always_makes_max_parts_columns(
    params: dict[str, Any], columns: list[str], rows: list[list[Any]]
) -> None:
    df = frame(s=["a,b,c", "x", None], z=[1, 2, 3])
    out = run("split_column", df, {"column": "s", "delimiter": ",", **params})
    assert list(out.columns) == columns
    parts = [c for c in columns if c.startswith("s_")]
    assert [[None if pd.isna(v) else v for v in row] for row in out[parts].to_numpy().tolist()] == rows
    if params.get("regex"):
        assert run("split_column", frame(s=["a;b"], z=[1]), {"column": "s", **params, "delimiter": "[,;]"})[
            "s_2"
        ].tolist() == ["b"]


def test_extract_regex_names_columns_after_groups() -> None:
    params = {"column": "s", "pattern": r"(?P<letter>[A-Z])-(\d+)"}
    out = run("extract_regex", frame(s=["A-12", "nothing", None]), params)
    assert list(out.columns) == ["s", "letter", "s_2"]
    assert (
        out["letter"].tolist()[0] == "A"
        and out["s_2"].tolist()[0] == "12"
        and out["letter"].isna().tolist() == [False, True, True]
    )


def test_combine_columns_treats_missing_as_empty() -> None:
    out = run(
        "combine_columns", frame(a=["x", None], b=[1, 2]), {"columns": ["a", "b"], "new_column": "ab", "separator": "-"}
    )
    assert out["ab"].tolist() == ["x-1", "-2"]


# --------------------------------------------------------------------------------------------
# Featurize date/time and text
# --------------------------------------------------------------------------------------------

DATES = frame(d=pd.to_datetime(["2024-03-09 14:30:05", None, "2023-01-02"], format="ISO8601"), z=[1, 2, 3])


def test_extract_datetime_parts() -> None:
    parts = ["year", "month", "day", "weekday", "hour", "minute", "second", "dayofyear", "quarter", "is_weekend"]
    out = run("extract_datetime_parts", DATES, {"column": "d", "parts": parts})
    assert list(out.columns) == ["d", *[f"d_{p}" for p in parts], "z"]
    assert out.iloc[0, 1:-1].tolist() == [2024, 3, 9, 5, 14, 30, 5, 69, 1, True]
    assert out.iloc[1, 1:-1].isna().all()
    assert out.iloc[2, 1:-1].tolist() == [2023, 1, 2, 0, 0, 0, 0, 2, 1, False]


def test_cyclic_encode_datetime() -> None:
    df = frame(d=pd.to_datetime(["2024-01-01 00:00", "2024-04-01 06:00", "2024-07-01 18:00"], format="ISO8601"))
    out = run("cyclic_encode_datetime", df, {"column": "d", "parts": ["month", "hour"], "drop_original": True})
    assert list(out.columns) == ["d_month_sin", "d_month_cos", "d_hour_sin", "d_hour_cos"]
    np.testing.assert_allclose(out.to_numpy(), [[0, 1, 0, 1], [1, 0, 1, 0], [0, -1, -1, 0]], atol=1e-12)


@pytest.mark.parametrize(
    ("unit", "expected"),
    [("days", [1.5, NAN]), ("hours", [36.0, NAN]), ("minutes", [2160.0, NAN])],
)
def test_datetime_difference(unit: str, expected: list[float]) -> None:
    df = frame(
        a=pd.to_datetime(["2024-01-01", None]), b=pd.to_datetime(["2024-01-02 12:00", "2024-01-01"], format="ISO8601")
    )
    out = run("datetime_difference", df, {"start": "a", "end": "b", "new_column": "gap", "unit": unit})
    np.testing.assert_allclose(out["gap"].to_numpy(), expected)


def test_text_length_and_word_count() -> None:
    df = frame(t=["abc", "", None, "two  words here"])
    assert run("text_length", df, {"columns": ["t"]})["t_length"].tolist() == [3, 0, pd.NA, 15]
    out = run("word_count", df, {"columns": ["t"], "suffix": "_n"})
    assert list(out.columns) == ["t", "t_n"] and out["t_n"].tolist() == [1, 0, pd.NA, 3]


def test_tfidf_matches_scikit_learn_on_the_fitted_vocabulary() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    docs = ["Apple banana", "apple apple", "cherry", "banana split, apple"]
    op = get_operator("tfidf")
    params = {"column": "t", "max_features": 3}
    trained = op.fit(frame(t=docs), params)
    assert trained["vocabulary"] == ["apple", "banana", "cherry"]
    reference = TfidfVectorizer(vocabulary=trained["vocabulary"]).fit(docs)
    np.testing.assert_allclose(trained["idf"], reference.idf_)
    new_docs = ["banana APPLE", "nothing known", None]
    out = op.apply(frame(t=new_docs), params, trained)
    expected = reference.transform([d or "" for d in new_docs]).toarray()
    np.testing.assert_allclose(out[["t_tfidf_apple", "t_tfidf_banana", "t_tfidf_cherry"]].to_numpy(), expected)


def test_tfidf_min_df_drops_rare_terms() -> None:
    trained = get_operator("tfidf").fit(frame(t=["a1 b2", "a1 c3", "a1"]), {"column": "t", "min_df": 2})
    assert trained["vocabulary"] == ["a1"]


# --------------------------------------------------------------------------------------------
# Balance, reduce, aggregate, formula, SQL, join, concatenate
# --------------------------------------------------------------------------------------------

IMBALANCED = frame(
    x=[0.0, 1.0, 2.0, 3.0, 10.0, 12.0],
    y=[0.0, 2.0, 4.0, 6.0, 20.0, 24.0],
    n=[1, 2, 3, 4, 5, 9],
    tag=["p", "q", "r", "s", "t", "u"],
    label=["a", "a", "a", "a", "b", "b"],
)


def test_random_oversample() -> None:
    out = run("random_oversample", IMBALANCED, {"target": "label", "seed": 1})
    assert out["label"].value_counts().to_dict() == {"a": 4, "b": 4}
    pd.testing.assert_frame_equal(out.iloc[:6], IMBALANCED)
    assert set(out["tag"].iloc[6:]) <= {"t", "u"}
    half = run("random_oversample", IMBALANCED, {"target": "label", "ratio": 0.5})
    assert half["label"].value_counts().to_dict() == {"a": 4, "b": 2}


def test_random_undersample_keeps_order_and_missing_targets() -> None:
    df = IMBALANCED.assign(label=["a", "a", None, "a", "b", "b"])
    out = run("random_undersample", df, {"target": "label", "seed": 5})
    assert out["label"].value_counts().to_dict() == {"a": 2, "b": 2}
    tags = out["tag"].tolist()
    assert tags == sorted(tags) and "r" in tags


def test_smote_synthesises_points_between_same_class_neighbours() -> None:
    out = run("smote", IMBALANCED, {"target": "label", "features": ["x", "y", "n"], "k_neighbors": 1, "seed": 0})
    assert out["label"].value_counts().to_dict() == {"a": 4, "b": 4}
    new = out.iloc[6:]
    assert ((new["x"] >= 10) & (new["x"] <= 12)).all()
    np.testing.assert_allclose(new["y"], 2 * new["x"])  # on the segment between the two b points
    assert new["n"].dtype == "int64" and new["n"].between(5, 9).all()
    assert set(new["tag"]) <= {"t", "u"}
    again = run("smote", IMBALANCED, {"target": "label", "features": ["x", "y", "n"], "k_neighbors": 1, "seed": 0})
    pd.testing.assert_frame_equal(out, again)


def test_smote_rounds_integer_features_of_synthetic_rows() -> None:
    df = frame(x=[0.0] * 20 + [10.0, 12.0], n=[0] * 20 + [5, 9], label=["a"] * 20 + ["b", "b"])
    new = run("smote", df, {"target": "label", "k_neighbors": 1, "seed": 4}).iloc[22:]
    assert len(new) == 18 and new["n"].dtype == "int64"
    assert new["n"].tolist() == np.rint(5 + (new["x"] - 10) * 2).astype(int).tolist()


def test_smote_default_features_and_missing_values() -> None:
    out = run("smote", IMBALANCED.drop(columns="n"), {"target": "label", "seed": 0})
    assert len(out) == 8
    broken = IMBALANCED.assign(x=[0.0, 1.0, 2.0, 3.0, NAN, 12.0])
    with pytest.raises(ValueError, match="class 'b' has missing values in \\['x'\\]"):
        run("smote", broken, {"target": "label", "features": ["x"]})


def test_pca_matches_a_line_and_stores_json_lists() -> None:
    df = frame(a=[1.0, 2.0, 3.0, 4.0], b=[2.0, 4.0, 6.0, 8.0], keep=["w", "x", "y", "z"])
    op = get_operator("pca")
    params = {"columns": ["a", "b"], "n_components": 2, "standardize": False}
    trained = op.fit(df, params)
    assert json.loads(json.dumps(trained)) == trained
    assert trained["explained_variance_ratio"][0] == pytest.approx(1.0)
    np.testing.assert_allclose(trained["components"][0], [1 / math.sqrt(5), 2 / math.sqrt(5)])
    out = op.apply(df, params, trained)
    assert list(out.columns) == ["keep", "pc_1", "pc_2"]
    centred = np.array([[-1.5, -3.0], [-0.5, -1.0], [0.5, 1.0], [1.5, 3.0]])
    np.testing.assert_allclose(out["pc_1"], centred @ np.array([1, 2]) / math.sqrt(5))
    np.testing.assert_allclose(out["pc_2"], 0.0, atol=1e-12)


def test_pca_agrees_with_scikit_learn_up_to_sign() -> None:
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(0)
    data = rng.normal(size=(50, 4)) @ rng.normal(size=(4, 4))
    df = pd.DataFrame(data, columns=list("abcd"))
    out = run("pca", df, {"columns": list("abcd"), "n_components": 2, "standardize": False})
    reference = PCA(n_components=2).fit_transform(data)
    np.testing.assert_allclose(np.abs(out[["pc_1", "pc_2"]].to_numpy()), np.abs(reference), atol=1e-9)


def test_group_by_aggregate_values() -> None:
    df = frame(g=["a", "b", "a", None, "a"], v=[1.0, 2.0, 3.0, 4.0, NAN], s=["x", "y", "x", "z", "w"])
    params = {
        "keys": ["g"],
        "aggregations": [
            {"column": "v", "func": "sum"},
            {"column": "v", "func": "mean", "as": "avg"},
            {"column": "v", "func": "count"},
            {"column": "v", "func": "size", "as": "rows"},
            {"column": "s", "func": "nunique"},
            {"column": "s", "func": "first"},
            {"column": "v", "func": "max"},
        ],
    }
    out = run("group_by_aggregate", df, params)
    assert list(out.columns) == ["g", "v_sum", "avg", "v_count", "rows", "s_nunique", "s_first", "v_max"]
    assert out.iloc[0].tolist() == ["a", 4.0, 2.0, 2, 3, 2, "x", 3.0]
    assert out.iloc[1].tolist() == ["b", 2.0, 2.0, 1, 1, 1, "y", 2.0]
    assert pd.isna(out["g"][2]) and out["v_sum"][2] == 4.0
    assert len(run("group_by_aggregate", df, {**params, "drop_missing_keys": True})) == 2


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("a * 2 + b", [3.0, 6.0, NAN]),
        ("1", [1, 1, 1]),
        ("upper(s) + '!'", ["X!", "Y!", NAN]),
        ("'big' if a > 1 else 'small'", ["small", "big", "big"]),
        ("round(a / 3, 2)", [0.33, 0.67, 1.0]),
    ],
)
def test_custom_formula(expression: str, expected: list[Any]) -> None:
    df = frame(a=[1, 2, 3], b=[1.0, 2.0, NAN], s=["x", "y", None])
    out = run("custom_formula", df, {"new_column": "r", "expression": expression})
    assert list(out.columns) == ["a", "b", "s", "r"]
    assert [None if pd.isna(v) else v for v in out["r"]] == [None if pd.isna(v) else v for v in expected]


def test_custom_formula_replaces_an_existing_column_in_place() -> None:
    out = run("custom_formula", frame(a=[1, 2], b=[3, 4]), {"new_column": "a", "expression": "a + b"})
    assert list(out.columns) == ["a", "b"] and out["a"].tolist() == [4, 6]


def test_sql_single_input_is_df_and_multiple_inputs_are_named_by_id() -> None:
    sql = get_operator("sql")
    out = sql.apply(
        {"src": frame(a=[1, 2, 3], b=["x", "y", "z"])},
        {"query": "SELECT a * 10 AS a10, b FROM df WHERE a > 1 ORDER BY a"},
    )
    assert out.to_dict("list") == {"a10": [20, 30], "b": ["y", "z"]}
    joined = sql.apply(
        {"orders": frame(k=[1, 2], v=["a", "b"]), "prices": frame(k=[2, 3], w=[0.5, 0.7])},
        {"query": "WITH j AS (SELECT * FROM orders JOIN prices USING (k)) SELECT k, v, w FROM j"},
    )
    assert joined.to_dict("list") == {"k": [2], "v": ["b"], "w": [0.5]}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("DROP TABLE df", "not DROP statements"),
        ("SELECT 1; SELECT 2", "Only one statement is allowed"),
        ("COPY df TO 'out.csv'", "not COPY statements"),
        ("INSERT INTO df VALUES (1)", "not INSERT statements"),
        ("CREATE TABLE t AS SELECT 1", "not CREATE statements"),
        ("ATTACH 'other.db'", "not ATTACH statements"),
        ("INSTALL httpfs", "not LOAD statements"),
        ("PRAGMA version", "not PRAGMA statements"),
        ("SET threads = 1", "not SET statements"),
        ("SELEC 1", "syntax error"),
    ],
)
def test_sql_rejects_anything_but_one_select(query: str, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        get_operator("sql").normalize({"query": query})


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_parquet('/tmp/x.parquet')",
        "SELECT * FROM secret_frame",
        "SELECT getenv('HOME')",
    ],
)
def test_sql_cannot_reach_files_or_python_variables(query: str) -> None:
    secret_frame = frame(password=["hunter2"])
    with pytest.raises(Exception) as caught:
        get_operator("sql").apply({"src": frame(a=[1])}, {"query": query})
    text = str(caught.value)
    assert "hunter2" not in text and ("disabled" in text or "does not exist" in text), text
    assert secret_frame is not None


def test_sql_connection_is_locked_down() -> None:
    from apps.datasets.sql import duckdb_connection

    connection = duckdb_connection()
    try:
        settings = dict(
            connection.execute(
                "SELECT name, value FROM duckdb_settings() WHERE name IN ('enable_external_access', "
                "'python_enable_replacements', 'lock_configuration', 'autoinstall_known_extensions', "
                "'autoload_known_extensions', 'allow_community_extensions')"
            ).fetchall()
        )
        assert settings == {name: "false" for name in settings} | {"lock_configuration": "true"}
        assert len(settings) == 6
        with pytest.raises(Exception, match="locked"):
            connection.execute("SET enable_external_access = true")
    finally:
        connection.close()


def test_the_sql_step_runs_in_the_sql_pages_sandbox_with_its_memory_and_thread_limits() -> None:
    out = get_operator("sql").apply(
        {"src": frame(a=[1])},
        {
            "query": "SELECT current_setting('memory_limit') AS m, current_setting('threads') AS t, "
            "current_setting('lock_configuration') AS locked FROM df"
        },
    )
    assert out.to_dict("records") == [{"m": "953.6 MiB", "t": 2, "locked": True}]  # 1 GB, 2 threads, locked


def test_the_sql_step_is_interrupted_past_its_time_limit() -> None:
    from apps.datasets.transforms.sql import sql_time_limit

    slow = "SELECT sum(a.range * b.range) AS s FROM range(200000) a, range(200000) b, df"
    started = time.monotonic()
    with sql_time_limit(0.3), pytest.raises(Exception, match=r"took longer than 0\.[123] s and was stopped"):
        get_operator("sql").apply({"src": frame(a=[1])}, {"query": slow})
    assert time.monotonic() - started < 5
    quick = get_operator("sql").apply({"src": frame(a=[1, 2])}, {"query": "SELECT sum(a) AS s FROM df"})
    assert quick["s"].tolist() == [3]  # no limit outside the block, and the next query is unaffected


JOIN_LEFT = frame(k=[1, 2, 3, 3], v=["a", "b", "c", "d"])
JOIN_RIGHT = frame(k=[3, 2, 4], v=["x", "y", "z"])


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("inner", {"k": [2, 3, 3], "v_left": ["b", "c", "d"], "v_right": ["y", "x", "x"]}),
        ("left", {"k": [1, 2, 3, 3], "v_left": ["a", "b", "c", "d"], "v_right": [None, "y", "x", "x"]}),
        ("right", {"k": [3, 3, 2, 4], "v_left": ["c", "d", "b", None], "v_right": ["x", "x", "y", "z"]}),
        ("outer", {"k": [1, 2, 3, 3, 4], "v_left": ["a", "b", "c", "d", None], "v_right": [None, "y", "x", "x", "z"]}),
        ("semi", {"k": [2, 3, 3], "v": ["b", "c", "d"]}),
        ("anti", {"k": [1], "v": ["a"]}),
    ],
)
def test_join_types(how: str, expected: dict[str, list[Any]]) -> None:
    out = get_operator("join").apply({"l": JOIN_LEFT, "r": JOIN_RIGHT}, {"how": how, "on": ["k"]})
    result = {c: [None if pd.isna(v) else v for v in out[c]] for c in out.columns}
    assert result == expected


def test_join_on_several_keys_with_different_names_and_suffixes() -> None:
    left = frame(a=[1, 1, 2], b=["x", "y", "x"], v=[1, 2, 3])
    right = frame(a2=[1, 2], b2=["y", "x"], v=[10, 30])
    out = get_operator("join").apply(
        {"l": left, "r": right},
        {"left_on": ["a", "b"], "right_on": ["a2", "b2"], "left_suffix": "_l", "right_suffix": "_r"},
    )
    assert out.to_dict("list") == {
        "a": [1, 2],
        "b": ["y", "x"],
        "v_l": [2, 3],
        "a2": [1, 2],
        "b2": ["y", "x"],
        "v_r": [10, 30],
    }


@pytest.mark.parametrize(
    ("params", "columns", "rows"),
    [
        ({}, ["a", "b", "c"], [[1, "x", None], [2, None, 0.5]]),
        ({"columns": "intersection"}, ["a"], [[1], [2]]),
        ({"source_column": "from"}, ["a", "b", "from", "c"], [[1, "x", "one", None], [2, None, "two", 0.5]]),
    ],
)
def test_concatenate_aligns_columns(params: dict[str, Any], columns: list[str], rows: list[list[Any]]) -> None:
    out = get_operator("concatenate").apply({"one": frame(a=[1], b=["x"]), "two": frame(c=[0.5], a=[2])}, params)
    assert list(out.columns) == columns
    assert [[None if pd.isna(v) else v for v in row] for row in out.astype(object).to_numpy().tolist()] == rows


# --------------------------------------------------------------------------------------------
# Speed: every operator on 50k rows (generous bound; implementations are vectorised)
# --------------------------------------------------------------------------------------------


def test_every_operator_handles_fifty_thousand_rows_quickly() -> None:
    import time

    big = {name: pd.concat([make()] * 6250, ignore_index=True) for name, make in FRAMES.items()}
    rng = np.random.default_rng(0)
    n = len(big["base"])
    big["base"] = big["base"].assign(
        id=np.arange(n), qty=rng.integers(0, 1000, n), price=big["base"]["price"] * rng.uniform(0.5, 1.5, n)
    )
    slow = {}
    for name, params, inputs in EXAMPLES:
        op = get_operator(name)
        frames = [big[i] for i in inputs]
        started = time.perf_counter()
        if len(inputs) > 1 or name == "sql":
            op.apply(dict(zip(inputs, frames, strict=True)), params)
        else:
            op.apply(frames[0], params)
        elapsed = time.perf_counter() - started
        if elapsed > 3.0:
            slow[name] = round(elapsed, 2)
    assert not slow, f"operators slower than 3 s on 50k rows: {slow}"


# Patterns that make a backtracking engine take exponential time on a near-match: alternation under a star,
# optional repeated then fixed, nested counted repeats, nested unbounded repeats.
EXPONENTIAL = [
    r"(a|a)*c",
    r"(?:a|a)+c",
    r"(a|aa)+c",
    r"(a?){25}a{25}",
    r"(?:a?){27}a{27}",
    r"(a{1,999}){1,999}c",
    r"(a{1,30}){1,30}c",
    r"(a+)+c",
    r"(\w*a?)*c",
    r"(?:[a-z]+\s?)+!",
]


def _regex_step(op: str, pattern: str, group: bool = True) -> dict[str, Any]:
    if op == "replace_regex":
        return {"columns": ["s"], "pattern": pattern, "replacement": "x"}
    if op == "extract_regex":
        return {"column": "s", "pattern": f"({pattern})" if group else pattern}
    return {"column": "s", "delimiter": pattern, "regex": True, "max_parts": 3}


@pytest.mark.parametrize("pattern", EXPONENTIAL)
@pytest.mark.parametrize("op", ["replace_regex", "extract_regex", "split_column"])
def test_exponential_patterns_finish_fast_through_the_operators(op: str, pattern: str) -> None:
    """ReDoS: 26-30 characters of near-match through the operator take well under a second (Python's re: seconds to
    hours, holding the GIL). A forked child runs it so that a regression fails at the 5 s cap instead of hanging."""
    from tests import timing

    df = frame(s=["a" * 28, "a" * 26 + "b", "b" + "a" * 29, None])
    get_operator(op).apply(frame(s=["é1 x"]), _regex_step(op, r"\w\s"))  # one-time Unicode class table, untimed
    timing.assert_fast(
        lambda: get_operator(op).apply(df, _regex_step(op, pattern)), limit=0.5, cap=5.0, expected=(ParameterError,)
    )


@pytest.mark.parametrize("op", ["replace_regex", "extract_regex", "split_column"])
def test_nested_counted_repeats_beyond_the_engine_limit_are_refused_by_name(op: str) -> None:
    param = "delimiter" if op == "split_column" else "pattern"
    with pytest.raises(ParameterError, match=f"Parameter '{param}': a repetition count is too large") as caught:
        run(op, frame(s=["aaa"]), _regex_step(op, r"(a{1,999}){1,999}c"))
    assert caught.value.param == param


@pytest.mark.parametrize(
    ("pattern", "feature"),
    [
        (r"(\w)\1", "a backreference"),
        (r"(?P<w>\w)(?P=w)", "a backreference"),
        (r"a(?=b)", "a lookahead (?=...)"),
        (r"a(?!b)", "a negative lookahead (?!...)"),
        (r"(?<=a)b", "a lookbehind (?<=...)"),
        (r"(?<!a)b", "a negative lookbehind (?<!...)"),
        (r"(a*+)", "a possessive quantifier"),
        (r"(?>(a|ab))c", "an atomic group"),
        (r"(a)?(?(1)b|c)", "a conditional group"),
    ],
)
@pytest.mark.parametrize("op", ["replace_regex", "extract_regex", "split_column"])
def test_python_only_features_are_refused_naming_feature_and_parameter(op: str, pattern: str, feature: str) -> None:
    param = "delimiter" if op == "split_column" else "pattern"
    with pytest.raises(ParameterError, match=re.escape(f"Parameter '{param}' uses {feature}")) as caught:
        run(op, frame(s=["ab"]), _regex_step(op, pattern, group=False))
    assert caught.value.param == param


REGEX_VALUES = ["123-45", "Ab-7 cd-88", "josé_2 ÉCOLE-٣", "", "x\ny", None, "a,b;;c", "日本-語", "abab"]
REGEX_CASES = [  # (pattern, replacement, case_sensitive)
    (r"(\d+)-(\d+)", r"\2-\1", True),
    (r"(?P<word>[a-z]+)-(?P<num>\d+)", r"\g<num>:\g<word>", False),
    (r"(\w+)", r"<\1>", True),
    (r"é|É", "e", False),
    (r"école", r"[\g<0>]", False),
    (r"x*", "-", True),
    (r"[,;]+", r"\n", True),
    (r"(a)(b)?", r"\2\1", True),
    (r"(?m)^(\w)", r"\1\1", True),
    (r"\s*-\s*", " to ", True),
]


@pytest.mark.parametrize("dtype", ["str", "string", object])
@pytest.mark.parametrize(("pattern", "replacement", "case_sensitive"), REGEX_CASES)
def test_regex_operators_give_what_pandas_with_pythons_re_gave(
    pattern: str, replacement: str, case_sensitive: bool, dtype: Any
) -> None:
    """Same values, same dtypes, missing values kept, as the former ``.str.replace/.split/.extract`` with ``re``."""
    values = pd.Series(REGEX_VALUES, dtype=dtype, name="s")
    df = frame(s=values, z=range(len(REGEX_VALUES)))
    out = run(
        "replace_regex",
        df,
        {"columns": ["s"], "pattern": pattern, "replacement": replacement, "case_sensitive": case_sensitive},
    )
    compiled = re.compile(pattern, 0 if case_sensitive else re.IGNORECASE)
    pd.testing.assert_series_equal(out["s"], values.str.replace(compiled, replacement, regex=True))

    out = run("split_column", df, {"column": "s", "delimiter": pattern, "regex": True, "max_parts": 3})
    before = values.str.split(pattern, n=2, expand=True, regex=True).reindex(columns=range(3)).astype("str")
    before.columns = ["s_1", "s_2", "s_3"]
    pd.testing.assert_frame_equal(out[["s_1", "s_2", "s_3"]], before)

    if re.compile(pattern).groups:
        out = run("extract_regex", df, {"column": "s", "pattern": pattern})
        before = values.str.extract(pattern, expand=True).astype("str")
        new_columns = [c for c in out.columns if c not in ("s", "z")]
        before.columns = new_columns
        pd.testing.assert_frame_equal(out[new_columns], before)


@pytest.mark.parametrize("pattern", [r"(\d+)-(\d+)", r"^\s+|\s+$", r"[A-Z]{2}\d{4}", r"(ab){2,3}c+", r"(?:x|y)+"])
def test_ordinary_patterns_are_accepted(pattern):
    from apps.datasets.transforms.strings import compile_pattern

    assert compile_pattern("pattern", pattern).pattern == pattern
