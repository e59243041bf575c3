"""A dlt `merge` pipeline into the endpoint (SQL over native TCP, file loads over HTTP), twice."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _pipeline(warehouse, tmp_path: Path, database: str, dataset: str):
    import dlt

    destination = dlt.destinations.clickhouse(
        credentials={
            "host": warehouse.host,
            "port": warehouse.tcp_port,
            "http_port": warehouse.http_port,
            "username": "default",
            "password": "",
            "database": database,
            "secure": 0,
        },
        dataset_table_separator="___",
    )
    return dlt.pipeline(
        pipeline_name=f"compat_{database}",
        destination=destination,
        dataset_name=dataset,
        pipelines_dir=str(tmp_path / "dlt"),
    )


@pytest.mark.parametrize("file_format", ["jsonl", "parquet"])
def test_dlt_merge_twice(warehouse, ch, tmp_path: Path, file_format: str) -> None:
    assert warehouse.tcp_port, "dlt's ClickHouse destination needs the native TCP server"
    import dlt

    database = f"dlt_{uuid.uuid4().hex[:8]}"
    dataset = "shop"
    ch.command(f"CREATE DATABASE {database}")

    def customers(rows: list[dict]):
        @dlt.resource(name="customers", primary_key="id", write_disposition="merge")
        def resource():
            yield rows

        return resource

    first = [
        {"id": 1, "name": "Ada", "score": 1.5},
        {"id": 2, "name": "Brian", "score": 2.0},
        {"id": 3, "name": "Chen", "score": 3.25},
    ]
    second = [
        {"id": 2, "name": "Brian B.", "score": 20.0},  # updated
        {"id": 4, "name": "Dana", "score": 4.0},  # new
    ]
    try:
        pipeline = _pipeline(warehouse, tmp_path, database, dataset)
        info = pipeline.run(customers(first)(), loader_file_format=file_format)
        assert not info.has_failed_jobs
        info = pipeline.run(customers(second)(), loader_file_format=file_format)
        assert not info.has_failed_jobs
        # the same second load again changes nothing (idempotent)
        info = pipeline.run(customers(second)(), loader_file_format=file_format)
        assert not info.has_failed_jobs
        table = f"`{dataset}___customers`"
        rows = ch.query(f"SELECT id, name, score FROM {database}.{table} ORDER BY id")
        assert rows.result_rows == [
            (1, "Ada", 1.5),
            (2, "Brian B.", 20.0),
            (3, "Chen", 3.25),
            (4, "Dana", 4.0),
        ]
        with pipeline.sql_client() as client:
            assert client.execute_sql(f"SELECT count() FROM {table}") == [(4,)]
    finally:
        ch.command(f"DROP DATABASE IF EXISTS {database}")
