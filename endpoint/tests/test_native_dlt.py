"""A dlt `merge` pipeline into the endpoint: dlt runs its SQL through clickhouse-driver (native
protocol) and loads files through clickhouse-connect (HTTP)."""

from __future__ import annotations

import pytest
from clickhouse_driver import Client

pytestmark = pytest.mark.integration


def test_dlt_merge_pipeline_is_idempotent(warehouse, db, tmp_path) -> None:
    import dlt

    credentials = {
        "host": warehouse.host,
        "port": warehouse.tcp_port,
        "http_port": warehouse.http_port,
        "username": "default",
        "password": "",
        "database": db,
        "secure": 0,
    }

    @dlt.resource(name="customers", primary_key="id", write_disposition="merge")
    def customers(rows: list[dict]):
        yield rows

    def run(rows: list[dict]) -> None:
        pipeline = dlt.pipeline(
            pipeline_name=f"native_merge_{db}",
            destination=dlt.destinations.clickhouse(credentials=credentials),
            dataset_name="shop",
            pipelines_dir=str(tmp_path / "dlt"),
        )
        info = pipeline.run(customers(rows))
        assert not info.has_failed_jobs

    first = [{"id": 1, "name": "ada"}, {"id": 2, "name": "bob"}]
    second = [{"id": 2, "name": "bobby"}, {"id": 3, "name": "cy"}]
    run(first)
    run(second)
    run(second)  # again: nothing changes

    native = Client(warehouse.host, port=warehouse.tcp_port)
    try:
        rows = native.execute(f"SELECT id, name FROM {db}.shop___customers ORDER BY id")
        loads = native.execute(f"SELECT count() FROM {db}.shop____dlt_loads")
    finally:
        native.disconnect()
    assert rows == [(1, "ada"), (2, "bobby"), (3, "cy")]
    assert loads == [(3,)]
