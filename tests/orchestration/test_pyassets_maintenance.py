"""The ClickHouse maintenance job on a fresh endpoint: tables made to have many parts, a dry
run that changes nothing, a run that acts (OPTIMIZE only where allowed) and retention that drops
exactly the expired partition. Merges are stopped on tables that must keep their parts, so the
endpoint's background merges cannot change what a test counts."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from orch_support import query
from pyassets_support import command, fresh_stack
from pydantic import ValidationError

from orchestration.defs.clickhouse import Relation
from orchestration.defs.maintenance.plan import MaintenanceConfig, plan_maintenance
from orchestration.defs.maintenance.state import TableState

pytestmark = [pytest.mark.integration, pytest.mark.example]  # uses the shipped Jaffle Shop example

ROOT = Path(__file__).resolve().parents[2]
PARTS = 12
SMALL_RMT = "raw.small_rmt"  # ReplacingMergeTree, many parts: optimized when acting
BIG_RMT = "raw.big_rmt"  # ReplacingMergeTree, many parts, the biggest: protected
PLAIN = "raw.plain_mt"  # MergeTree, many parts: never optimized
ORDERS = "raw.jaffle_shop___orders"  # retention 30d in this test's copy of orders.yml


@pytest.fixture(scope="module")
def stack(
    orch_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dg.Definitions]:
    root = tmp_path_factory.mktemp("maintenance")
    schemas = root / "schemas"
    shutil.copytree(ROOT / "ingestion" / "schemas", schemas)
    orders = schemas / "jaffle_shop" / "orders.yml"
    text = orders.read_text()
    orders.write_text(
        text.replace(
            "  partition_by: toYYYYMM(ordered_at)",
            "  partition_by: toYYYYMM(ordered_at)\n  retention: 30d",
        )
    )
    with fresh_stack(root, schemas_dir=schemas) as defs:
        command("create database if not exists raw")
        for relation, engine in (
            (SMALL_RMT, "ReplacingMergeTree"),
            (BIG_RMT, "ReplacingMergeTree"),
            (PLAIN, "MergeTree"),
        ):
            command(f"create table {relation} (id UInt64, v String) engine = {engine} order by id")
            command(f"system stop merges {relation}")
            for part in range(PARTS):
                rows = 20_000 if relation == BIG_RMT else 10
                command(
                    f"insert into {relation} select number + {part * rows}, toString(number)"
                    f" from numbers({rows})"
                )
        command(
            f"create table {ORDERS} (id String, ordered_at DateTime64(6, 'UTC'))"
            " engine = ReplacingMergeTree partition by toYYYYMM(ordered_at) order by id"
        )
        command(
            f"insert into {ORDERS} values ('a', '2018-07-20 10:00:00'),"
            " ('b', '2018-08-20 10:00:00'), ('c', '2018-09-10 10:00:00'),"
            " ('d', '2018-09-11 10:00:00')"
        )
        yield defs


def _parts() -> dict[str, int]:
    rows = query(
        "select database || '.' || table, count() from system.parts"
        " where active and database = 'raw' group by database, table"
    )
    return {name: int(n) for name, n in rows}


def _run(defs: dg.Definitions, config: dict[str, Any]) -> dg.ExecuteInProcessResult:
    job = defs.get_job_def("clickhouse_maintenance")
    run_config = {"ops": {"inspect_clickhouse": {"config": config}}}
    with dg.instance_for_test() as instance:
        return job.execute_in_process(instance=instance, run_config=run_config)


def _output_metadata(result: dg.ExecuteInProcessResult, step: str) -> dict[str, Any]:
    for event in result.all_events:
        if event.event_type_value == "STEP_OUTPUT" and event.step_key == step:
            return event.event_specific_data.metadata
    raise AssertionError(f"no output of {step}")


BASE = {
    "parts_threshold": 5,
    "protect_biggest": 1,
    "max_partitions": 2,
    "now": "2018-09-15T00:00:00",
}


def test_dry_run_reports_and_changes_nothing(stack: dg.Definitions) -> None:
    before = _parts()
    assert before[SMALL_RMT] == before[BIG_RMT] == before[PLAIN] == PARTS
    orders_before = query(f"select id from {ORDERS} order by id")

    result = _run(stack, BASE)  # dry_run is the default
    assert result.success
    meta = _output_metadata(result, "inspect_clickhouse")
    report = meta["report"].value
    assert "dry run: nothing changed" in report
    assert f"| {SMALL_RMT} | ReplacingMergeTree | {PARTS} | 1 |" in report
    assert f"| {PLAIN} | MergeTree | {PARTS} |" in report
    assert "would OPTIMIZE FINAL" in report and "biggest table: not optimized" in report
    assert "would drop 1 expired partitions" in report
    assert meta["to_optimize"].value == SMALL_RMT
    assert meta["partition_alerts"].value == 1  # orders: 3 partitions over a bound of 2
    assert f"{ORDERS} has 3 partitions (bound 2)" in report
    assert _parts() == before
    assert query(f"select id from {ORDERS} order by id") == orders_before


def test_acting_optimizes_only_where_allowed_and_drops_only_the_expired(
    stack: dg.Definitions,
) -> None:
    command(f"system start merges {SMALL_RMT}")
    result = _run(stack, {**BASE, "dry_run": False})
    assert result.success
    parts = _parts()
    assert parts[SMALL_RMT] == 1
    assert parts[BIG_RMT] == PARTS  # the biggest table, not asked for
    assert parts[PLAIN] == PARTS  # not a ReplacingMergeTree
    # July's partition (newest row 07-20) is older than 30 days before 09-15; August's is not
    assert [r[0] for r in query(f"select id from {ORDERS} order by id")] == ["b", "c", "d"]
    dropped = _output_metadata(result, "drop_expired_partitions")["dropped"].value
    assert "201807" in dropped and "201808" not in dropped

    # asked by name, the biggest table is optimized too
    command(f"system start merges {BIG_RMT}")
    result = _run(stack, {**BASE, "dry_run": False, "optimize_biggest": [BIG_RMT]})
    assert result.success
    assert _parts()[BIG_RMT] == 1


def test_bad_config_is_refused(stack: dg.Definitions) -> None:
    job = stack.get_job_def("clickhouse_maintenance")
    with dg.instance_for_test() as instance:
        for config, error, fragment in (
            ({"dry_run": "no"}, dg.DagsterInvalidConfigError, "config:dry_run"),
            ({"parts_threshold": 0}, ValidationError, "parts_threshold"),
        ):
            run_config = {"ops": {"inspect_clickhouse": {"config": config}}}
            with pytest.raises(error, match=fragment):
                job.execute_in_process(instance=instance, run_config=run_config)


NOW = dt.datetime(2018, 9, 15, tzinfo=dt.UTC)


def test_plan_never_optimizes_the_biggest_unless_asked() -> None:
    big = TableState(Relation("raw", "big"), "ReplacingMergeTree", 50, 1, 10, 10_000)
    small = TableState(Relation("raw", "small"), "ReplacingMergeTree", 50, 1, 10, 100)
    plain = TableState(Relation("raw", "plain"), "MergeTree", 50, 1, 10, 10)
    config = MaintenanceConfig(parts_threshold=10, protect_biggest=1)
    plan = plan_maintenance([big, small, plain], [], {}, config, now=NOW)
    assert plan.optimize == [small.relation] and plan.protected == [big.relation]
    asked = MaintenanceConfig(parts_threshold=10, protect_biggest=1, optimize_biggest=["raw.big"])
    plan = plan_maintenance([big, small, plain], [], {}, asked, now=NOW)
    assert plan.optimize == [big.relation, small.relation] and plan.dry_run


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ("  retention: soon", "clickhouse.retention: .*'soon' is not a duration"),
        ("  partition_by: null\n  retention: 30d", "clickhouse.retention: retention drops whole"),
        ("  partition_by: cityHash64(id) % 4\n  retention: 30d", "partition_by must use a date"),
    ],
)
def test_retention_in_the_yaml_is_validated(tmp_path: Path, layout: str, message: str) -> None:
    from ingestion.schema import SchemaErrors, load_schemas

    schemas = tmp_path / "schemas"
    shutil.copytree(ROOT / "ingestion" / "schemas", schemas)
    orders = schemas / "jaffle_shop" / "orders.yml"
    text = orders.read_text().replace("  partition_by: toYYYYMM(ordered_at)", layout)
    orders.write_text(text)
    with pytest.raises(SchemaErrors, match=message) as raised:
        load_schemas(schemas)
    assert "orders.yml" in str(raised.value)


def test_retention_of_the_yaml_reaches_the_job(tmp_path: Path) -> None:
    from ingestion.schema import load_schemas
    from orchestration.defs.maintenance.definitions import retention_by_relation

    schemas = tmp_path / "schemas"
    shutil.copytree(ROOT / "ingestion" / "schemas", schemas)
    orders = schemas / "jaffle_shop" / "orders.yml"
    orders.write_text(
        orders.read_text().replace(
            "  partition_by: toYYYYMM(ordered_at)",
            "  partition_by: toYYYYMM(ordered_at)\n  retention: 1d12h",
        )
    )
    specs = load_schemas(schemas)
    retention = retention_by_relation(specs)
    assert retention == {Relation("raw", "jaffle_shop___orders"): dt.timedelta(days=1, hours=12)}
