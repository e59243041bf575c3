"""Issue 4 acceptance against the local ClickHouse endpoint (and Postgres, and a local S3).

Each test loads its own source name (a copy of the Jaffle Shop YAMLs), so its raw tables
(`raw.<source>___<table>`) are its own inside the session's endpoint.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow.csv as pa_csv
import pytest
from ingestion_helpers import JAFFLE_UNTIL, copy_jaffle_schemas, write_yaml

from ingestion.landing import publish
from ingestion.pipeline import daily_window, make_pipeline, run_source
from ingestion.schema import load_schemas

pytestmark = [pytest.mark.integration, pytest.mark.example]  # uses the shipped Jaffle Shop example

TABLES = ["customers", "items", "orders", "products", "stores", "supplies", "tweets"]


@pytest.fixture
def ch(warehouse):
    from core.clickhouse import clickhouse_client

    client = clickhouse_client()
    yield client
    client.close()


def _run(source: str, schemas_dir: Path, landing: Path, tmp_path: Path, **kwargs):
    pipeline = make_pipeline(source, pipelines_dir=tmp_path / "dlt", window=kwargs.get("window"))
    return run_source(
        source, schemas=load_schemas(schemas_dir), landing_dir=landing, pipeline=pipeline, **kwargs
    )


def _file_rows(landing: Path, table: str, name: str = "*.csv") -> int:
    return sum(pa_csv.read_csv(p).num_rows for p in (landing / "jaffle_shop" / table).glob(name))


def _count(ch, source: str, table: str, final: bool = True) -> int:
    suffix = " FINAL" if final else ""
    return int(ch.command(f"SELECT count() FROM raw.`{source}___{table}`{suffix}"))


def test_every_jaffle_table_lands_with_declared_layout_and_exact_counts(
    ch, jaffle_landing: Path, tmp_path: Path
) -> None:
    source = "jaffle_layout"
    schemas = copy_jaffle_schemas(tmp_path / "schemas", source)
    result = _run(source, schemas, jaffle_landing, tmp_path)
    assert result.rejected_total == 0
    rows = ch.query(
        "SELECT name, engine, engine_full, sorting_key, partition_key FROM system.tables "
        "WHERE database = 'raw' AND name LIKE {p:String}",
        parameters={"p": f"{source}\\_\\_\\_%"},
    ).result_rows
    tables = {r[0]: r for r in rows}
    for table in TABLES:
        name, engine, engine_full, sorting_key, partition_key = tables[f"{source}___{table}"]
        assert engine == "ReplacingMergeTree", name
        assert "ReplacingMergeTree(_ingested_at)" in engine_full, engine_full
        expected_sort = (
            "id, sku" if table == "supplies" else ("sku" if table == "products" else "id")
        )
        assert sorting_key.strip("()") == expected_sort, name
        expected_partition = "toYYYYMM(ordered_at)" if table in ("orders", "items") else ""
        assert partition_key == expected_partition, name
        expected = _file_rows(jaffle_landing, table)
        assert result.row_counts[table] == expected, table
        assert _count(ch, source, table) == expected, table
        assert _count(ch, source, table, final=False) == expected, table
    create = ch.command(f"SHOW CREATE TABLE raw.{source}___orders")
    assert "PARTITION BY toYYYYMM(ordered_at)" in create and "ORDER BY id" in create
    types = dict(
        ch.query(
            "SELECT name, type FROM system.columns WHERE database = 'raw' AND table = {t:String}",
            parameters={"t": f"{source}___stores"},
        ).result_rows
    )
    assert types["id"] == "UUID" and types["tax_rate"] == "Nullable(Decimal(6, 4))"
    assert types["opened_at"] == "Nullable(DateTime64(6, 'UTC'))"

    # the same files again: nothing is loaded twice
    again = _run(source, schemas, jaffle_landing, tmp_path)
    assert sum(again.row_counts.values()) == 0
    for table in TABLES:
        assert _count(ch, source, table, final=False) == _file_rows(jaffle_landing, table)


def test_incremental_newer_file_loads_only_new_rows(
    ch, jaffle_landing: Path, jaffle_raw_dir: Path, tmp_path: Path
) -> None:
    source = "jaffle_incr"
    schemas = copy_jaffle_schemas(tmp_path / "schemas", source)
    _run(source, schemas, jaffle_landing, tmp_path, tables=["orders", "items"])
    before = {t: _count(ch, source, t) for t in ("orders", "items")}
    next_day = dt.date.fromisoformat(JAFFLE_UNTIL) + dt.timedelta(days=1)
    publish(jaffle_raw_dir, jaffle_landing, next_day)
    result = _run(source, schemas, jaffle_landing, tmp_path, tables=["orders", "items"])
    for table in ("orders", "items"):
        new_rows = _file_rows(jaffle_landing, table, f"{next_day}.csv")
        assert new_rows > 0
        assert result.row_counts[table] == new_rows
        assert result.files_read[table] == 1
        assert _count(ch, source, table) == before[table] + new_rows
        assert _count(ch, source, table, final=False) == before[table] + new_rows


@pytest.mark.parametrize("strategy", ["engine", "delete-insert"])
def test_merge_updated_rows_replace_old_ones(
    ch, jaffle_landing: Path, tmp_path: Path, strategy: str
) -> None:
    source = f"jaffle_merge_{strategy.replace('-', '_')}"
    schemas = copy_jaffle_schemas(tmp_path / "schemas", source)
    yml = schemas / source / "customers.yml"
    yml.write_text(yml.read_text() + f"merge_strategy: {strategy}\n")
    _run(source, schemas, jaffle_landing, tmp_path, tables=["customers", "products"])
    path = jaffle_landing / "jaffle_shop" / "customers" / "customers.csv"
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    target = rows[0]["id"]
    rows[0]["name"] = "Renamed Customer"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "name"])
        writer.writeheader()
        writer.writerows(rows)
    result = _run(source, schemas, jaffle_landing, tmp_path, tables=["customers", "products"])
    assert result.row_counts == {"customers": len(rows), "products": 0}
    assert _count(ch, source, "customers") == len(rows)
    if strategy == "delete-insert":  # exact without FINAL
        assert _count(ch, source, "customers", final=False) == len(rows)
    else:  # the new versions sit next to the old ones until a background merge
        assert _count(ch, source, "customers", final=False) == 2 * len(rows)
    name = ch.command(
        f"SELECT name FROM raw.{source}___customers FINAL WHERE id = {{i:UUID}}",
        parameters={"i": target},
    )
    assert name == "Renamed Customer"


def test_sigkill_mid_load_then_rerun_ends_with_exactly_the_source_rows(
    ch, jaffle_raw_dir: Path, tmp_path: Path
) -> None:
    source = "jaffle_kill"
    schemas = copy_jaffle_schemas(tmp_path / "schemas", source)
    landing = tmp_path / "landing"
    publish(jaffle_raw_dir, landing, dt.date(2018, 11, 30))  # three months: a longer load
    dlt_dir = tmp_path / "dlt"
    script = textwrap.dedent(
        f"""
        from ingestion.pipeline import make_pipeline, run_source
        from ingestion.schema import load_schemas
        run_source({source!r}, schemas=load_schemas({str(schemas)!r}), landing_dir={str(landing)!r},
                   pipeline=make_pipeline({source!r}, pipelines_dir={str(dlt_dir)!r}))
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], env=os.environ.copy())
    packages = dlt_dir / f"elt_{source}" / "load" / "normalized"
    deadline = time.monotonic() + 300
    killed = False
    while time.monotonic() < deadline and child.poll() is None:
        if any(packages.glob("*/completed_jobs/*")):
            child.send_signal(signal.SIGKILL)
            killed = True
            break
        time.sleep(0.005)
    child.wait(timeout=60)
    assert killed and child.returncode == -signal.SIGKILL, "the load finished before the kill"
    assert any(packages.iterdir()), "the interrupted load package is left to finish"

    result = _run(source, schemas, landing, tmp_path)
    for table in TABLES:
        expected = _file_rows(landing, table)
        assert _count(ch, source, table) == expected, table
        # the report counts the rows of the package this run completed (not rows: 0), each
        # once even when a job the kill interrupted was loaded again
        assert result.row_counts[table] == expected, table
    assert len(result.resumed_packages) == 1
    assert not any(packages.glob("*/new_jobs/*"))


