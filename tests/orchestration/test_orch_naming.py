"""Pure functions of the key/group policy and the small builders around it."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest
from dagster_clickhouse import ClickhouseResource

from ingestion.readers import file_day
from orchestration.defs import naming
from orchestration.defs.clickhouse import Relation, duplicate_keys_sql, final_count_sql, utc_text
from orchestration.defs.partitions import window_env
from orchestration.defs.quality.clickhouse_checks import replacing_key
from orchestration.defs.resources import clickhouse_resource


def _model(fqn: list[str], resource_type: str = "model") -> dict:
    return {"resource_type": resource_type, "name": fqn[-1], "fqn": fqn}


def test_raw_table_key_follows_contract() -> None:
    assert naming.raw_table_key("jaffle_shop", "orders") == dg.AssetKey(
        ["raw", "jaffle_shop", "orders"]
    )


def test_model_key_and_group_come_from_first_folder() -> None:
    props = _model(["jaffle_shop", "staging", "jaffle_shop", "stg_jaffle_shop__orders"])
    assert naming.dbt_asset_key(props) == dg.AssetKey(["staging", "stg_jaffle_shop__orders"])
    assert naming.dbt_group(props) == "staging"
    assert naming.dbt_asset_key(_model(["p", "marts", "orders"])) == dg.AssetKey(
        ["marts", "orders"]
    )


def test_seed_and_snapshot_keys() -> None:
    assert naming.dbt_asset_key(_model(["p", "raw_codes"], "seed")) == dg.AssetKey(
        ["seeds", "raw_codes"]
    )
    assert naming.dbt_group(_model(["p", "snap", "s"], "snapshot")) == "snapshots"


def test_source_resolves_to_dlt_key_with_or_without_meta() -> None:
    with_meta = {
        "resource_type": "source",
        "source_name": "jaffle_shop",
        "name": "orders",
        "meta": {"dagster": {"asset_key": ["raw", "jaffle_shop", "orders"]}},
    }
    without = {**with_meta, "meta": {}}
    config_meta = {**without, "config": {"meta": with_meta["meta"]}}
    expected = dg.AssetKey(["raw", "jaffle_shop", "orders"])
    assert naming.dbt_asset_key(with_meta) == expected
    assert naming.dbt_asset_key(without) == expected
    assert naming.dbt_asset_key(config_meta) == expected
    assert naming.dbt_group(without) == "jaffle_shop"


def test_owners_and_tags_are_made_valid() -> None:
    assert naming.owners("analytics") == ["team:analytics"]
    assert naming.owners(["a@b.io", "team:x"]) == ["a@b.io", "team:x"]
    assert naming.owners(None) == []
    assert naming.tags(["events", "pii"]) == {"events": "", "pii": ""}
    assert naming.valid_tags({"ok": "", "bad key": "", "elt/x": "v", "v": "no spaces"}) == {
        "ok": "",
        "elt/x": "v",
    }


def test_the_window_env_is_half_open_dates() -> None:
    window = dg.TimeWindow(
        dt.datetime(2018, 9, 3, tzinfo=dt.UTC), dt.datetime(2018, 9, 6, tzinfo=dt.UTC)
    )
    assert window_env(window) == {
        "ELT_WINDOW_START": "2018-09-03",
        "ELT_WINDOW_END": "2018-09-06",
    }


def test_replacing_key_from_dbt_config() -> None:
    assert replacing_key({"engine": "ReplacingMergeTree(_loaded_at)", "unique_key": "id"}) == (
        "id",
    )
    assert replacing_key({"engine": "ReplacingMergeTree", "order_by": "(a, b)"}) == ("a", "b")
    assert replacing_key({"engine": "MergeTree", "unique_key": "id"}) == ()
    assert replacing_key({"unique_key": ["a", "b"], "engine": "ReplacingMergeTree"}) == ("a", "b")


def test_duplicate_keys_sql_reads_final_and_rejects_bad_identifiers() -> None:
    sql = duplicate_keys_sql(Relation("marts", "orders"), ["order_id"])
    assert sql == "select count() - uniqExact(tuple(`order_id`)) from `marts`.`orders` final"
    with pytest.raises(ValueError):
        Relation("marts", "orders; drop table x")
    with pytest.raises(ValueError):
        duplicate_keys_sql(Relation("marts", "orders"), ["id`"])


def test_file_day() -> None:
    """The one date-in-a-file-name rule (the loader's window and the landing sensor use it)."""
    assert file_day("jaffle_shop/orders/2018-09-05.csv") == dt.date(2018, 9, 5)
    assert file_day("jaffle_shop/customers/customers.csv") is None
    assert file_day("jaffle_shop/orders/2018-13-45.csv") is None


def test_multi_parent_tests_attach_to_the_parent_built_last() -> None:
    from orchestration.defs.transform.project import Manifest

    def model(name: str, parents: list[str]) -> dict:
        return {
            "resource_type": "model",
            "name": name,
            "package_name": "p",
            "depends_on": {"nodes": [f"model.p.{x}" for x in parents]},
        }

    nodes = {
        "model.p.stg": model("stg", []),
        "model.p.orders": model("orders", ["stg"]),
        "model.p.customers": model("customers", ["orders"]),
        "test.p.rel": {
            "resource_type": "test",
            "name": "rel",
            "depends_on": {"nodes": ["model.p.orders", "model.p.customers"]},
            "config": {},
        },
        "test.p.unique": {
            "resource_type": "test",
            "name": "unique",
            "depends_on": {"nodes": ["model.p.orders"]},
            "config": {},
        },
    }
    manifest = Manifest({"nodes": nodes, "sources": {}})
    assert manifest.attach_tests_to_last_parent() == 1
    assert nodes["test.p.rel"]["config"]["meta"]["dagster"]["ref"] == {
        "name": "customers",
        "package": "p",
    }
    assert "meta" not in nodes["test.p.unique"]["config"]


def test_failed_nodes_ignores_other_steps_tests() -> None:
    from orchestration.defs.transform.assets import failed_nodes

    results = {
        "results": [
            {"unique_id": "model.p.orders", "status": "success"},
            {"unique_id": "model.p.broken", "status": "error"},
            {"unique_id": "test.p.mine", "status": "fail"},
            {"unique_id": "test.p.other_step", "status": "error"},
            {"unique_id": "test.p.ok", "status": "pass"},
        ]
    }
    assert failed_nodes(results, {"test.p.mine", "test.p.ok"}) == [
        "model.p.broken",
        "test.p.mine",
    ]


def test_clickhouse_resource_reads_the_environment_when_it_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("CLICKHOUSE_HOST", "CLICKHOUSE_TCP_PORT", "CLICKHOUSE_USER", "CLICKHOUSE_SECURE"):
        monkeypatch.delenv(name, raising=False)
    assert (clickhouse_resource().host, clickhouse_resource().port) == ("127.0.0.1", 9000)

    monkeypatch.setenv("CLICKHOUSE_HOST", "ch.internal")
    monkeypatch.setenv("CLICKHOUSE_TCP_PORT", "19440")
    monkeypatch.setenv("CLICKHOUSE_USER", "dagster")
    monkeypatch.setenv("CLICKHOUSE_SECURE", "true")
    seen = {}

    @dg.asset
    def probe(clickhouse: ClickhouseResource) -> None:
        seen.update(
            host=clickhouse.host,
            port=clickhouse.port,
            user=clickhouse.user,
            secure=clickhouse.secure,
            database=clickhouse.database,
        )

    resource = clickhouse_resource()
    assert isinstance(resource.host, dg.EnvVar)  # the UI shows where the value comes from
    assert dg.materialize([probe], resources={"clickhouse": resource}).success
    assert seen == {
        "host": "ch.internal",
        "port": 19440,
        "user": "dagster",
        "secure": True,
        "database": "default",
    }


def test_window_bounds_are_sent_as_utc_text_with_microseconds() -> None:
    plus2 = dt.timezone(dt.timedelta(hours=2))
    assert utc_text(dt.datetime(2024, 1, 2, 1, 0, 0, 5, tzinfo=plus2)) == (
        "2024-01-01 23:00:00.000005"
    )
    with pytest.raises(ValueError, match="no time zone"):
        utc_text(dt.datetime(2024, 1, 1))
    sql = final_count_sql(Relation("raw", "s___events"), "happened_at")
    assert "toDateTime64(%(start)s, 6, 'UTC')" in sql and "`happened_at` <" in sql
