"""The one CSV writer (apps/core/csvio.py): whatever the cells hold, a raw CSV reads back to the same frame with
pandas, pyarrow and the csv module; a neutralised CSV defuses every spreadsheet formula in text cells and column
names, leaves numbers, booleans and dates alone, and gives the exact values back once the added quote is dropped."""

from __future__ import annotations

import csv
import io
import math

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.core.csvio import FORMULA_START, csv_bytes, csv_chunks, frame_to_csv_text, strip_neutralised

HOSTILE = ["\r", "\n", "\r\n", '"', ",", "=", "+", "-", "@", "\t", "'", " ", "\x00", "\u2028", "\ufeff", "é", "数"]
HOSTILE += ["🙂", "\uff1d", "\x85"]
PIECES = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=3), st.sampled_from(["1+1", "cmd|' /C calc'!A0", "-1.5"]))
TEXT = st.one_of(
    st.none(),
    st.just(""),
    st.sampled_from([" ", "  ", "\t", "NA", "null", "nan", "None", "#N/A", "-1.5", "=1+1", "\r=1+1"]),
    st.lists(PIECES, max_size=5).map("".join),
)
NUMBER = st.one_of(
    st.none(), st.floats(allow_nan=False, allow_infinity=False, width=64), st.sampled_from([-1.5, -0.0, -1e300, 1e-300])
)


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    rows = draw(st.integers(0, 8))
    name = st.lists(PIECES, min_size=1, max_size=4).map("".join).filter(bool)  # pandas calls "" 'Unnamed: 0'
    names = draw(st.lists(name, min_size=1, max_size=3, unique=True))
    number_name = draw(st.sampled_from(["-x", "=SUM(A1)", "n"]))
    names = [n for n in names if n != number_name]
    data: dict[str, list] = {name: draw(st.lists(TEXT, min_size=rows, max_size=rows)) for name in names}
    data[number_name] = draw(st.lists(NUMBER, min_size=rows, max_size=rows))
    frame = pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in data.items()})
    frame[number_name] = frame[number_name].astype("float64")
    return frame


def text_names(frame: pd.DataFrame) -> list[str]:
    return [name for name in frame.columns if frame[name].dtype == object]


def read_arrow(raw: bytes, frame: pd.DataFrame) -> pa.Table:
    """pyarrow keeps `""` (an empty string) apart from an empty field (a null); only an empty field is null
    (by default pyarrow also reads NA, null, NaN... as null)."""
    types = {name: pa.string() for name in text_names(frame)} | {
        name: pa.float64() for name in frame.columns if name not in text_names(frame)
    }
    return pa_csv.read_csv(
        io.BytesIO(raw),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False, null_values=[""]
        ),
    )


def same_numbers(got: list, expected: list) -> bool:
    def same(a, b) -> bool:  # type: ignore[no-untyped-def]
        missing_a = a is None or (isinstance(a, float) and math.isnan(a))
        missing_b = b is None or (isinstance(b, float) and math.isnan(b))
        return missing_a == missing_b and (missing_a or float(a) == float(b))

    return len(got) == len(expected) and all(same(a, b) for a, b in zip(got, expected, strict=True))


def none_if_missing(values: list) -> list:
    return [None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in values]


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(frames())
def test_raw_csv_reads_back_to_the_same_frame_with_pyarrow_pandas_and_the_csv_module(frame: pd.DataFrame) -> None:
    raw = csv_bytes(frame, neutralise=False)
    texts = text_names(frame)
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    assert b"".join(csv_chunks(arrow.to_batches(max_chunksize=3) or [arrow], neutralise=False)) == raw  # downloads

    table = read_arrow(raw, frame)
    assert table.column_names == list(frame.columns)
    for name in frame.columns:
        expected = none_if_missing(frame[name].tolist())
        if name in texts:
            assert table.column(name).to_pylist() == expected, name
        else:
            assert same_numbers(table.column(name).to_pylist(), expected), name

    # pandas reads both an empty string and a null as NaN; everything else comes back as written
    back = pd.read_csv(io.BytesIO(raw), dtype=dict.fromkeys(texts, object), keep_default_na=False, na_values=[""])
    assert list(back.columns) == list(frame.columns) and len(back) == len(frame)
    for name in frame.columns:
        expected = [None if v in (None, "") else v for v in none_if_missing(frame[name].tolist())]
        if name in texts:
            assert none_if_missing(back[name].tolist()) == expected, name
        else:
            assert same_numbers(back[name].tolist(), expected), name

    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
    assert rows[0] == list(frame.columns) and len(rows) == len(frame) + 1
    for i, name in enumerate(frame.columns):
        cells = [row[i] for row in rows[1:]]
        if name in texts:
            assert cells == ["" if v is None else v for v in none_if_missing(frame[name].tolist())], name
        else:
            assert same_numbers([float(c) if c else None for c in cells], frame[name].tolist()), name


