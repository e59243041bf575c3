"""End to end on a fresh local endpoint: materialize everything, a daily partition and a 3-day
backfill with exact rows, and a freshness policy failing when stale and passing after a refresh.

The tests of this module run in order and share the warehouse: the full build first."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._core.definitions.freshness import FreshnessState
from dagster._core.definitions.freshness_evaluator import FRESHNESS_EVALUATORS_BY_POLICY_TYPE
from dagster._core.loader import LoadingContextForTest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from dagster._core.test_utils import freeze_time
from endpoint_support import local_endpoint, patched_environ
from orch_support import (
    FIRST_DAY,
    PUBLISHED_UNTIL,
    csv_rows_by_day,
    materialize_command,
    query,
)

pytestmark = [pytest.mark.integration, pytest.mark.example]  # the shipped Jaffle Shop example

ROOT = Path(__file__).resolve().parents[2]
EVENT_TABLES = ("orders", "items")
ORDERS_KEY = dg.AssetKey(["raw", "jaffle_shop", "orders"])
CUSTOMERS_KEY = dg.AssetKey(["raw", "jaffle_shop", "customers"])


@pytest.fixture(scope="module")
def stack(
    landing: Path, orch_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """A fresh endpoint and dlt state of this module's own (earlier tests of the session filled
    the shared endpoint's raw and marts), the landing data, and Definitions pointing at them."""
    from orchestration.factory import build_definitions

    root = tmp_path_factory.mktemp("orch-materialize")
    with local_endpoint(root / "warehouse"), patched_environ({"ELT_DLT_DIR": str(root / "dlt")}):
        yield {"landing": landing, "defs": build_definitions()}


def _read(relation: str) -> str:
    """Raw tables are ReplacingMergeTree (read with FINAL); the event marts are MergeTree."""
    return f"{relation} final" if relation.startswith("raw.") else relation


def rows_by_day(relation: str, column: str) -> dict[str, int]:
    sql = f"select toDate({column}) as d, count() from {_read(relation)} group by d order by d"
    return {str(day): int(n) for day, n in query(sql)}


def duplicates(relation: str, key: str) -> int:
    return int(query(f"select count() - uniqExact({key}) from {_read(relation)}")[0][0])


@pytest.mark.timeout(2400)
def test_materialize_everything_with_the_cli(stack: dict[str, Any], dagster_home: Path) -> None:
    """`dagster asset materialize --select '*'` over every day up to yesterday (one single run:
    every partitioned asset has a single-run backfill policy)."""
    defs: dg.Definitions = stack["defs"]
    daily = defs.get_assets_def(ORDERS_KEY).partitions_def
    last = daily.get_last_partition_key()
    started = time.monotonic()
    proc = subprocess.run(
        materialize_command("*", "--partition-range", f"{FIRST_DAY.isoformat()}...{last}"),
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=1200,
    )
    elapsed = time.monotonic() - started
    print(f"full materialization: {elapsed:.1f} s")
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]

    instance = dg.DagsterInstance.get()
    run = instance.get_runs(limit=1)[0]
    assert run.status == dg.DagsterRunStatus.SUCCESS

    # every asset materialized, every check evaluated and passed
    planned = {
        r.dagster_event.asset_key
        for r in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    }
    assert planned == set(defs.get_repository_def().asset_graph.get_all_asset_keys())
    evaluations = [
        r.dagster_event.event_specific_data
        for r in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    ]
    expected_checks = set(defs.get_repository_def().asset_graph.asset_check_keys)
    planned_checks = {
        r.dagster_event.event_specific_data.asset_check_key
        for r in instance.all_logs(
            run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED
        )
    }
    assert expected_checks - planned_checks == set(), "checks left out of the run's plan"
    assert {e.asset_check_key for e in evaluations} == expected_checks
    failed = [e.asset_check_key.to_user_string() for e in evaluations if not e.passed]
    assert failed == []

    # rows in the marts: every landed order and item, once
    landed = {t: csv_rows_by_day(stack["landing"], t) for t in EVENT_TABLES}
    assert sum(rows_by_day("marts.orders", "ordered_at").values()) == sum(landed["orders"].values())
    assert int(query("select count() from marts.order_items")[0][0]) == sum(
        landed["items"].values()
    )
    assert duplicates("marts.orders", "order_id") == 0
    for mart in ("customers", "locations", "products", "supplies", "daily_location_metrics"):
        assert int(query(f"select count() from marts.{mart}")[0][0]) > 0, mart

    # materialization metadata from system.parts, columns with their ClickHouse types
    record = instance.fetch_materializations(dg.AssetKey(["marts", "customers"]), limit=1)
    metadata = record.records[0].asset_materialization.metadata
    assert metadata["dagster/row_count"].value > 0
    assert metadata["clickhouse/bytes_on_disk"].value > 0
    shown = [(c.name, c.type) for c in metadata["dagster/column_schema"].schema.columns]
    columns = "select name, type from system.columns where database = 'marts'"
    assert shown == [
        tuple(row) for row in query(f"{columns} and table = 'customers' order by position")
    ]
    record = instance.fetch_materializations(CUSTOMERS_KEY, limit=1)
    assert record.records[0].asset_materialization.metadata["dagster/row_count"].value > 0
    # rows this run committed (counted in the warehouse by load package), rejected rows too
    committed = record.records[0].asset_materialization.metadata
    customers = int(query("select count() from raw.jaffle_shop___customers")[0][0])
    assert committed["rows_committed"].value == customers
    assert committed["rejected_committed"].value == 0


