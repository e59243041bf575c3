"""FileReader on its own (pure: local files, no warehouse): line numbers, block growth, faults."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestion.readers import FileReader, FileReadError, FileRef, mend_utf8
from ingestion.schema import FilesOrigin


def _read(path: Path, data: bytes, **options) -> tuple[list[dict], FileReader]:
    path.write_bytes(data)
    reader = FileReader(
        FileRef(str(path), path.stat().st_size, "t"), FilesOrigin(path=str(path), **options)
    )
    rows = [row for batch in reader for row in batch.to_pylist()]
    return rows, reader


def test_lines_count_skipped_lines_and_the_header(tmp_path: Path) -> None:
    data = b"exported by x\n\na,b\n1,x\n3\n9,z\n"
    rows, reader = _read(tmp_path / "f.csv", data, csv={"skip_rows": 2})
    assert rows == [{"a": "1", "b": "x"}, {"a": "9", "b": "z"}]
    assert [(f.line, f.reason, f.raw) for f in reader.faults] == [
        (5, "expected 2 fields, found 1", "3")
    ]
    assert [reader.line_of(i) for i in range(2)] == [4, 6]


def test_quoted_line_breaks_load_when_allowed(tmp_path: Path) -> None:
    data = b'a,b\n1,"two\nlines"\n2,y\n'
    rows, reader = _read(tmp_path / "f.csv", data, csv={"newlines_in_values": True})
    assert rows == [{"a": "1", "b": "two\nlines"}, {"a": "2", "b": "y"}] and reader.faults == []
    rows, reader = _read(tmp_path / "g.csv", data)
    assert rows == [{"a": "2", "b": "y"}]
    assert [(f.line, f.raw) for f in reader.faults] == [(2, "1,two"), (3, "lines")]
    assert reader.line_of(0) == 4


def test_a_row_larger_than_the_block_restarts_without_duplicates(tmp_path: Path) -> None:
    small = b"".join(b"%d,row\n" % i for i in range(20_000))  # several 64 KiB blocks first
    data = b"a,b\n" + small + b"bad\n" + b"20000," + b"x" * 300_000 + b"\n20001,end\n"
    rows, reader = _read(tmp_path / "f.csv", data, block_size=65_536)
    assert [int(r["a"]) for r in rows] == list(range(20_002))
    assert len(rows[20_000]["b"]) == 300_000
    assert [(f.line, f.raw) for f in reader.faults] == [(20_002, "bad")]
    assert reader.line_of(20_001) == 20_004


def test_a_file_not_in_its_format_is_a_read_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(FileReadError, match=r"f\.parquet: cannot be read as parquet"):
        _read(tmp_path / "f.parquet", b"a,b\n1,2\n")


def test_a_row_with_wrong_fields_and_bad_utf8_is_rejected_alone(tmp_path: Path) -> None:
    data = b'a,b\n1,x\n2,"two\nlines"\n3,\xff\xfe,extra\n4,\xffz\n5,w\n'
    rows, reader = _read(tmp_path / "f.csv", data, csv={"newlines_in_values": True})
    assert rows == [{"a": "1", "b": "x"}, {"a": "2", "b": "two\nlines"}, {"a": "5", "b": "w"}]
    assert [(f.line, f.reason, f.raw) for f in reader.faults] == [
        (4, "not valid UTF-8, and expected 2 fields, found 3", "3,\\xff\\xfe,extra"),
        (5, "column 'b': not valid UTF-8", "4,\\xffz"),
    ]
    assert [reader.line_of(i) for i in range(3)] == [2, 3, 6]


def test_a_streamed_file_is_read_again_mended_without_duplicates(tmp_path: Path) -> None:
    good = b"".join(b"%d,row\n" % i for i in range(20_000))  # several 64 KiB blocks
    data = b"a,b\n" + good + b"20000,\xe9,extra\n" + b"20001,end\n"
    rows, reader = _read(tmp_path / "f.csv", data, block_size=65_536)
    assert [int(r["a"]) for r in rows] == [*range(20_000), 20_001]
    assert [(f.line, f.reason) for f in reader.faults] == [
        (20_002, "not valid UTF-8, and expected 2 fields, found 3")
    ]
    assert reader.line_of(20_000) == 20_003


def test_mending_keeps_every_record_in_its_place() -> None:
    data = b'a,b\n1,"x\n\xff"\n2,\xfe\n'
    mended, originals = mend_utf8(data, '"')
    assert mended.count(b"\n") == data.count(b"\n")
    assert mended.decode("utf-8") == 'a,b\n1,"x\n\ufffd"\n2,\ufffd\n'
    assert originals == {2: '1,"x\n\\xff"', 3: "2,\\xfe"}