@PROPERTY
@given(frames())
def test_neutralised_csv_defuses_text_and_gives_the_values_back_once_the_quote_is_dropped(frame: pd.DataFrame) -> None:
    texts = text_names(frame)
    people = csv_bytes(frame, neutralise=True)
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    assert b"".join(csv_chunks(arrow.to_batches(max_chunksize=3) or [arrow], neutralise=True)) == people
    table = read_arrow(people, frame) if not texts else None
    rows = list(csv.reader(io.StringIO(people.decode("utf-8"), newline="")))
    assert len(rows) == len(frame) + 1
    header = rows[0]
    assert not any(name.startswith(FORMULA_START) for name in header)
    assert [strip_neutralised(name) for name in header] == list(frame.columns)
    for i, name in enumerate(frame.columns):
        cells = [row[i] for row in rows[1:]]
        if name in texts:
            assert not any(cell.startswith(FORMULA_START) for cell in cells), name
            expected = ["" if v is None else v for v in none_if_missing(frame[name].tolist())]
            assert [strip_neutralised(cell) for cell in cells] == expected, name
        else:  # a negative number stays a number: no quote in front of data columns' values
            assert not any(cell.startswith("'") for cell in cells)
            assert same_numbers([float(c) if c else None for c in cells], frame[name].tolist()), name
    assert table is None or table.num_rows == len(frame)


def test_a_bare_carriage_return_is_quoted_and_sixty_rows_read_back_as_sixty() -> None:
    frame = pd.DataFrame({"note": ["\r=1+1", "a\rb", "c\r\nd", "e\nf"] * 15, "x": [-1.5, 2.0, None, 3.25] * 15})
    raw = csv_bytes(frame, neutralise=False)
    assert raw.startswith(b'note,x\n"\r=1+1",-1.5\n"a\rb",2.0\n"c\r\nd",\n"e\nf",3.25\n')
    back = pd.read_csv(io.BytesIO(raw))
    assert len(back) == 60
    pd.testing.assert_frame_equal(back, frame)


def test_people_csv_follows_owasp_for_text_and_leaves_numbers_booleans_and_dates_alone() -> None:
    frame = pd.DataFrame(
        {
            '=HYPERLINK("x")': ["=1+1", "+1", "-1.5", "@SUM(A1)", "\tx", "\rx", "'quoted", "plain", None, ""],
            "amount": [-1.5, -2.0, 3.0, None, -0.5, 1.0, 2.0, 3.0, 4.0, 5.0],
            "count": pd.array([-1, 2, None, 4, 5, 6, 7, 8, 9, 10], dtype="Int64"),
            "flag": pd.array([True, False, None] + [True] * 7, dtype="boolean"),
            "when": pd.to_datetime(["2024-01-01 10:00"] * 10),
        }
    )
    text = b"".join(csv_chunks(pa.Table.from_pandas(frame, preserve_index=False), neutralise=True)).decode()
    assert text.splitlines()[0] == '"\'=HYPERLINK(""x"")",amount,count,flag,when'
    rows = list(csv.reader(io.StringIO(text, newline="")))[1:]
    assert [row[0] for row in rows] == [
        "'=1+1", "'+1", "'-1.5", "'@SUM(A1)", "'\tx", "'\rx", "''quoted", "plain", "", ""
    ]  # fmt: skip
    assert '"\'=1+1",-1.5,-1,True,2024-01-01 10:00:00\n' in text
    assert ",,5,True," not in text and '"",5.0,10,True,2024-01-01 10:00:00\n' in text
    assert [row[1] for row in rows][:2] == ["-1.5", "-2.0"] and [row[2] for row in rows][:3] == ["-1", "2", ""]


def test_one_column_of_nulls_is_not_a_blank_line_and_odd_columns_are_text() -> None:
    assert frame_to_csv_text(pd.DataFrame({"a": [None, 1.0]})) == 'a\n""\n1.0\n'
    assert frame_to_csv_text(pd.DataFrame({"a": [None, "x"]})) == 'a\n""\nx\n'
    assert frame_to_csv_text(pd.DataFrame({"a": []})) == "a\n"
    mixed = pd.DataFrame({"list": [[1, 2], None], "raw": [b"=x", None], "cat": pd.Categorical(["-a", "b"])})
    assert frame_to_csv_text(mixed, neutralise=True) == 'list,raw,cat\n"[1, 2]",b\'=x\',"\'-a"\n,,b\n'


@pytest.mark.parametrize("neutralise", [False, True])
def test_arrow_batches_keep_one_rule_for_the_whole_file(neutralise: bool) -> None:
    table = pa.table({"t": ["-1", None, "=2", "x"], "n": [-1, None, -2, 3]})
    chunks = list(csv_chunks(table.to_batches(max_chunksize=2), neutralise=neutralise))
    assert len(chunks) == 2
    prefix = "'" if neutralise else ""
    quote = '"' if neutralise else ""
    assert b"".join(chunks).decode() == f"t,n\n{quote}{prefix}-1{quote},-1\n,\n{quote}{prefix}=2{quote},-2\nx,3\n"
