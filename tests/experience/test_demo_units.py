"""Pure pieces of `elt demo` / `elt dev`: landed days, stage names, summary text, stale manifest."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import dagster as dg

from elt.demo import landed_days
from elt.dev import dagster_dev_command, port_is_free
from elt.materialize import stage_name
from elt.summary import TableCount, is_data_table, render_load, render_summary, seconds
from ingestion.schema import TableSpec, parse_table_file
from orchestration.defs.transform.project import stale_inputs


def _daily_spec(tmp_path: Path, table: str, daily: bool = True) -> TableSpec:
    path = tmp_path / "schemas" / "s" / f"{table}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    partitioning = "partitioning: {column: at, start: 2018-01-01}\n" if daily else ""
    path.write_text(
        f"name: {table}\nfiles: {{path: s/{table}/*.csv}}\n"
        "columns: [{name: id, type: int64}, {name: at, type: date}]\nprimary_key: [id]\n"
        + partitioning
    )
    return parse_table_file(path, "s")


def test_landed_days_come_from_the_daily_tables_files(tmp_path: Path) -> None:
    """The days of the daily-partitioned tables' files (their YAML globs), not any dated name."""
    specs = [_daily_spec(tmp_path, "orders"), _daily_spec(tmp_path, "items")]
    specs.append(_daily_spec(tmp_path, "snapshots", daily=False))
    landing = tmp_path / "landing"
    for rel in (
        "s/orders/2018-09-03.csv",
        "s/orders/2018-09-01.csv",
        "s/items/2018-09-02.csv",
        "s/snapshots/2017-01-01.csv",  # dated, but its table is not daily-partitioned
        "other/orders/2016-01-01.csv",  # no table reads it
    ):
        (landing / rel).parent.mkdir(parents=True, exist_ok=True)
        (landing / rel).write_text("x\n")
    assert landed_days(landing, specs) == ("2018-09-01", "2018-09-03")
    assert landed_days(tmp_path / "nothing", specs) is None


def test_stage_names() -> None:
    raw = (dg.AssetKey(["raw", "s", "a"]), dg.AssetKey(["raw", "s", "b"]))
    assert stage_name(raw) == "ingest"
    assert stage_name((*raw, dg.AssetKey(["staging", "stg_s__a"]))) == "transform"


def test_dlt_bookkeeping_tables_are_not_data() -> None:
    assert is_data_table("jaffle_shop___orders")
    assert is_data_table("jaffle_shop____rejected_rows")
    assert not is_data_table("jaffle_shop____dlt_loads")
    assert not is_data_table("jaffle_shop____dlt_pipeline_state")
    assert not is_data_table("jaffle_shop____dlt_version")
    assert not is_data_table("jaffle_shop_staging___orders")  # dlt's merge staging


def test_summary_lists_counts_checks_timings_and_next_steps() -> None:
    text = render_summary(
        assets_materialized=3,
        assets_total=3,
        runs=2,
        checks_passed=5,
        checks_failed=["marts/orders:unique_orders_order_id"],
        checks_missing=[],
        raw=[TableCount("raw", "s___orders", "ReplacingMergeTree", 1234)],
        marts=[TableCount("marts", "orders", "MergeTree", 1000)],
        stage_seconds={"endpoint": 0.5, "ingest": 75.0},
        dev_port=3100,
        success=False,
    )
    assert "elt demo: FAILED" in text
    assert "assets materialized: 3/3 (2 run(s))" in text
    assert "5 passed, 1 failed" in text
    assert "FAILED  marts/orders:unique_orders_order_id" in text
    assert "raw.s___orders" in text and "1,234" in text
    assert "marts.orders" in text and "1,000" in text
    assert "endpoint 0.5 s · ingest 1 min 15.0 s · total 1 min 15.5 s" in text
    assert "http://127.0.0.1:3100" in text
    assert 'elt sql "select * from marts.orders limit 10"' in text


def test_seconds_format() -> None:
    assert seconds(2.345) == "2.3 s"
    assert seconds(125) == "2 min 05.0 s"


def test_manifest_is_stale_when_a_model_is_newer(tmp_path: Path) -> None:
    project, profiles = tmp_path / "p", tmp_path
    (project / "models" / "staging").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: x\n")
    (profiles / "profiles.yml").write_text("x: {}\n")
    model = project / "models" / "staging" / "stg_a.sql"
    model.write_text("select 1\n")
    assert len(stale_inputs(project, profiles)) == 3  # no manifest yet: everything is new
    manifest = project / "target" / "manifest.json"
    manifest.parent.mkdir()
    manifest.write_text("{}")
    past = manifest.stat().st_mtime - 10
    for path in (project / "dbt_project.yml", profiles / "profiles.yml", model):
        os.utime(path, (past, past))
    assert stale_inputs(project, profiles) == []
    (project / "models" / "staging" / "stg_b.sql").write_text("select 2\n")
    assert [p.name for p in stale_inputs(project, profiles)] == ["stg_b.sql"]


def test_dev_binds_loopback_and_detects_a_busy_port() -> None:
    command = dagster_dev_command("127.0.0.1", 3123)
    assert Path(command[0]).name == "dg"
    assert command[1:] == [
        "dev",
        "--host",
        "127.0.0.1",
        "--port",
        "3123",
    ]
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert not port_is_free("127.0.0.1", port)
    assert port_is_free("127.0.0.1", port)


def test_load_report_shows_committed_rejected_late_and_failed_files() -> None:
    text = render_load(
        "shop",
        {
            "rows": {"orders": 202_114, "items": 0},
            "rejected": {"orders": 3},
            "late_rows": {"orders": 2},
            "late_skipped": {},
            "resumed_packages": ["1733150000.1"],
            "failed_files": [{"file": "/l/x.csv", "error": "cannot be read", "rows_loaded": 0}],
        },
        success=False,
    )
    lines = text.splitlines()
    assert lines[0] == "load shop: FAILED"
    assert lines[2].split() == ["items", "0", "0", "0"]
    assert lines[3].split() == ["orders", "202,114", "3", "2"]
    assert "completed 1 load package(s) an earlier run left unfinished" in text
    assert "/l/x.csv: cannot be read" in text
