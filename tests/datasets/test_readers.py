"""apps.datasets.readers: formats, detection, limits, sampling and every error a person can fix."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from apps.datasets.readers import (
    ReadError,
    ReadLimits,
    Sampling,
    detect_format,
    read,
    read_with_info,
    sniff_delimiter,
    stratified_allocation,
)
from tests.core.bombs import MB, lie_about_size, many_entries, peak_allocated, swap_member


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


# --------------------------------------------------------------------------------------------------- CSV
def test_csv_semicolon_is_sniffed_and_quoted_delimiters_kept(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", 'id;name;amount\n1;"a;b";1.5\n2;c;2\n3;d;x\n')
    info = read_with_info(path)
    assert info.delimiter == ";" and info.header is True and info.encoding == "utf-8"
    df = info.frame
    assert list(df.columns) == ["id", "name", "amount"]
    assert df["name"].tolist() == ["a;b", "c", "d"]
    assert df["id"].tolist() == [1, 2, 3]
    assert df["amount"].tolist() == ["1.5", "2", "x"]  # mixed numbers and text stay text, no crash


@pytest.mark.parametrize(("sep", "expected"), [(",", ","), (";", ";"), ("\t", "\t"), ("|", "|")])
def test_sniff_delimiter(sep: str, expected: str) -> None:
    sample = "\n".join(sep.join(["a", "b", "c"]) for _ in range(5))
    assert sniff_delimiter(sample) == expected


def test_explicit_delimiter_overrides_sniffing(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "a|b;c\n1|2;3\n")
    assert list(read(path, delimiter=";").columns) == ["a|b", "c"]
    assert list(read(path, delimiter="|").columns) == ["a", "b;c"]


def test_tsv_by_extension(tmp_path: Path) -> None:
    df = read(write(tmp_path, "a.tsv", "x\ty\n1\t2\n"))
    assert df.to_dict("list") == {"x": [1], "y": [2]}


def test_missing_header_detected_and_overridable(tmp_path: Path) -> None:
    path = write(tmp_path, "n.csv", "1,2.5\n3,4.5\n5,6.5\n")
    info = read_with_info(path)
    assert info.header is False
    assert list(info.frame.columns) == ["column_1", "column_2"] and len(info.frame) == 3
    forced = read(path, header=True)
    assert list(forced.columns) == ["1", "2.5"] and len(forced) == 2


def test_blank_header_names_become_column_n(tmp_path: Path) -> None:
    df = read(write(tmp_path, "b.csv", "a,,c, \n1,2,3,4\n"))
    assert list(df.columns) == ["a", "column_2", "c", "column_4"]


def test_empty_values_are_missing(tmp_path: Path) -> None:
    df = read(write(tmp_path, "m.csv", "a,b\n1,\n,x\n"))
    assert df["a"].isna().tolist() == [False, True]
    assert df["b"].isna().tolist() == [True, False]


@pytest.mark.parametrize("content", [b"", b"   \n\n", b"\xef\xbb\xbf"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(ReadError, match="empty") as err:
        read(write(tmp_path, "e.csv", content))
    assert err.value.field == "file"


def test_wrong_encoding_names_offset_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", "a,b\n1,ok\n2,caf\xe9\n".encode("latin-1"))
    with pytest.raises(ReadError) as err:
        read(path)
    assert err.value.field == "encoding"
    assert err.value.details == {"offset": 14, "line": 3}
    assert "0xe9 at offset 14 (line 3)" in err.value.message


def test_declared_encoding_is_used_after_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", "a,b\n2,caf\xe9\n".encode("latin-1"))
    info = read_with_info(path, encoding="latin-1")
    assert info.encoding == "iso8859-1"
    assert info.frame["b"].tolist() == ["café"]


def test_declared_encoding_that_also_fails_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", b"a\n\xff\xfe\x00x\n")
    with pytest.raises(ReadError, match="not valid UTF-8 or ascii") as err:
        read(path, encoding="ascii")
    assert err.value.field == "encoding"


def test_utf8_bom_is_stripped(tmp_path: Path) -> None:
    info = read_with_info(write(tmp_path, "bom.csv", "\ufeffname,v\nx,1\n".encode()))
    assert info.encoding == "utf-8-sig" and list(info.frame.columns) == ["name", "v"]


def test_utf16_with_bom(tmp_path: Path) -> None:
    info = read_with_info(write(tmp_path, "u16.csv", "a,b\n1,é\n".encode("utf-16")))
    assert info.encoding == "utf-16"
    assert info.frame.to_dict("list") == {"a": [1], "b": ["é"]}


def test_ragged_rows_name_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", "a,b,c\n1,2,3\n4,5,6\n7,8\n9,10,11\n")
    with pytest.raises(ReadError) as err:
        read(path)
    assert err.value.details == {"line": 4, "expected": 3, "found": 2}
    assert "Line 4 has 2 fields; expected 3" in err.value.message


def test_ragged_row_after_quoted_newline_counts_physical_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", 'a,b\n"multi\nline",2\n1,2,3\n')
    with pytest.raises(ReadError) as err:
        read(path)
    assert err.value.details["line"] == 4


def test_duplicate_column_names_are_named(tmp_path: Path) -> None:
    with pytest.raises(ReadError) as err:
        read(write(tmp_path, "d.csv", "a,b,a,c,b\n1,2,3,4,5\n"))
    assert err.value.field == "header"
    assert err.value.details["columns"] == ["a", "b"]
    assert "'a', 'b'" in err.value.message


# --------------------------------------------------------------------------------------------------- limits
def test_oversize_file(tmp_path: Path) -> None:
    path = write(tmp_path, "big.csv", "a\n" + "1\n" * 600)
    with pytest.raises(ReadError, match=r"The file is 1\.2 KB; the limit is 1\.0 KB") as err:
        read(path, limits=ReadLimits(max_bytes=1024))
    assert err.value.details["size"] == 1202


def test_too_many_rows_and_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "rows.csv", "a,b,c\n" + "1,2,3\n" * 50)
    with pytest.raises(ReadError, match="more than 10 rows"):
        read(path, limits=ReadLimits(max_rows=10))
    with pytest.raises(ReadError, match="3 columns; the limit is 2"):
        read(path, limits=ReadLimits(max_columns=2))


# --------------------------------------------------------------------------------------------------- JSON
def test_json_records_and_columns(tmp_path: Path) -> None:
    records = read(write(tmp_path, "r.json", json.dumps([{"a": 1, "b": "x"}, {"a": 2, "c": True}])))
    assert list(records.columns) == ["a", "b", "c"] and records["a"].tolist() == [1, 2]
    columns = read(write(tmp_path, "c.json", json.dumps({"a": [1, 2], "b": ["x", None]})))
    assert columns.to_dict("list")["a"] == [1, 2] and columns["b"].isna().tolist() == [False, True]


def test_json_nested_values_become_json_text(tmp_path: Path) -> None:
    df = read(write(tmp_path, "n.json", json.dumps([{"a": {"x": 1}}, {"a": [1, 2]}, {"a": "s"}])))
    assert df["a"].tolist() == ['{"x": 1}', "[1, 2]", "s"]


def test_malformed_json_names_position(tmp_path: Path) -> None:
    with pytest.raises(ReadError) as err:
        read(write(tmp_path, "bad.json", '[{"a": 1},\n {"a": 2]'))
    assert err.value.details == {"line": 2, "column": 9, "position": 19}
    assert "line 2, column 9" in err.value.message


def test_json_errors_for_shapes(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match="no columns"):
        read(write(tmp_path, "e.json", "[{}, {}]"))
    with pytest.raises(ReadError, match="different lengths"):
        read(write(tmp_path, "l.json", '{"a": [1, 2], "b": [1]}'))
    with pytest.raises(ReadError, match="Item 2 is not an object"):
        read(write(tmp_path, "s.json", '[{"a": 1}, 5]'))


def test_json_lines_with_mixed_types(tmp_path: Path) -> None:
    df = read(write(tmp_path, "m.jsonl", '{"a": 1}\n\n{"a": "x"}\n{"a": 2.5, "b": true}\n'))
    assert df["a"].tolist() == [1, "x", 2.5]
    assert df["b"].isna().tolist() == [True, True, False]


def test_json_lines_fast_path_and_malformed_line(tmp_path: Path) -> None:
    good = read(write(tmp_path, "g.jsonl", '{"a": 1, "b": "x"}\n{"a": 2, "b": "y"}\n'))
    assert good.to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}
    with pytest.raises(ReadError, match="Malformed JSON on line 3") as err:
        read(write(tmp_path, "b.jsonl", '{"a": 1}\n{"a": 2}\n{"a": 3\n'))
    assert err.value.details["line"] == 3


def test_json_that_is_really_json_lines(tmp_path: Path) -> None:
    info = read_with_info(write(tmp_path, "x.json", '{"a": 1}\n{"a": 2}\n'))
    assert info.format == "jsonl" and info.frame["a"].tolist() == [1, 2]


# --------------------------------------------------------------------------------------------------- Parquet
def test_parquet_round_trip_and_not_parquet(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    pd.DataFrame({"a": [1, 2], "b": ["x", "y"], "d": pd.to_datetime(["2020-01-01", "2021-01-01"])}).to_parquet(path)
    df = read(path)
    assert df["a"].tolist() == [1, 2] and df["b"].tolist() == ["x", "y"]
    assert str(df["d"].dtype).startswith("datetime64")
    with pytest.raises(ReadError, match="not a valid Parquet"):
        read(write(tmp_path, "fake.parquet", "a,b\n1,2\n"))


def test_format_from_magic_bytes(tmp_path: Path) -> None:
    path = tmp_path / "upload.bin"
    pd.DataFrame({"a": [1]}).to_parquet(path)
    assert detect_format(str(path)) == "parquet"
    assert detect_format(str(write(tmp_path, "x", "a,b\n1,2\n"))) == "csv"
    assert detect_format(str(write(tmp_path, "y", "[1]"))) == "json"
    assert detect_format(str(write(tmp_path, "z", "a,b\n")), "data.xlsx") == "xlsx"


# --------------------------------------------------------------------------------------------------- Excel
def make_xlsx(path: Path, rows: list[list[object]], sheets: tuple[str, ...] = ("Data",)) -> Path:
    wb = openpyxl.Workbook()
    wb.active.title = sheets[0]
    for row in rows:
        wb.active.append(row)
    for name in sheets[1:]:
        wb.create_sheet(name).append(["other"])
    wb.save(path)
    return path


def test_xlsx_reads_with_header_and_sheet(tmp_path: Path) -> None:
    path = make_xlsx(
        tmp_path / "w.xlsx",
        [["name", "n", None], ["a", 1, None], [None, None], ["b", 2.5, None]],
        sheets=("Data", "Second"),
    )
    info = read_with_info(path)
    assert info.header is True and info.sheet == "Data"
    assert info.frame.to_dict("list") == {"name": ["a", "b"], "n": [1.0, 2.5]}
    assert read(path, sheet="Second").columns.tolist() == ["other"]
    assert read(path, sheet=1).columns.tolist() == ["other"]
    with pytest.raises(ReadError, match="No sheet 'Nope'") as err:
        read(path, sheet="Nope")
    assert err.value.field == "sheet"


def test_not_an_xlsx(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match="not a zip archive"):
        read(write(tmp_path, "t.xlsx", "a,b\n1,2\n"))
    other_zip = tmp_path / "z.xlsx"
    with zipfile.ZipFile(other_zip, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(ReadError, match=r"no xl/workbook\.xml"):
        read(other_zip)


def make_bomb(path: Path, sheet_bytes: int) -> Path:
    """A zip shaped like an xlsx whose sheet XML is huge and compresses to almost nothing."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        with zf.open("xl/worksheets/sheet1.xml", "w") as member:
            member.write(b"<worksheet><sheetData>")
            chunk = b"<row><c><v>0</v></c></row>" * 40_000
            for _ in range(sheet_bytes // len(chunk)):
                member.write(chunk)
            member.write(b"</sheetData></worksheet>")
    return path


def test_xlsx_decompression_bomb_refused_by_ratio(tmp_path: Path) -> None:
    bomb = make_bomb(tmp_path / "bomb.xlsx", 40 * 1024 * 1024)
    assert bomb.stat().st_size < 1024 * 1024
    with pytest.raises(ReadError, match="decompression bomb") as err:
        read(bomb)
    assert err.value.details["member"] == "xl/worksheets/sheet1.xml"
    assert err.value.details["ratio"] > 200


def test_xlsx_total_uncompressed_cap(tmp_path: Path) -> None:
    bomb = make_bomb(tmp_path / "big.xlsx", 8 * 1024 * 1024)
    limits = ReadLimits(xlsx_max_uncompressed_bytes=4 * 1024 * 1024, xlsx_max_ratio=1e9)
    with pytest.raises(ReadError, match=r"expands to 7\.9 MB; the limit is 4\.0 MB"):
        read(bomb, limits=limits)


def test_xlsx_with_too_many_entries(tmp_path: Path) -> None:
    path = write(tmp_path, "many.xlsx", many_entries(20_000))
    with pytest.raises(ReadError, match=r"20,000 entries; the limit is 10,000") as err:
        read(path)
    assert err.value.details["code"] == "too_many_entries"


def test_xlsx_sheet_whose_declared_size_lies_is_not_read_past_it(tmp_path: Path) -> None:
    """The sheet's directory entry says 2,000 bytes; its stream inflates to ~12 MB. The static checks pass, and the
    guarded reads that openpyxl makes stop at the declared size and refuse the member."""
    book = make_xlsx(tmp_path / "book.xlsx", [["n"], [1]]).read_bytes()
    rows = b"".join(b'<row r="%d"><c r="A%d"><v>0</v></c></row>' % (i, i) for i in range(1, 300_000))
    sheet = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>' + rows
    big = swap_member(book, "xl/worksheets/sheet1.xml", sheet + b"</sheetData></worksheet>", zipfile.ZIP_DEFLATED)
    lying = write(tmp_path, "lying.xlsx", lie_about_size(big, "xl/worksheets/sheet1.xml", 2000))
    with peak_allocated() as peak, pytest.raises(ReadError, match=r"'xl/worksheets/sheet1\.xml' is damaged") as err:
        read(lying)
    assert err.value.details["code"] == "damaged" and err.value.details["member"] == "xl/worksheets/sheet1.xml"
    assert peak() < 8 * MB


# --------------------------------------------------------------------------------------------------- sampling
@pytest.fixture
def frame_csv(tmp_path: Path) -> Path:
    rows = ["id,label"] + [f"{i},{'a' if i < 90 else ('b' if i < 99 else 'c')}" for i in range(100)]
    return write(tmp_path, "s.csv", "\n".join(rows) + "\n")


def test_sampling_first_and_random(frame_csv: Path) -> None:
    first = read(frame_csv, sampling=Sampling("first", 5))
    assert first["id"].tolist() == [0, 1, 2, 3, 4]
    one = read(frame_csv, sampling=Sampling("random", 10, seed=7))["id"].tolist()
    two = read(frame_csv, sampling=Sampling("random", 10, seed=7))["id"].tolist()
    other = read(frame_csv, sampling=Sampling("random", 10, seed=8))["id"].tolist()
    assert one == two and one == sorted(one) and len(set(one)) == 10 and one != other


def test_sampling_stratified_keeps_every_class(frame_csv: Path) -> None:
    info = read_with_info(frame_csv, sampling=Sampling("stratified", 10, seed=1, column="label"))
    counts = info.frame["label"].value_counts().to_dict()
    assert counts == {"a": 8, "b": 1, "c": 1}
    assert info.sampling["rows_before"] == 100 and info.sampling["rows_after"] == 10
    with pytest.raises(ReadError) as err:
        read(frame_csv, sampling=Sampling("stratified", 10, column="nope"))
    assert err.value.field == "sample_column"


def test_stratified_allocation_is_proportional() -> None:
    assert stratified_allocation(np.array([600, 300, 100]), 100).tolist() == [60, 30, 10]
    assert stratified_allocation(np.array([990, 9, 1]), 10).tolist() == [8, 1, 1]
    assert stratified_allocation(np.array([5, 3, 2]), 2).tolist() == [1, 1, 0]  # fewer rows than classes
    assert stratified_allocation(np.array([5, 3]), 20).tolist() == [5, 3]
    alloc = stratified_allocation(np.array([7, 1, 1, 1, 50]), 13)
    assert alloc.sum() == 13 and (alloc >= 1).all()


def test_a_parquet_file_that_expands_past_the_decoded_cap_is_refused_before_expanding(tmp_path: Path) -> None:
    """A dictionary page holds a long value once; 200,000 rows pointing at it are ~200 MB of text from a file of a
    few kilobytes. Refused by name, before the values are expanded; the same file under a larger cap reads."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = 200_000
    value = "x" * 1_000
    table = pa.table({"id": pa.array(range(n)), "note": pa.array([value] * n)})
    path = tmp_path / "bomb.parquet"
    pq.write_table(table, path, use_dictionary=True, compression="zstd")
    assert path.stat().st_size < 2_000_000
    with pytest.raises(ReadError, match=r"expands to more than 0\.1 GiB"):
        read(str(path), limits=ReadLimits(max_decoded_bytes=100 * 1024**2))
    frame = read(str(path), limits=ReadLimits(max_decoded_bytes=1024**3))
    assert len(frame) == n and frame["note"].iloc[-1] == value and str(frame["note"].dtype) != "category"


def test_parquet_text_columns_keep_their_values_and_types(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    df = pd.DataFrame({"a": ["x", None, "y"], "a2": [b"1", b"2", None], "n": [1.5, 2.0, None]})
    df.to_parquet(path)
    got = read(str(path))
    assert got["a"].tolist()[0] == "x" and pd.isna(got["a"].tolist()[1]) and got["a2"].tolist()[:2] == [b"1", b"2"]
    empty = tmp_path / "empty.parquet"
    df.iloc[:0].to_parquet(empty)
    assert list(read(str(empty)).columns) == ["a", "a2", "n"]
