"""Issue 13 (items 1, 2, 4) against the local ClickHouse endpoint, with fixture sources of its own.

One bad row never blocks the good ones: each fault class rejects exactly its rows (file, line,
reason, raw text) and loads the rest (loaded + rejected = rows in the file); the YAML limit fails
the run; a file that cannot be read fails alone; a late, corrected file becomes the newest
version; a run that completes an interrupted load reports the rows it committed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ingestion_helpers import write_yaml

from ingestion.generator import RejectedRowsLimitError
from ingestion.pipeline import (
    RUN_KWARGS,
    FilesFailedError,
    build_source,
    make_pipeline,
    run_source,
)
from ingestion.schema import load_schemas

pytestmark = pytest.mark.integration

READINGS = """\
name: readings
files:
  path: {source}/readings/*.{ext}
{files_extra}columns:
  - name: id
    type: int64
  - name: at
    type: timestamp
  - name: note
    type: string
primary_key: [id]
{extra}"""


@pytest.fixture
def ch(warehouse):
    from core.clickhouse import clickhouse_client

    client = clickhouse_client()
    yield client
    client.close()


def _schemas(
    tmp_path: Path, source: str, ext: str = "csv", extra: str = "", files_extra=""
) -> Path:
    root = tmp_path / "schemas"
    text = READINGS.format(source=source, ext=ext, extra=extra, files_extra=files_extra)
    write_yaml(root, source, "readings", text)
    return root


def _land(tmp_path: Path, source: str, name: str, data: bytes) -> Path:
    path = tmp_path / "landing" / source / "readings" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _run(source: str, schemas: Path, tmp_path: Path, pipeline=None, landing=None):
    pipeline = pipeline or make_pipeline(source, pipelines_dir=tmp_path / "dlt")
    landing = landing or tmp_path / "landing"
    return run_source(source, schemas=load_schemas(schemas), landing_dir=landing, pipeline=pipeline)


def _loaded_ids(ch, source: str) -> list[int]:
    rows = ch.query(f"SELECT id FROM raw.`{source}___readings` FINAL ORDER BY id").result_rows
    return [r[0] for r in rows]


def _rejected(ch, source: str) -> list[tuple]:
    return ch.query(
        f"SELECT file, row_number, reason, raw_row FROM raw.`{source}____rejected_rows` "
        "ORDER BY row_number"
    ).result_rows


GOOD = b"1,2020-01-01T10:00:00,a\n2,2020-01-01T11:00:00,b\n"
T3, T4 = b"3,2020-01-01T12:00:00,", b"4,2020-01-01T13:00:00,d\n"
FAULTS = {
    # class: (file body after the header and two good rows, [(line, reason part, raw part)])
    "wrong_type": (b"x,2020-01-01T12:00:00,c\n" + T4, [(4, "int64", "x")]),
    "too_few_fields": (T4 + b"5,2020-01-01T14:00:00", [(5, "found 2", "5,")]),
    "too_many_fields": (T3 + b"c,extra\n" + T4, [(4, "found 4", "extra")]),
    "bad_encoding": (T3 + b"caf\xe9\n" + T4, [(4, "not valid UTF-8", "caf\\xe9")]),
    "bad_encoding_and_too_many_fields": (
        T3 + b"caf\xe9,extra\n" + T4,
        [(4, "not valid UTF-8, and expected 3 fields, found 4", "caf\\xe9,extra")],
    ),
    "broken_quoting": (
        T3 + b'"open\n' + T4,
        [(4, "unclosed quote", "open"), (5, "inside the unclosed quote of line 4", "4,2020")],
    ),
    "not_a_timestamp": (b"3,yesterday,c\n" + T4, [(4, "timestamp", "yesterday")]),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_row_fault_rejects_only_its_rows(ch, tmp_path: Path, fault: str) -> None:
    source = f"fault_{fault}"
    body, expected = FAULTS[fault]
    data = b"id,at,note\n" + GOOD + body
    path = _land(tmp_path, source, "2020-01-01.csv", data)
    result = _run(source, _schemas(tmp_path, source), tmp_path)
    lines_in_file = data.rstrip(b"\n").count(b"\n")  # data lines (the header is line 1)
    loaded = _loaded_ids(ch, source)
    rejected = _rejected(ch, source)
    assert len(loaded) + len(rejected) == lines_in_file
    assert result.row_counts == {"readings": len(loaded)}
    assert result.rejected == {"readings": len(expected)}
    assert [(r[0], r[1]) for r in rejected] == [(str(path), line) for line, _, _ in expected]
    for (_, _, reason, raw), (_, why, text) in zip(rejected, expected, strict=True):
        assert why in reason and text in raw
    assert {1, 2} <= set(loaded)


def test_mixed_timestamp_offsets_load_as_exact_instants(ch, tmp_path: Path) -> None:
    """Decision: an offset is an exact instant (converted to UTC); a naive value is in the
    declared zone; one column may mix both. Nothing is rejected, nothing shifted silently."""
    source = "fault_mixed_offsets"
    data = b"id,at,note\n1,2020-01-01T10:00:00,naive\n2,2020-01-01T10:00:00+02:00,cest\n"
    _land(tmp_path, source, "2020-01-01.csv", data)
    result = _run(source, _schemas(tmp_path, source), tmp_path)
    assert result.row_counts == {"readings": 2} and result.rejected == {"readings": 0}
    rows = ch.query(
        f"SELECT id, toString(at) FROM raw.`{source}___readings` FINAL ORDER BY id"
    ).result_rows
    assert rows == [(1, "2020-01-01 10:00:00.000000"), (2, "2020-01-01 08:00:00.000000")]


def test_a_large_field_grows_the_block_and_an_over_long_one_rejects_its_row(
    ch, tmp_path: Path
) -> None:
    source = "fault_large_field"
    large = b"x" * (3 << 20)  # 3 MiB: 48 blocks of the declared 64 KiB
    data = (
        b"id,at,note\n1,2020-01-01T10:00:00,a\n2,2020-01-01T11:00:00,"
        + large
        + b"\n3,2020-01-01T12:00:00,"
        + large
        + large
        + b"\n4,2020-01-01T13:00:00,d\n"
    )
    _land(tmp_path, source, "2020-01-01.csv", data)
    files_extra = "  block_size: 65536\n  max_field_bytes: 5000000\n"
    result = _run(source, _schemas(tmp_path, source, files_extra=files_extra), tmp_path)
    assert _loaded_ids(ch, source) == [1, 2, 4]
    assert ch.command(f"SELECT length(note) FROM raw.`{source}___readings` FINAL WHERE id = 2") == (
        3 << 20
    )
    rejected = _rejected(ch, source)
    assert [r[1] for r in rejected] == [4]
    assert "longer than 5000000 bytes" in rejected[0][2] and len(rejected[0][3]) < 2000
    assert result.row_counts == {"readings": 3} and result.rejected == {"readings": 1}


def test_a_bad_jsonl_line_is_a_rejected_row(ch, tmp_path: Path) -> None:
    source = "fault_jsonl"
    data = (
        b'{"id": 1, "at": "2020-01-01T10:00:00", "note": "a"}\n'
        b'{"id": 2, "at": "2020-01-01T11:00:00", "note": \n'
        b'{"id": 3, "at": "2020-01-01T12:00:00", "note": "c"}\n'
    )
    _land(tmp_path, source, "2020-01-01.jsonl", data)
    result = _run(source, _schemas(tmp_path, source, ext="jsonl"), tmp_path)
    assert _loaded_ids(ch, source) == [1, 3]
    rejected = _rejected(ch, source)
    assert [r[1] for r in rejected] == [2] and "not a JSON object" in rejected[0][2]
    assert result.row_counts == {"readings": 2} and result.rejected == {"readings": 1}


def test_the_yaml_limit_fails_the_run_naming_file_and_count(ch, tmp_path: Path) -> None:
    source = "fault_limit"
    data = b"id,at,note\n" + GOOD + b"x,2020-01-01T12:00:00,c\ny,2020-01-01T12:00:00,c\n"
    _land(tmp_path, source, "2020-01-01.csv", data)
    schemas = _schemas(tmp_path, source, extra="contract:\n  max_rejected_rows: 1\n")
    with pytest.raises(Exception, match="rejected 2 of 4 rows") as info:
        _run(source, schemas, tmp_path)
    assert "2020-01-01.csv" in str(info.value) and "max_rejected_rows 1" in str(info.value)
    assert RejectedRowsLimitError in _causes(info.value)
    assert _loaded_ids(ch, source) == []
    share = _schemas(tmp_path / "f", source, extra="contract:\n  max_rejected_fraction: 0.4\n")
    with pytest.raises(Exception, match=r"max_rejected_fraction 0\.4"):
        _run(source, share, tmp_path / "f", landing=tmp_path / "landing")  # 2 of 4 = 50 %
    within = _schemas(tmp_path / "w", source, extra="contract:\n  max_rejected_fraction: 0.5\n")
    result = _run(source, within, tmp_path / "w", landing=tmp_path / "landing")
    assert result.rejected == {"readings": 2} and result.row_counts == {"readings": 2}


def _causes(exc: BaseException | None) -> set[type]:
    seen: set[type] = set()
    while exc is not None:
        seen.add(type(exc))
        exc = exc.__cause__ or exc.__context__
    return seen


def test_an_unreadable_file_fails_alone_and_is_reported(ch, tmp_path: Path) -> None:
    source = "fault_whole_file"
    table = pa.table(
        {"id": [1, 2], "at": ["2020-01-01T10:00:00"] * 2, "note": ["a", "b"]},
    )
    good = tmp_path / "landing" / source / "readings" / "2020-01-01.parquet"
    good.parent.mkdir(parents=True)
    pq.write_table(table, good)
    bad = _land(tmp_path, source, "2020-01-02.parquet", b"id,at,note\n3,x,y\n")
    with pytest.raises(FilesFailedError) as info:
        _run(source, _schemas(tmp_path, source, ext="parquet"), tmp_path)
    message = str(info.value)
    assert str(bad) in message and "cannot be read as parquet" in message
    assert "committed: 2 row(s)" in message
    assert info.value.result.row_counts == {"readings": 2}
    assert _loaded_ids(ch, source) == [1, 2]


LATE = """\
contract:
  late_rows: {action}
incremental:
  cursor: at
clickhouse:
  engine: ReplacingMergeTree
"""


def test_a_corrected_old_file_becomes_the_newest_version_and_is_counted(ch, tmp_path: Path):
    source = "late_corrected"
    schemas = _schemas(tmp_path, source, extra=LATE.format(action="load"))
    day1 = _land(tmp_path, source, "2020-01-01.csv", b"id,at,note\n" + GOOD)
    _land(tmp_path, source, "2020-01-02.csv", b"id,at,note\n3,2020-01-02T09:00:00,c\n")
    first = _run(source, schemas, tmp_path)
    assert first.row_counts == {"readings": 3} and first.late_rows == {"readings": 0}
    day1.write_bytes(b"id,at,note\n1,2020-01-01T10:00:00,corrected\n2,2020-01-01T11:00:00,b\n")
    second = _run(source, schemas, tmp_path)
    assert second.late_rows == {"readings": 2}
    assert second.row_counts == {"readings": 2}  # both rows of the changed file: new versions
    assert second.summary()["late_rows"] == {"readings": 2}
    note = ch.command(f"SELECT note FROM raw.`{source}___readings` FINAL WHERE id = 1")
    assert note == "corrected"
    assert _loaded_ids(ch, source) == [1, 2, 3]


def test_late_rows_can_be_rejected_instead(ch, tmp_path: Path) -> None:
    source = "late_rejected"
    schemas = _schemas(tmp_path, source, extra=LATE.format(action="reject"))
    _land(tmp_path, source, "2020-01-02.csv", b"id,at,note\n3,2020-01-02T09:00:00,c\n")
    _run(source, schemas, tmp_path)
    late = _land(tmp_path, source, "2020-01-01.csv", b"id,at,note\n" + GOOD)
    result = _run(source, schemas, tmp_path)
    assert result.late_rows == {"readings": 2} and result.rejected == {"readings": 2}
    assert result.row_counts == {"readings": 0}
    rejected = _rejected(ch, source)
    assert [(r[0], r[1]) for r in rejected] == [(str(late), 2), (str(late), 3)]
    assert all("late_rows: reject" in r[2] for r in rejected)


def test_a_run_that_completes_an_interrupted_load_reports_its_committed_rows(
    ch, tmp_path: Path
) -> None:
    source = "resumed_load"
    schemas = _schemas(tmp_path, source)
    data = b"id,at,note\n" + GOOD + b"x,2020-01-01T12:00:00,bad\n"
    _land(tmp_path, source, "2020-01-01.csv", data)
    pipeline = make_pipeline(source, pipelines_dir=tmp_path / "dlt")
    # an earlier run stopped after extract + normalize: its package waits to be loaded
    specs = load_schemas(schemas)
    pipeline.extract(build_source(source, specs, tmp_path / "landing"), **RUN_KWARGS)
    pipeline.normalize()
    assert pipeline.has_pending_data and _loaded_ids(ch, source) == []
    result = _run(source, schemas, tmp_path, pipeline=pipeline)
    assert len(result.resumed_packages) == 1
    assert result.row_counts == {"readings": 2} and result.rejected == {"readings": 1}
    assert _loaded_ids(ch, source) == [1, 2]
    again = _run(source, schemas, tmp_path, pipeline=pipeline)
    assert again.row_counts == {"readings": 0} and again.resumed_packages == []


def test_the_schema_format_documents_the_new_fields() -> None:
    from ingestion.schema import json_schema

    text = json.dumps(json_schema())
    for name in ("max_rejected_rows", "max_rejected_fraction", "late_rows", "block_size"):
        assert name in text
    assert "max_field_bytes" in text and "newlines_in_values" in text
