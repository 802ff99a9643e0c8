"""apps.datasets.inference: semantic types and casting with per-column failure counts."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from apps.datasets.inference import apply_schema, cast_failures, cast_series, infer_schema


def types_of(df: pd.DataFrame) -> dict[str, str]:
    return {e["name"]: e["type"] for e in infer_schema(df)}


@pytest.fixture
def mixed() -> pd.DataFrame:
    n = 200
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "customer_id": np.arange(1000, 1000 + n),
            "age": rng.integers(18, 80, n),
            "price": rng.normal(10, 2, n).round(2),
            "price_text": [f"{v:.2f}" for v in rng.normal(10, 2, n)],
            "count_text": [str(v) for v in rng.integers(0, 50, n)],
            "flag01": rng.integers(0, 2, n),
            "yes_no": rng.choice(["Yes", "no"], n),
            "colour": rng.choice(["red", "green", "blue"], n),
            "iso_date": pd.date_range("2020-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "dmy": pd.date_range("2020-01-01", periods=n, freq="D").strftime("%d/%m/%Y"),
            "review": [f"This product was number {i} and I would buy it again next year" for i in range(n)],
            "code": [f"AB{i:06d}" for i in range(n)],
            "zip": [f"{i:05d}" for i in rng.integers(0, 2000, n)],
            "empty": [None] * n,
        }
    )


def test_infers_each_semantic_type(mixed: pd.DataFrame) -> None:
    assert types_of(mixed) == {
        "customer_id": "identifier",
        "age": "integer",
        "price": "numeric",
        "price_text": "numeric",
        "count_text": "integer",
        "flag01": "boolean",
        "yes_no": "boolean",
        "colour": "categorical",
        "iso_date": "datetime",
        "dmy": "datetime",
        "review": "text",
        "code": "identifier",
        "zip": "categorical",
        "empty": "text",
    }


def test_schema_entries_have_the_contract_keys(mixed: pd.DataFrame) -> None:
    schema = {e["name"]: e for e in infer_schema(mixed)}
    for entry in schema.values():
        assert {"name", "type", "pandas_dtype", "nullable", "reason"} <= set(entry)
        assert entry["reason"]
    assert schema["dmy"]["format"] == "%d/%m/%Y"
    assert schema["age"]["pandas_dtype"] == "Int64" and schema["colour"]["pandas_dtype"] == "category"
    assert schema["empty"]["nullable"] is True and schema["age"]["nullable"] is False


def test_zero_one_is_boolean_only_with_exactly_two_values() -> None:
    df = pd.DataFrame({"a": [0, 1] * 20, "b": [0, 1, 2, 3] * 10, "c": ["1"] * 40, "d": ["true", "false"] * 20})
    assert types_of(df) == {"a": "boolean", "b": "integer", "c": "integer", "d": "boolean"}


def test_low_and_high_cardinality_strings() -> None:
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"few": rng.choice(list("abcde"), 1000), "many": [f"k{v}" for v in rng.integers(0, 900, 1000)]})
    schema = {e["name"]: e for e in infer_schema(df)}
    assert schema["few"]["type"] == "categorical"
    assert schema["many"]["type"] == "categorical" and "high cardinality" in schema["many"]["reason"]


def test_mixed_numbers_and_strings_do_not_crash() -> None:
    values = [1, "a", 2.5, None, "3", 4, 5, 6, 7, 8] * 10
    df = pd.DataFrame({"m": pd.Series(values, dtype=object)})
    assert types_of(df) == {"m": "categorical"}  # 20 % text: neither numbers nor an id
    cast = apply_schema(df, [{"name": "m", "type": "numeric"}])
    assert cast["m"].dtype == "float64"
    assert cast["m"].head(5).tolist()[:3] == [1.0, pytest.approx(float("nan"), nan_ok=True), 2.5]
    assert cast_failures(cast) == {"m": 10}
    assert cast.attrs["cast_report"]["m"]["examples"] == ["a"]


def test_apply_schema_counts_failures_not_blanks() -> None:
    df = pd.DataFrame(
        {
            "n": ["1", "2.5", "x", "", "  ", None, "7"],
            "i": ["1", "2", "3.5", "4", None, "6", "oops"],
            "b": ["yes", "NO", "maybe", None, "y", "n", "true"],
            "d": ["2020-01-01", "2020-02-30", "2020-03-01", None, "", "2021-12-31", "2022-01-01"],
        }
    )
    schema = [
        {"name": "n", "type": "numeric"},
        {"name": "i", "type": "integer"},
        {"name": "b", "type": "boolean"},
        {"name": "d", "type": "datetime", "format": "ISO8601"},
    ]
    out = apply_schema(df, schema)
    assert cast_failures(out) == {"n": 1, "i": 2, "b": 1, "d": 1}
    assert out.attrs["cast_report"]["i"]["examples"] == ["3.5", "oops"]
    assert out["n"].tolist()[:2] == [1.0, 2.5]
    assert str(out["i"].dtype) == "Int64" and out["i"].tolist()[:2] == [1, 2]
    assert out["b"].tolist()[:2] == [True, False] and out["b"].isna().sum() == 2
    assert out["d"].iloc[0] == pd.Timestamp("2020-01-01") and pd.isna(out["d"].iloc[1])


def test_apply_schema_other_types_and_errors() -> None:
    df = pd.DataFrame({"c": ["a", "b", "a"], "t": [1, 2, 3], "f": [0.0, 1.0, 1.0], "e": [1.6e9, 1.7e9, None]})
    out = apply_schema(
        df,
        [
            {"name": "c", "type": "categorical"},
            {"name": "t", "type": "text"},
            {"name": "f", "type": "boolean"},
            {"name": "e", "type": "datetime"},
        ],
    )
    assert isinstance(out["c"].dtype, pd.CategoricalDtype) and out["t"].tolist() == ["1", "2", "3"]
    assert out["f"].tolist() == [False, True, True]
    assert out["e"].iloc[0] == pd.Timestamp("2020-09-13 12:26:40")  # epoch seconds
    with pytest.raises(ValueError, match="'nope'"):
        apply_schema(df, [{"name": "nope", "type": "text"}])
    with pytest.raises(ValueError, match="Unknown column types"):
        apply_schema(df, [{"name": "c", "type": "colour"}])


def test_cast_series_datetime_guesses_format_when_not_given() -> None:
    out, failed = cast_series(pd.Series(["13/01/2020", "14/02/2021", "bad"]), "datetime")
    assert out.iloc[0] == pd.Timestamp("2020-01-13") and failed.tolist() == [False, False, True]


def test_infer_and_cast_a_million_rows_fast() -> None:
    n = 1_000_000
    rng = np.random.default_rng(2)
    df = pd.DataFrame(
        {
            "num_text": pd.Series(rng.normal(size=n).round(3).astype(str), dtype="str"),
            "cat": pd.Series(rng.choice(["a", "b", "c"], n), dtype="str"),
            "when": pd.Series(pd.date_range("2020-01-01", periods=n, freq="min").astype(str), dtype="str"),
            "x": rng.normal(size=n),
        }
    )
    started = time.perf_counter()
    schema = infer_schema(df)
    out = apply_schema(df, schema)
    elapsed = time.perf_counter() - started
    assert [e["type"] for e in schema] == ["numeric", "categorical", "datetime", "numeric"]
    assert out["num_text"].dtype == "float64" and cast_failures(out) == {"num_text": 0, "cat": 0, "when": 0, "x": 0}
    assert elapsed < 15, f"inference + cast took {elapsed:.1f} s on 1M rows"


def test_unhashable_values_non_string_names_and_durations() -> None:
    df = pd.DataFrame(
        {
            0: pd.Series([{"x": 1}, [1], "a", None] * 10, dtype=object),
            "td": pd.to_timedelta([*range(39), None], unit="s"),
        }
    )
    schema = {e["name"]: e for e in infer_schema(df)}
    assert set(schema) == {"0", "td"} and schema["td"]["type"] == "numeric"
    out = apply_schema(df, list(schema.values()))
    assert list(out.columns) == ["0", "td"]
    assert out["td"].tolist()[:3] == [0.0, 1.0, 2.0] and cast_failures(out)["td"] == 0
