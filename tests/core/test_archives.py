"""The archive guard (apps/core/archives.py) on hostile zips built here: checks before parsing, limits while reading,
and a bounded cost in memory for each refusal."""

from __future__ import annotations

import gzip
import io
import stat
import zipfile

import pytest

from apps.core.archives import ArchiveError, ArchiveLimits, check_zip, is_zip, open_zip, safe_members
from tests.core.bombs import MB, lie_about_size, many_entries, peak_allocated, set_flag, zeros_bomb, zip_of

LIMITS = ArchiveLimits(
    max_entries=1000, max_total_bytes=64 * MB, max_member_bytes=32 * MB, max_ratio=100, ratio_floor_bytes=MB
)


def refused(data: bytes, limits: ArchiveLimits = LIMITS, *, read: bool = False) -> ArchiveError:
    with pytest.raises(ArchiveError) as err, open_zip(io.BytesIO(data), limits) as zf:
        if read:
            for info in safe_members(zf):
                zf.read(info)
    return err.value


def test_a_valid_archive_opens_and_reads_and_a_file_object_keeps_its_position() -> None:
    data = zip_of({"a/one.txt": b"one", "a/": b"", "two.bin": bytes(range(256)) * 100})
    source = io.BytesIO(data)
    source.seek(5)
    with open_zip(source, LIMITS) as zf:
        assert [i.filename for i in safe_members(zf)] == ["a/one.txt", "two.bin"]
        assert zf.read("a/one.txt") == b"one"
        with zf.open("two.bin") as member:
            assert member.read(10) == bytes(range(10))
            assert len(member.read()) == 25_590
    assert source.tell() == 5
    assert is_zip(io.BytesIO(data)) and not is_zip(io.BytesIO(b"a,b\n1,2\n"))


@pytest.mark.parametrize("declare", [None, 1])
def test_100000_entries_are_refused_before_zipfile_builds_them(declare: int | None) -> None:
    data = many_entries(100_000, declare=declare)  # the end record may also lie about the count
    with peak_allocated() as peak:
        err = refused(data, ArchiveLimits(max_entries=10_000))
    assert err.code == "too_many_entries"
    assert "entries; the limit is 10,000 (ARCHIVE_MAX_ENTRIES)" in err.message
    assert peak() < 4 * MB  # zipfile would hold 100,000 ZipInfo objects (tens of MB)


def test_total_declared_size_is_capped() -> None:
    data = zip_of({f"part{i}.bin": bytes(range(256)) * (4096 * 3) for i in range(3)}, zipfile.ZIP_STORED)
    err = refused(data, LIMITS.but(max_total_bytes=8 * MB))
    assert err.code == "too_large" and "it expands to 9.0 MB; the limit is 8.0 MB" in err.message.replace("MiB", "MB")


def test_one_member_is_capped() -> None:
    data = zip_of({"big.bin": bytes(range(256)) * 4096 * 5}, zipfile.ZIP_STORED)
    err = refused(data, LIMITS.but(max_member_bytes=4 * MB))
    assert (err.code, err.member) == ("member_too_large", "big.bin")


def test_a_high_ratio_member_is_a_bomb() -> None:
    data = zeros_bomb("zeros.bin", 16 * MB)
    assert len(data) < 64 * 1024
    with peak_allocated() as peak:
        err = refused(data)
    assert (err.code, err.member) == ("ratio", "zeros.bin")
    assert "It looks like a decompression bomb" in err.message and err.details["ratio"] > 100
    assert peak() < MB


@pytest.mark.parametrize(
    "name, problem",
    [
        ("../etc/passwd", "a '..' part"),
        ("a/../../b", "a '..' part"),
        ("/etc/passwd", "an absolute path"),
        ("C:\\Windows\\x", "an absolute path"),
        ("..\\x", "a '..' part"),
    ],
)
def test_unsafe_names(name: str, problem: str) -> None:
    err = refused(zip_of({"ok.txt": b"x", name: b"y"}))
    assert (err.code, err.member) == ("unsafe_name", name) and problem in err.message


def test_duplicates_links_and_encryption() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf, pytest.warns(UserWarning):
        zf.writestr("same.txt", "a")
        zf.writestr("same.txt", "b")
    assert refused(buffer.getvalue()).code == "duplicate_name"
    link = zipfile.ZipInfo("link")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(link, "/etc/passwd")
    assert refused(buffer.getvalue()).code == "link"
    assert refused(set_flag(zip_of({"locked.txt": b"secret"}), "locked.txt", 0x1)).code == "encrypted"


def test_nested_archives_by_name_and_by_content() -> None:
    assert refused(zip_of({"inner.zip": zip_of({"a": b"a"})})).code == "nested_archive"
    disguised = zip_of({"data.bin": gzip.compress(b"hello" * 100)})
    err = refused(disguised, read=True)  # the name says nothing; the leading bytes do
    assert (err.code, err.member) == ("nested_archive", "data.bin") and "(gzip)" in err.message
    with open_zip(io.BytesIO(disguised), LIMITS.but(allow_nested=True)) as zf:
        assert gzip.decompress(zf.read("data.bin")) == b"hello" * 100


def test_a_member_whose_declared_size_lies_is_not_read_past_it() -> None:
    """The central directory says 1,000 bytes; the stream inflates to 64 MB. Nothing past the declared size is handed
    out, and the mismatch is refused."""
    data = lie_about_size(zeros_bomb("x.bin", 64 * MB), "x.bin", 1000)
    assert check_zip(io.BytesIO(data), LIMITS)[0].file_size == 1000  # the declared sizes pass the static checks
    with peak_allocated() as peak:
        with open_zip(io.BytesIO(data), LIMITS) as zf, zf.open("x.bin") as member:
            with pytest.raises(ArchiveError) as err:
                while member.read(4096):
                    pass
    assert (err.value.code, err.value.member) == ("damaged", "x.bin")
    assert peak() < 2 * MB


def test_a_member_shorter_than_declared_is_refused() -> None:
    data = lie_about_size(zip_of({"short.txt": b"0123456789"}, zipfile.ZIP_STORED), "short.txt", 500)
    err = refused(data, read=True)
    assert err.code in ("size_mismatch", "damaged") and err.member == "short.txt"


def test_reads_are_counted_across_members() -> None:
    """Reading one member over and over (as a crafted skops schema may ask) stops at the archive's budget."""
    data = zip_of({"a.bin": bytes(range(256)) * 4096}, zipfile.ZIP_STORED)  # 1 MiB
    with open_zip(io.BytesIO(data), LIMITS.but(max_total_bytes=3 * MB)) as zf:
        for _ in range(3):
            zf.read("a.bin")
        with pytest.raises(ArchiveError) as err:
            zf.read("a.bin")
    assert err.value.code == "too_large" and "reading it hands out more than 3.0 MB" in err.value.message


def test_not_a_zip_and_a_missing_member() -> None:
    assert refused(b"just text, not an archive").code == "not_a_zip"
    with open_zip(io.BytesIO(zip_of({"a": b"a"})), LIMITS) as zf, pytest.raises(ArchiveError) as err:
        zf.read("b")
    assert err.value.code == "missing_member"
