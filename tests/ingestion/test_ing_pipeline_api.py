"""The pipeline API other code builds on (no warehouse needed: nothing connects at build time)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ingestion_helpers import FIXTURE_SCHEMAS, copy_fixture_schemas, write_yaml

from ingestion.ddl import create_rejected_table_sql, create_table_sql
from ingestion.layout import clickhouse_hints, engine_clause
from ingestion.pipeline import (
    build_source,
    daily_window,
    default_pipeline_name,
    destination,
    loader_user,
    make_pipeline,
)
from ingestion.schema import load_schemas, parse_table_file, validate_dir


def _orders():
    return next(s for s in load_schemas(FIXTURE_SCHEMAS) if s.name == "orders")


def test_build_source_and_pipeline_touch_no_network(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CLICKHOUSE_HOST", "203.0.113.1")  # unroutable: a connection would hang
    specs = load_schemas(FIXTURE_SCHEMAS)
    source = build_source("fixture_shop", specs, tmp_path / "none", tables=["orders", "stock"])
    assert sorted(source.resources) == ["orders", "stock"]
    day = daily_window(dt.date(2018, 9, 3))
    assert day == (
        dt.datetime(2018, 9, 3, tzinfo=dt.UTC),
        dt.datetime(2018, 9, 4, tzinfo=dt.UTC),
    )
    pipeline = make_pipeline(
        "jaffle_shop", pipeline_name="jaffle_shop__daily", pipelines_dir=tmp_path / "dlt"
    )
    assert pipeline.pipeline_name == "jaffle_shop__daily"
    assert pipeline.dataset_name == "jaffle_shop"
    assert default_pipeline_name("jaffle_shop", day) == "elt_jaffle_shop_20180903"
    assert default_pipeline_name("jaffle_shop") == "elt_jaffle_shop"


def test_loader_credentials_win_when_set(monkeypatch) -> None:
    monkeypatch.setenv("CLICKHOUSE_USER", "transformer")
    monkeypatch.setenv("CLICKHOUSE_PASSWORD", "t-secret")
    monkeypatch.delenv("CLICKHOUSE_LOADER_USER", raising=False)
    assert loader_user() == ("transformer", "t-secret")
    monkeypatch.setenv("CLICKHOUSE_LOADER_USER", "loader")
    monkeypatch.setenv("CLICKHOUSE_LOADER_PASSWORD", "l-secret")
    assert loader_user() == ("loader", "l-secret")
    monkeypatch.setenv("CLICKHOUSE_HTTP_PORT", "18123")
    monkeypatch.setenv("CLICKHOUSE_TCP_PORT", "19000")
    credentials = destination().config_params["credentials"]
    assert credentials.username == "loader" and credentials.password == "l-secret"
    assert credentials.port == 19000 and credentials.http_port == 18123
    assert credentials.secure == 0 and credentials.database == "raw"


def test_cluster_mode_uses_replicated_engines() -> None:
    orders = _orders()
    assert engine_clause(orders) == "ReplacingMergeTree(`_ingested_at`)"
    assert engine_clause(orders, replicated=True) == "ReplicatedReplacingMergeTree(`_ingested_at`)"
    assert "ENGINE = ReplicatedReplacingMergeTree" in create_table_sql(orders, "raw", True)
    assert "ReplicatedReplacingMergeTree(`rejected_at`)" in create_rejected_table_sql(
        "fixture_shop", "raw", replicated=True
    )
    assert clickhouse_hints(orders, replicated=True)["table_engine_type"] == "replicated_merge_tree"


def test_elt_schemas_dir_is_honoured(tmp_path: Path, monkeypatch) -> None:
    copy_fixture_schemas(tmp_path, "other_shop")
    monkeypatch.setenv("ELT_SCHEMAS_DIR", str(tmp_path))
    specs, errors = validate_dir()
    assert errors == [] and {s.source for s in specs} == {"other_shop"}


def test_fast_and_located_parsing_agree(tmp_path: Path) -> None:
    """The C-loader happy path returns the same spec the located (ruamel) path would."""
    from ingestion import schema

    path = copy_fixture_schemas(tmp_path, "s") / "s" / "orders.yml"
    fast = parse_table_file(path)
    slow_doc = schema._read_yaml(path)
    slow = schema.TableSpec.model_validate({**schema._plain(slow_doc), "source": "s", "path": path})
    assert fast == slow
    # a duplicate key is refused by the fast path and located by the slow one
    text = path.read_text() + "name: orders\n"
    bad = write_yaml(tmp_path, "s", "dup", text.replace("name: orders\n", "name: dup\n"))
    assert schema._fast_parse(bad, "s") is None


def test_parquet_goes_uncompressed_only_to_a_clickhouse_on_this_machine(monkeypatch) -> None:
    from ingestion.destination import _loopback_env

    for host in ("127.0.0.1", "localhost", "::1"):
        monkeypatch.setenv("CLICKHOUSE_HOST", host)
        assert _loopback_env() == {"DATA_WRITER__COMPRESSION": "none"}
    monkeypatch.setenv("CLICKHOUSE_HOST", "clickhouse.internal")
    assert _loopback_env() == {}
