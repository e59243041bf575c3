"""The Python assets on the marts: materialized in process from small mart fixtures on a fresh
endpoint, through the code location's IO manager; their tables, metadata and checks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import dagster as dg
import pandas as pd
import pytest
from orch_support import query
from pyassets_support import (
    FORECAST,
    METRICS_DDL,
    ORDERS_DDL,
    RFM,
    command,
    fresh_stack,
    run_assets,
)

from orchestration.defs.analytics.forecast import forecast_revenue
from orchestration.defs.analytics.rfm import quartile_scores, rfm_segments
from orchestration.defs.analytics.tables import DeclaredTable

pytestmark = [pytest.mark.integration, pytest.mark.example]  # uses the shipped Jaffle Shop example

# (order_id, customer_id, order_total, day): c1 4 orders/40 last 09-07, c2 1/5 last 09-06,
# c3 2/30 last 09-01, c4 3/12 last 09-03
ORDERS = [
    ("o1", "c1", 10, "2018-09-01"),
    ("o2", "c1", 10, "2018-09-03"),
    ("o3", "c1", 10, "2018-09-05"),
    ("o4", "c1", 10, "2018-09-07"),
    ("o5", "c2", 5, "2018-09-06"),
    ("o6", "c3", 15, "2018-09-01"),
    ("o7", "c3", 15, "2018-09-01"),
    ("o8", "c4", 4, "2018-09-01"),
    ("o9", "c4", 4, "2018-09-02"),
    ("o10", "c4", 4, "2018-09-03"),
]
# (customer, recency_days, frequency, monetary, rfm_score, segment)
EXPECTED_RFM = [
    ("c1", 0, 4, 40.0, "444", "champions"),
    ("c2", 1, 1, 5.0, "311", "promising"),
    ("c3", 6, 2, 30.0, "123", "hibernating"),
    ("c4", 4, 3, 12.0, "232", "at_risk"),
]


def _metrics_rows() -> list[tuple[str, str, float]]:
    """l1: 14 days from Sat 2018-09-01, 100 on weekdays and 200 at weekends, each day in two
    rows (a SummingMergeTree sums them); l2: 50 on Fri 09-14 only."""
    rows = []
    for offset in range(14):
        day = dt.date(2018, 9, 1) + dt.timedelta(days=offset)
        revenue = 200 if day.weekday() >= 5 else 100
        rows += [(day.isoformat(), "l1", revenue * 0.6), (day.isoformat(), "l1", revenue * 0.4)]
    return [*rows, ("2018-09-14", "l2", 50.0)]


@pytest.fixture(scope="module")
def stack(
    orch_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dg.Definitions]:
    with fresh_stack(tmp_path_factory.mktemp("pyassets")) as defs:
        command("create database if not exists marts")
        command(ORDERS_DDL)
        command(METRICS_DDL)
        values = ", ".join(
            f"('{o}', '{c}', 'l1', {total}, '{day} 12:00:00', '{day}')"
            for o, c, total, day in ORDERS
        )
        command(f"insert into marts.orders values {values}")
        values = ", ".join(f"('{d}', '{loc}', {rev})" for d, loc, rev in _metrics_rows())
        command(f"insert into marts.daily_location_metrics values {values}")
        yield defs


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def test_assets_follow_the_marts_in_one_graph(stack: dg.Definitions) -> None:
    graph = stack.get_repository_def().asset_graph
    assert graph.get(RFM).parent_keys == {dg.AssetKey(["marts", "orders"])}
    assert graph.get(FORECAST).parent_keys == {dg.AssetKey(["marts", "daily_location_metrics"])}
    mart = graph.get(dg.AssetKey(["marts", "customers"]))
    for key in (RFM, FORECAST):
        node = graph.get(key)
        assert node.group_name == "analytics" and "clickhouse" in node.kinds
        assert node.automation_condition is not None
        assert node.freshness_policy is not None
        assert node.owners == mart.owners
        assert {c.name for c in node.check_keys}


def test_materialize_writes_declared_tables_with_exact_rows(stack: dg.Definitions) -> None:
    config = {
        "ops": {
            "analytics__location_revenue_forecast": {
                "config": {"horizon_days": 3, "history_weeks": 1}
            }
        }
    }
    with dg.instance_for_test() as instance:
        result = run_assets(stack, instance, [RFM, FORECAST], config)
        assert result.success
        assert _checks(result) == {
            "one_row_per_customer": True,
            "scores_and_segments_valid": True,
            "one_row_per_location_day": True,
            "forecast_not_negative": True,
        }
        metadata = {
            e.asset_key: e.materialization.metadata
            for e in result.get_asset_materialization_events()
        }

    engines = dict(
        query("select name, engine_full from system.tables where database = 'analytics'")
    )
    assert engines["customer_rfm"].startswith("MergeTree ORDER BY (segment, customer_id)")
    assert engines["location_revenue_forecast"].startswith(
        "MergeTree ORDER BY (location_id, forecast_date)"
    )
    rows = query(
        "select customer_id, recency_days, frequency, monetary, rfm_score, segment"
        " from analytics.customer_rfm order by customer_id"
    )
    assert [tuple(r) for r in rows] == EXPECTED_RFM
    rows = query(
        "select location_id, toString(forecast_date), revenue_forecast, basis_days,"
        " toString(as_of_date) from analytics.location_revenue_forecast"
        " order by location_id, forecast_date"
    )
    assert [tuple(r) for r in rows] == [
        ("l1", "2018-09-15", 200.0, 1, "2018-09-14"),
        ("l1", "2018-09-16", 200.0, 1, "2018-09-14"),
        ("l1", "2018-09-17", 100.0, 1, "2018-09-14"),
        ("l2", "2018-09-15", 50.0, 1, "2018-09-14"),
        ("l2", "2018-09-16", 50.0, 1, "2018-09-14"),
        ("l2", "2018-09-17", 50.0, 1, "2018-09-14"),
    ]

    rfm = metadata[RFM]
    assert rfm["dagster/row_count"].value == 4
    assert rfm["dagster/table_name"].value == "analytics.customer_rfm"
    types = {c.name: c.type for c in rfm["dagster/column_schema"].schema.columns}
    assert types["segment"] == "LowCardinality(String)"
    assert types["last_ordered_at"] == "DateTime64(6, 'UTC')"
    assert rfm["segment/champions"].value == 1
    assert metadata[FORECAST]["dagster/row_count"].value == 6
    assert metadata[FORECAST]["horizon_days"].value == 3


def test_rerun_replaces_the_table(stack: dg.Definitions) -> None:
    with dg.instance_for_test() as instance:
        assert run_assets(stack, instance, [FORECAST]).success  # default horizon: 14 days
    assert query("select count() from analytics.location_revenue_forecast")[0][0] == 2 * 14
    tables = {r[0] for r in query("select name from system.tables where database = 'analytics'")}
    assert tables == {"customer_rfm", "location_revenue_forecast"}  # no staging table left


def test_checks_fail_when_they_should(stack: dg.Definitions) -> None:
    # a duplicate customer in the stored result: the check alone, in a run of its own
    command("insert into analytics.customer_rfm select * from analytics.customer_rfm limit 1")
    check = dg.AssetCheckKey(RFM, "one_row_per_customer")
    job = stack.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection=set(), asset_check_selection={check}
    )
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert _checks(result) == {"one_row_per_customer": False}

    # a refund larger than a day's sales: a negative forecast, a blocking check failure
    command("insert into marts.daily_location_metrics values ('2018-09-14', 'l3', -30)")
    with dg.instance_for_test() as instance:
        result = run_assets(stack, instance, [FORECAST])
    assert _checks(result) == {"one_row_per_location_day": True, "forecast_not_negative": False}
    assert not result.success
    command("alter table marts.daily_location_metrics delete where location_id = 'l3'")


def test_rfm_scores_are_quartiles_and_ties_share_the_higher() -> None:
    assert list(quartile_scores(pd.Series([1, 2, 3, 4]))) == [1, 2, 3, 4]
    assert list(quartile_scores(pd.Series([5, 5, 1]))) == [4, 4, 2]
    assert list(quartile_scores(pd.Series([7]))) == [4]
    frame = pd.DataFrame(
        {
            "customer_id": ["b", "a"],
            "last_ordered_at": pd.to_datetime(["2018-09-01 10:00", "2018-09-03 09:00"]),
            "frequency": [1, 3],
            "monetary": [5.0, 20.0],
        }
    )
    out = rfm_segments(frame)
    assert list(out["customer_id"]) == ["a", "b"]
    assert list(out["recency_days"]) == [0, 2]
    assert list(out["segment"]) == ["champions", "hibernating"]


def test_forecast_of_no_data_is_empty() -> None:
    empty = pd.DataFrame({"metric_date": [], "location_id": [], "revenue": []})
    assert forecast_revenue(empty, horizon_days=3, history_weeks=1).empty


def test_declared_table_rejects_what_it_cannot_create() -> None:
    with pytest.raises(ValueError, match="not a ClickHouse type"):
        DeclaredTable((("a", "String; drop table x"),), "MergeTree", ("a",))
    with pytest.raises(ValueError, match="order_by column 'b'"):
        DeclaredTable((("a", "String"),), "MergeTree", ("b",))
    with pytest.raises(ValueError, match="engine 'Log'"):
        DeclaredTable((("a", "String"),), "Log", ("a",))