BAD_CUSTOMERS = """\
id,name
73ae1a6e-2f80-45a6-bb10-4f80ec8d3bbc,Good One
not-a-uuid,Bad Id
,No Id
03ead93c-7208-4892-915d-6062725019c7,Good Two
"""


def test_bad_rows_are_counted_and_kept_in_the_rejected_table(ch, tmp_path: Path) -> None:
    source = "jaffle_bad"
    schemas = copy_jaffle_schemas(tmp_path / "schemas", source)
    landing = tmp_path / "landing"
    (landing / "jaffle_shop" / "customers").mkdir(parents=True)
    (landing / "jaffle_shop" / "customers" / "customers.csv").write_text(BAD_CUSTOMERS)
    result = _run(source, schemas, landing, tmp_path, tables=["customers"])
    assert result.rejected == {"customers": 2}
    assert result.row_counts == {"customers": 2}
    assert result.rejected_loaded == 2
    assert _count(ch, source, "customers") == 2
    rejected = ch.query(
        f"SELECT table_name, row_number, reason, raw_row FROM raw.`{source}____rejected_rows` "
        "FINAL ORDER BY row_number"
    ).result_rows
    assert [(r[0], r[1]) for r in rejected] == [("customers", 3), ("customers", 4)]  # lines
    assert "uuid" in rejected[0][2] and "not-a-uuid" in rejected[0][3]
    assert "null in a non-nullable column" in rejected[1][2]


