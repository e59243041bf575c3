"""Schema -> dlt source/resources (pure: no warehouse; dlt extract/normalize run offline)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import dlt
import pyarrow as pa
import pytest
from ingestion_helpers import FIXTURE_SCHEMAS, write_yaml

from ingestion.conform import SchemaDriftError
from ingestion.ddl import create_rejected_table_sql, create_table_sql
from ingestion.generator import (
    CursorFilter,
    RunStats,
    TableStats,
    column_hints,
    dlt_source,
    file_in_window,
    files_rows,
)
from ingestion.layout import clickhouse_hints
from ingestion.readers import FileRef
from ingestion.schema import LOADED_FILES_TABLE, REJECTED_TABLE, load_schemas, parse_table_file

EVENTS = """\
name: events
files:
  path: src/events/*.csv
columns:
  - name: id
    type: int64
  - name: at
    type: timestamp
  - name: note
    type: string
primary_key: [id]
incremental:
  cursor: at
  initial_value: "2020-01-01"
write_disposition: {disposition}
{strategy}clickhouse:
  partition_by: toYYYYMM(at)
  settings: {{index_granularity: 1024}}
partitioning:
  column: at
  start: 2020-01-01
"""


def _events(tmp_path: Path, disposition: str = "merge", strategy: str | None = None):
    text = EVENTS.format(
        disposition=disposition, strategy=f"merge_strategy: {strategy}\n" if strategy else ""
    )
    return parse_table_file(write_yaml(tmp_path / "schemas", "src", "events", text))


def _csv(path: Path, rows: list[tuple]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["id,at,note", *(",".join(str(v) for v in row) for row in rows)]
    path.write_text("\n".join(lines) + "\n")


def _rows(items: list) -> list[dict]:
    out = []
    for item in items:
        if isinstance(item, pa.Table):
            out += item.to_pylist()
    return out


def _read(
    spec, landing: Path, record: dict[str, str], stats: TableStats | None = None, **kwargs
) -> list:
    """`files_rows` as a load sees it: `record` holds the loaded-files record so far (what
    `ingestion.loaded.table_record` reads) and takes in the files this read records."""
    items = list(files_rows(spec, landing, stats=stats, loaded=dict(record), **kwargs))
    for item in items:
        if not isinstance(item, pa.Table) and item.meta.table_name == LOADED_FILES_TABLE:
            files, prints = item.data["file"].to_pylist(), item.data["fingerprint"].to_pylist()
            record.update(zip(files, prints, strict=True))
    return items


def test_column_hints_carry_types_keys_and_cursor() -> None:
    orders = next(s for s in load_schemas(FIXTURE_SCHEMAS) if s.name == "orders")
    hints = column_hints(orders)
    assert hints["order_id"] == {
        "name": "order_id",
        "data_type": "bigint",
        "precision": 32,
        "nullable": False,
        "description": "Order id.",
        "primary_key": True,
    }
    assert hints["ordered_at"]["incremental"] is True
    assert hints["ordered_at"]["data_type"] == "timestamp"
    assert hints["amount_cents"]["precision"] == 64
    # merge by the engine: dlt appends, ReplacingMergeTree(_ingested_at) keeps the newest version
    assert orders.resolved_merge_strategy == "engine" and orders.dlt_write_disposition == "append"
    assert "dedup_sort" not in hints["_ingested_at"]
    assert clickhouse_hints(orders) == {
        "table_engine_type": "replacing_merge_tree",
        "sort": ["order_id"],
        "partition": "toYYYYMM(ordered_at)",
    }
    exact = orders.model_copy(update={"merge_strategy": "delete-insert"})
    assert exact.dlt_write_disposition == "merge"
    assert column_hints(exact)["_ingested_at"]["dedup_sort"] == "desc"
    assert clickhouse_hints(exact)["table_engine_type"] == "merge_tree"  # dlt's staging table


def test_source_has_one_resource_per_table_with_hints(tmp_path: Path) -> None:
    specs = load_schemas(FIXTURE_SCHEMAS)
    source = dlt_source("fixture_shop", specs, tmp_path)
    assert source.name == "fixture_shop"
    assert sorted(source.resources) == ["customers", "events", "orders", "stock"]
    orders = source.resources["orders"]
    assert orders.write_disposition == "append"  # merge strategy "engine"
    table = orders.compute_table_schema()
    assert table["x-clickhouse-partition"] == "toYYYYMM(ordered_at)"
    assert table["x-clickhouse-sort"] == ["order_id"]
    assert table["columns"]["order_id"]["primary_key"] is True
    stock = source.resources["stock"].compute_table_schema()  # a composite key
    assert [c for c, v in stock["columns"].items() if v.get("primary_key")] == ["store_id", "sku"]
    with pytest.raises(ValueError, match="no schema declares source"):
        dlt_source("nope", specs, tmp_path)


def test_files_are_skipped_once_loaded_and_cursor_keeps_only_newer_rows(tmp_path: Path) -> None:
    spec = _events(tmp_path)
    landing = tmp_path / "landing"
    _csv(
        landing / "src/events/2020-01-01.csv",
        [(1, "2020-01-01T10:00:00", "a"), (2, "2020-01-01T11:00:00", "b")],
    )
    state: dict = {}
    record: dict[str, str] = {}
    stats = TableStats()
    first = _rows(_read(spec, landing, record, stats, state=state))
    assert [r["id"] for r in first] == [1, 2]
    assert all(r["_ingested_at"].tzinfo is not None for r in first)
    assert state["cursor"]["last_value"].startswith("2020-01-01T11:00:00")
    assert list(record) == ["src/events/2020-01-01.csv"]
    # same files again: the record holds them, nothing read
    stats = TableStats()
    assert _read(spec, landing, record, stats, state=state) == []
    assert stats.files_skipped == 1 and stats.files_read == 0
    # a newer file: its rows; a rewritten old file: rows not newer than the cursor are late
    # (the table deduplicates, so by default they load as new versions) and counted
    _csv(landing / "src/events/2020-01-02.csv", [(3, "2020-01-02T09:00:00", "c")])
    _csv(
        landing / "src/events/2020-01-01.csv",
        [
            (1, "2020-01-01T10:00:00", "a2"),
            (2, "2020-01-01T11:00:00", "b"),
            (9, "2020-01-01T11:00:00", "same time"),
        ],
    )
    stats = TableStats()
    rows = _rows(_read(spec, landing, record, stats, state=state))
    # id 9 shares the last cursor value but was never loaded: newer (boundary keys)
    assert sorted(r["id"] for r in rows) == [1, 2, 3, 9]
    assert stats.late == 2 and stats.late_skipped == 0
    assert state["cursor"]["last_value"].startswith("2020-01-02T09:00:00")


@pytest.mark.parametrize("action", ["skip", "reject"])
def test_late_rows_follow_the_contract(tmp_path: Path, action: str) -> None:
    text = EVENTS.format(disposition="merge", strategy="") + f"contract:\n  late_rows: {action}\n"
    spec = parse_table_file(write_yaml(tmp_path / "schemas", "src", "events", text))
    landing = tmp_path / "landing"
    _csv(landing / "src/events/2020-01-02.csv", [(3, "2020-01-02T09:00:00", "c")])
    state: dict = {}
    record: dict[str, str] = {}
    _read(spec, landing, record, state=state)
    _csv(landing / "src/events/2020-01-01.csv", [(1, "2020-01-01T10:00:00", "late")])
    stats = TableStats()
    items = _read(spec, landing, record, stats, state=state)
    assert _rows(items) == [] and stats.late == 1
    marked = [
        i.data.to_pylist()
        for i in items
        if not isinstance(i, pa.Table) and i.meta.table_name == REJECTED_TABLE
    ]
    if action == "skip":
        assert stats.late_skipped == 1 and marked == [] and stats.rejected == 0
    else:
        assert stats.rejected == 1 and len(marked) == 1
        (row,) = marked[0]
        assert row["file"].endswith("2020-01-01.csv") and row["row_number"] == 2
        assert "late_rows: reject" in row["reason"] and '"late"' in row["raw_row"]


def test_window_reads_only_that_day_once_and_keeps_state(tmp_path: Path) -> None:
    spec = _events(tmp_path)
    landing = tmp_path / "landing"
    _csv(landing / "src/events/2020-01-01.csv", [(1, "2020-01-01T10:00:00", "a")])
    _csv(
        landing / "src/events/2020-01-02.csv",
        [(2, "2020-01-02T10:00:00", "b"), (3, "2020-01-03T00:00:00", "late")],
    )
    state: dict = {}
    start = dt.datetime(2020, 1, 2, tzinfo=dt.UTC)
    window = (start, start + dt.timedelta(days=1))
    stats = TableStats()
    record: dict[str, str] = {}
    rows = _rows(_read(spec, landing, record, stats, window=window, state=state))
    assert [r["id"] for r in rows] == [2]
    assert stats.files_read == 1
    assert state == {}  # a window leaves the cursor alone
    # the day again (a backfill over a loaded day): the record holds its file, nothing read
    stats = TableStats()
    assert _read(spec, landing, record, stats, window=window, state=state) == []
    assert stats.files_skipped == 1 and stats.files_read == 0
    assert file_in_window(FileRef("x/2020-01-02.csv", 1, "t"), window)
    assert not file_in_window(FileRef("x/2020-01-03.csv", 1, "t"), window)
    assert file_in_window(FileRef("x/all.csv", 1, "t"), window)


def test_rejected_rows_are_yielded_to_the_rejected_table(tmp_path: Path) -> None:
    spec = _events(tmp_path)
    landing = tmp_path / "landing"
    _csv(
        landing / "src/events/2020-01-01.csv",
        [
            (1, "2020-01-01T10:00:00", "a"),
            ("x", "2020-01-01T11:00:00", "bad id"),
            (3, "not a time", "bad at"),
        ],
    )
    stats = TableStats()
    items = list(files_rows(spec, landing, stats=stats, state={}))
    assert stats.rejected == 2 and stats.rows == 1
    marked = [i for i in items if not isinstance(i, pa.Table)]
    assert [m.meta.table_name for m in marked] == [REJECTED_TABLE, LOADED_FILES_TABLE]
    rejected = marked[0].data.to_pylist()
    assert [r["row_number"] for r in rejected] == [3, 4]  # lines (the header is line 1)
    assert rejected[0]["table_name"] == "events"
    assert rejected[0]["file"].endswith("2020-01-01.csv")
    # the loaded-files record: the file, named relative to the landing dir, and its day
    loaded = marked[1].data.to_pylist()
    assert [(r["table_name"], r["file"], r["day"]) for r in loaded] == [
        ("events", "src/events/2020-01-01.csv", dt.date(2020, 1, 1))
    ]


def test_cursor_filter_state_without_rows() -> None:
    assert CursorFilter(spec=None, start=None, boundary=set()).state() is None


def test_offline_extract_and_normalize_make_parquet_jobs(tmp_path: Path, monkeypatch) -> None:
    """dlt runs extract and normalize without a warehouse: check the load package it builds."""
    monkeypatch.setenv("NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID", "true")
    spec = _events(tmp_path, strategy="delete-insert")
    landing = tmp_path / "landing"
    _csv(
        landing / "src/events/2020-01-01.csv",
        [(1, "2020-01-01T10:00:00", "a"), ("bad", "2020-01-01T11:00:00", "b")],
    )
    stats = RunStats()
    # no warehouse, so no loaded-files record to read: nothing loaded yet
    source = dlt_source("src", [spec], landing, stats=stats, record=lambda _spec: {})
    pipeline = dlt.pipeline(
        "offline_test",
        pipelines_dir=str(tmp_path / "dlt"),
        destination="clickhouse",
        dataset_name="src",
    )
    pipeline.extract(source, loader_file_format="parquet")
    pipeline.normalize()
    counts = pipeline.last_trace.last_normalize_info.row_counts
    assert counts["events"] == 1
    assert counts[REJECTED_TABLE] == 1
    assert stats.rejected == {"events": 1}
    schema = pipeline.default_schema
    assert schema.tables["events"]["write_disposition"] == "merge"
    assert "_dlt_load_id" in schema.tables[REJECTED_TABLE]["columns"]
    assert "id" not in schema.tables[REJECTED_TABLE]["columns"]
    jobs = list((Path(pipeline.working_dir) / "load" / "normalized").glob("*/new_jobs/*"))
    assert any(j.name.startswith("events.") and j.name.endswith(".parquet") for j in jobs)
    assert os.environ["NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID"] == "true"


def test_ddl_declares_engine_keys_and_types(tmp_path: Path) -> None:
    sql = create_table_sql(_events(tmp_path), "raw")
    assert sql.startswith("CREATE TABLE IF NOT EXISTS `raw`.`src___events`")
    assert "`id` Int64" in sql and "`note` Nullable(String)" in sql
    assert "`at` DateTime64(6, 'UTC')" in sql
    assert "ENGINE = ReplacingMergeTree(`_ingested_at`)" in sql
    assert "PARTITION BY toYYYYMM(at)" in sql
    assert "ORDER BY `id`" in sql
    assert "SETTINGS index_granularity = 1024" in sql
    assert "`_dlt_load_id` String" in sql
    rejected = create_rejected_table_sql("src", "raw")
    assert "`raw`.`src____rejected_rows`" in rejected
    assert "ORDER BY (`table_name`, `file`, `row_number`)" in rejected
    with pytest.raises(ValueError, match="not a valid identifier"):
        create_table_sql(_events(tmp_path), "raw; drop")


def test_rejected_rows_map_back_to_their_file_and_row(tmp_path: Path) -> None:
    """Small files are conformed together; a rejected row still names its own file and row."""
    spec = _events(tmp_path)
    landing = tmp_path / "landing"
    _csv(landing / "src/events/2020-01-01.csv", [(1, "2020-01-01T10:00:00", "a")])
    _csv(
        landing / "src/events/2020-01-02.csv",
        [(2, "2020-01-02T10:00:00", "b"), ("oops", "2020-01-02T11:00:00", "c")],
    )
    stats = TableStats()
    items = list(files_rows(spec, landing, stats=stats, state={}))
    assert stats.files_read == 2 and stats.rows == 2 and stats.rejected == 1
    tables = [i for i in items if isinstance(i, pa.Table)]
    assert len(tables) == 1  # both files in one batch
    rejected = next(i for i in items if not isinstance(i, pa.Table)).data.to_pylist()
    assert [(r["file"].rsplit("/", 1)[-1], r["row_number"]) for r in rejected] == [
        ("2020-01-02.csv", 3)  # line 3: the header is line 1
    ]


def test_fail_contract_names_the_file_and_column(tmp_path: Path) -> None:
    spec = _events(tmp_path).model_copy(
        update={"contract": _events(tmp_path).contract.model_copy(update={"new_columns": "fail"})}
    )
    landing = tmp_path / "landing"
    path = landing / "src/events/2020-01-01.csv"
    path.parent.mkdir(parents=True)
    path.write_text("id,at,note,colour\n1,2020-01-01T10:00:00,a,red\n")
    with pytest.raises(SchemaDriftError, match=r"'colour' in .*2020-01-01.csv"):
        list(files_rows(spec, landing, state={}))
