"""About the shipped example: its schema YAMLs load with the values the example relies on."""

from __future__ import annotations

import datetime as dt

import pytest

from ingestion.schema import load_schemas, source_schedule

pytestmark = pytest.mark.example  # the shipped Jaffle Shop example

JAFFLE = {"customers", "orders", "items", "products", "stores", "supplies", "tweets"}


def test_shipped_jaffle_schemas_are_valid() -> None:
    """About the shipped example: its YAMLs load with the values the example relies on."""
    specs = load_schemas()
    jaffle = {s.name: s for s in specs if s.source == "jaffle_shop"}
    assert set(jaffle) == JAFFLE
    orders = jaffle["orders"]
    assert orders.raw_table == "jaffle_shop___orders"
    assert orders.asset_key == ["raw", "jaffle_shop", "orders"]
    assert orders.cursor == "ordered_at"
    assert orders.resolved_write_disposition == "merge"
    assert orders.clickhouse.partition_by == "toYYYYMM(ordered_at)"
    assert orders.daily_partitioned and jaffle["items"].daily_partitioned
    assert orders.partitioning.column == "ordered_at"
    assert orders.partitioning.start == dt.date(2018, 9, 1)
    assert "ordered_at" in {c.name for c in jaffle["items"].columns}
    assert jaffle["supplies"].primary_key == ["id", "sku"]
    assert jaffle["tweets"].resolved_write_disposition == "append"
    assert not jaffle["customers"].daily_partitioned
    assert orders.freshness.max_lag_delta == dt.timedelta(hours=26)
    assert source_schedule(specs, "jaffle_shop") == "0 6 * * *"
    # key columns are never nullable, others are by default
    assert not orders.is_nullable(orders.column("id"))
    assert not orders.is_nullable(orders.column("ordered_at"))
    assert orders.is_nullable(orders.column("customer"))