def test_schema_drift_evolves_or_fails_naming_the_column(ch, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    folder = landing / "jaffle_shop" / "customers"
    folder.mkdir(parents=True)
    (folder / "customers.csv").write_text(
        "id,name,email\n73ae1a6e-2f80-45a6-bb10-4f80ec8d3bbc,Ann,ann@example.com\n"
    )
    evolve = copy_jaffle_schemas(tmp_path / "evolve", "drift_evolve")
    result = _run("drift_evolve", evolve, landing, tmp_path / "e", tables=["customers"])
    assert result.new_columns["customers"] == ["email"]
    email = ch.command("SELECT email FROM raw.drift_evolve___customers FINAL")
    assert email == "ann@example.com"

    strict = copy_jaffle_schemas(tmp_path / "fail", "drift_fail")
    yml = strict / "drift_fail" / "customers.yml"
    yml.write_text(yml.read_text().replace("new_columns: evolve", "new_columns: fail"))
    with pytest.raises(Exception, match="'email'") as info:
        _run("drift_fail", strict, landing, tmp_path / "f", tables=["customers"])
    assert "contract.new_columns: fail" in str(info.value)
    assert _count(ch, "drift_fail", "customers") == 0


def test_daily_window_loads_only_that_day(ch, jaffle_landing: Path, tmp_path: Path) -> None:
    source = "jaffle_window"
    schemas = copy_jaffle_schemas(tmp_path / "schemas", source)
    day = dt.date(2018, 9, 3)
    result = _run(
        source,
        schemas,
        jaffle_landing,
        tmp_path,
        tables=["orders", "items"],
        window=daily_window(day),
    )
    for table in ("orders", "items"):
        expected = _file_rows(jaffle_landing, table, f"{day}.csv")
        assert result.row_counts[table] == expected
        assert _count(ch, source, table) == expected
    # re-running the same partition is idempotent
    _run(source, schemas, jaffle_landing, tmp_path, tables=["orders"], window=daily_window(day))
    assert _count(ch, source, "orders") == _file_rows(jaffle_landing, "orders", f"{day}.csv")


SQL_YAML = """\
name: payments
description: Payments from the shop's Postgres database.
sql:
  url_env: ELT_TEST_SHOP_DB_URL
  schema: public
  table: payments
  chunk_size: 500
columns:
  - name: id
    type: int64
  - name: amount
    type: decimal(10, 2)
  - name: method
    type: string
  - name: updated_at
    type: timestamp
primary_key: [id]
incremental:
  cursor: updated_at
  initial_value: "2020-01-01T00:00:00"
write_disposition: merge
"""


def test_sql_source_from_postgres(ch, postgres_url: str, tmp_path: Path, monkeypatch) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE public.payments (id bigint primary key, amount numeric(10, 2), "
                "method text, updated_at timestamp not null)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO public.payments SELECT g, g * 1.25, 'card', "
                "timestamp '2020-01-01 00:00:00' + g * interval '1 minute' "
                "FROM generate_series(1, 1200) g"
            )
        )
    monkeypatch.setenv("ELT_TEST_SHOP_DB_URL", postgres_url)
    schemas = tmp_path / "schemas"
    write_yaml(schemas, "shop_sql", "payments", SQL_YAML)
    first = _run("shop_sql", schemas, tmp_path, tmp_path)
    assert first.row_counts == {"payments": 1200}
    assert _count(ch, "shop_sql", "payments") == 1200
    total = ch.command("SELECT sum(amount) FROM raw.shop_sql___payments FINAL")
    assert float(total) == pytest.approx(sum(g * 1.25 for g in range(1, 1201)))
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO public.payments VALUES (1201, 9.99, 'cash', '2021-01-01 00:00:00')"
            )
        )
        conn.execute(
            sa.text(
                "UPDATE public.payments SET method = 'refund', updated_at = '2021-01-02 00:00:00' "
                "WHERE id = 7"
            )
        )
    second = _run("shop_sql", schemas, tmp_path, tmp_path)
    assert second.row_counts == {"payments": 2}
    assert _count(ch, "shop_sql", "payments") == 1201
    assert ch.command("SELECT method FROM raw.shop_sql___payments FINAL WHERE id = 7") == "refund"
    engine.dispose()


def test_s3_files_from_a_local_s3_server(ch, jaffle_landing: Path, tmp_path: Path, monkeypatch):
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        for key, value in {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            monkeypatch.setenv(key, value)
        s3 = boto3.client("s3", endpoint_url=endpoint)
        s3.create_bucket(Bucket="landing")
        for path in sorted((jaffle_landing / "jaffle_shop" / "orders").glob("*.csv"))[:5]:
            s3.upload_file(str(path), "landing", f"shop/orders/{path.name}")
        schemas = copy_jaffle_schemas(tmp_path / "schemas", "jaffle_s3")
        yml = schemas / "jaffle_s3" / "orders.yml"
        yml.write_text(
            yml.read_text().replace(
                "path: jaffle_shop/orders/*.csv", "path: s3://landing/shop/orders/*.csv"
            )
        )
        result = _run("jaffle_s3", schemas, jaffle_landing, tmp_path, tables=["orders"])
        expected = sum(
            pa_csv.read_csv(p).num_rows
            for p in sorted((jaffle_landing / "jaffle_shop" / "orders").glob("*.csv"))[:5]
        )
        assert result.files_read == {"orders": 5}
        assert result.row_counts == {"orders": expected}
        assert _count(ch, "jaffle_s3", "orders") == expected
    finally:
        server.stop()
