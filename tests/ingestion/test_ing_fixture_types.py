"""The framework's fixture source loads into the local ClickHouse endpoint with the declared
low_cardinality and enum types (tests/fixtures/: composite key, no key, enum, LowCardinality)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from ingestion_helpers import FIXTURE_LANDING, FIXTURE_SCHEMAS

from ingestion.pipeline import make_pipeline, run_source
from ingestion.schema import load_schemas

pytestmark = pytest.mark.integration


@pytest.fixture
def ch(warehouse):
    from core.clickhouse import clickhouse_client

    client = clickhouse_client()
    yield client
    client.close()


def test_low_cardinality_and_enum_columns_load_with_their_types(ch, tmp_path: Path) -> None:
    source = "fixture_types"
    schemas = tmp_path / "schemas"
    shutil.copytree(FIXTURE_SCHEMAS / "fixture_shop", schemas / source)
    landing = tmp_path / "landing"
    for table in ("orders", "stock"):
        folder = landing / "fixture_shop" / table
        shutil.copytree(FIXTURE_LANDING / "fixture_shop" / table, folder)
    pipeline = make_pipeline(source, pipelines_dir=tmp_path / "dlt")
    result = run_source(
        source,
        schemas=load_schemas(schemas),
        landing_dir=landing,
        pipeline=pipeline,
        tables=["orders", "stock"],
    )
    assert result.row_counts == {"orders": 4, "stock": 3}
    types = dict(
        ch.query(
            "SELECT concat(table, '.', name), type FROM system.columns WHERE database = 'raw'"
            f" AND table IN ('{source}___orders', '{source}___stock')"
        ).result_rows
    )
    assert types[f"{source}___orders.status"] == (
        "Nullable(Enum8('placed' = 1, 'shipped' = 2, 'returned' = 3))"
    )
    assert types[f"{source}___stock.sku"] == "LowCardinality(String)"
    statuses = ch.query(
        f"SELECT order_id, status FROM raw.`{source}___orders` FINAL ORDER BY order_id"
    ).result_rows
    assert statuses == [(1, "placed"), (2, "shipped"), (3, "placed"), (4, "returned")]
    stock = ch.query(
        f"SELECT store_id, sku, level FROM raw.`{source}___stock` FINAL ORDER BY store_id, sku"
    ).result_rows
    assert stock == [(1, "BEV-001", 4), (1, "JAF-001", 10), (2, "JAF-001", 7)]