def _truncate_event_tables() -> None:
    for relation in (
        "raw.jaffle_shop___orders",
        "raw.jaffle_shop___items",
        "marts.orders",
        "marts.order_items",
        "marts.daily_location_metrics",
    ):
        query(f"truncate table {relation}")


@pytest.mark.timeout(1800)
def test_daily_partition_and_three_day_backfill_exact_rows(stack: dict[str, Any]) -> None:
    defs: dg.Definitions = stack["defs"]
    landed = {t: csv_rows_by_day(stack["landing"], t) for t in EVENT_TABLES}
    job = defs.resolve_job_def("daily_partition")
    _truncate_event_tables()

    with dg.instance_for_test() as instance:
        # a 3-day backfill, executed as one run (single-run backfill policy): each day's window
        # goes to dlt as a window filter and to dbt as vars
        tags = {
            ASSET_PARTITION_RANGE_START_TAG: "2018-09-02",
            ASSET_PARTITION_RANGE_END_TAG: "2018-09-04",
        }
        # the record still holds these days' files: reading them again takes `reload`
        reload = {"ops": {"dlt_jaffle_shop_daily": {"config": {"reload": True}}}}
        assert job.execute_in_process(instance=instance, tags=tags, run_config=reload).success
        days = ["2018-09-02", "2018-09-03", "2018-09-04"]
        _assert_exact_days(landed, days)

        # one daily partition run, of a day already loaded: raw reads nothing again (the record
        # holds the day's files), dbt rebuilds exactly that day; no duplicates, no gaps
        assert job.execute_in_process(partition_key="2018-09-04", instance=instance).success
        _assert_exact_days(landed, days)

        # the runs recorded a materialization for each of their partitions
        partitions = {
            r.partition_key
            for r in instance.fetch_materializations(dg.AssetKey(["marts", "orders"]), 10).records
        }
        assert {"2018-09-02", "2018-09-03", "2018-09-04"} <= partitions


def _assert_exact_days(landed: dict[str, dict[str, int]], days: list[str]) -> None:
    """Raw and marts hold exactly the landed rows of `days`: no gaps, no duplicates."""
    orders = {d: landed["orders"][d] for d in days}
    assert rows_by_day("raw.jaffle_shop___orders", "ordered_at") == orders
    assert rows_by_day("marts.orders", "ordered_at") == orders
    items = {d: landed["items"][d] for d in days}
    assert rows_by_day("raw.jaffle_shop___items", "ordered_at") == items
    assert int(query("select count() from marts.order_items")[0][0]) == sum(items.values())
    assert duplicates("marts.orders", "order_id") == 0
    assert duplicates("marts.order_items", "order_item_id") == 0
    assert duplicates("raw.jaffle_shop___orders", "id") == 0


def test_freshness_policy_fails_when_stale_and_passes_after_refresh(
    stack: dict[str, Any],
) -> None:
    """The raw table's FreshnessPolicy (YAML: max_lag 26h, warn_after 12h) as Dagster's
    freshness daemon evaluates it, against the materializations of a real instance."""
    defs: dg.Definitions = stack["defs"]
    node = defs.get_repository_def().asset_graph.get(CUSTOMERS_KEY)
    policy = node.freshness_policy_or_from_metadata
    evaluator = FRESHNESS_EVALUATORS_BY_POLICY_TYPE[type(policy)]()

    def state(instance: dg.DagsterInstance) -> FreshnessState:
        context = LoadingContextForTest(instance)
        return asyncio.run(evaluator.evaluate_freshness(context=context, node=node))

    now = dt.datetime.now(dt.UTC)
    with dg.instance_for_test() as instance:
        assert state(instance) == FreshnessState.UNKNOWN  # never materialized
        for age, expected in (
            (dt.timedelta(days=3), FreshnessState.FAIL),
            (dt.timedelta(hours=13), FreshnessState.WARN),
        ):
            with freeze_time(now - age):  # the table was last loaded `age` ago
                instance.report_runless_asset_event(dg.AssetMaterialization(CUSTOMERS_KEY))
            assert state(instance) == expected, age

        # refresh: load the table again -> pass
        selection = dg.AssetSelection.assets(CUSTOMERS_KEY) - dg.AssetSelection.all_asset_checks()
        everything = [*defs.assets, *defs.asset_checks]
        result = dg.materialize(
            everything, selection=selection, resources=defs.resources, instance=instance
        )
        assert result.success
        assert state(instance) == FreshnessState.PASS


def test_published_days(stack: dict[str, Any]) -> None:
    """Guard of the fixtures the tests above rely on: one landing file per published day."""
    days = csv_rows_by_day(stack["landing"], "orders")
    assert min(days) == FIRST_DAY.isoformat()
    assert max(days) == PUBLISHED_UNTIL.isoformat()
