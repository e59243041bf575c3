"""The code location loads; its asset keys, lineage, groups, kinds, jobs and automation.

The shipped example (the Jaffle Shop source and the marts built on it) is expected exactly; every
other source in ingestion/schemas/ is expected from its own YAMLs (a raw asset and a staging model
per table), so a team adding its first source keeps these tests green.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.freshness import CronFreshnessPolicy, TimeWindowFreshnessPolicy

from ingestion.schema import load_schemas
from orchestration.factory import build_definitions
from orchestration.inputs import ProjectPaths

pytestmark = pytest.mark.example  # uses the shipped Jaffle Shop example

EXAMPLE = "jaffle_shop"  # the shipped example source
FIXTURE_SCHEMAS = Path(__file__).resolve().parents[1] / "fixtures" / "schemas"
RAW = ["customers", "items", "orders", "products", "stores", "supplies", "tweets"]
EXAMPLE_KEYS = {
    *(f"raw/jaffle_shop/{t}" for t in RAW),
    *(f"staging/stg_jaffle_shop__{t}" for t in RAW),
    "intermediate/int_order_items_joined",
    "intermediate/int_products_with_supply_costs",
    "intermediate/int_supplies_aggregated_to_products",
    "marts/customers",
    "marts/daily_location_metrics",
    "marts/locations",
    "marts/order_items",
    "marts/orders",
    "marts/products",
    "marts/supplies",
    "analytics/customer_rfm",
    "analytics/location_revenue_forecast",
}
OTHER_SPECS = [s for s in load_schemas() if s.source != EXAMPLE]  # a team's own sources
OTHER_RAW = {f"raw/{s.source}/{s.name}" for s in OTHER_SPECS}
EXPECTED_KEYS = EXAMPLE_KEYS | OTHER_RAW | {f"staging/{s.staging_model}" for s in OTHER_SPECS}
OTHER_DAILY = {f"raw/{s.source}/{s.name}" for s in OTHER_SPECS if s.daily_partitioned}
PARTITIONED = {
    "raw/jaffle_shop/orders",
    "raw/jaffle_shop/items",
    "marts/orders",
    "marts/order_items",
    "marts/daily_location_metrics",
}


def _keys(keys) -> set[str]:
    return {k.to_user_string() for k in keys}


def test_exact_asset_keys(repo: dg.RepositoryDefinition) -> None:
    graph = repo.asset_graph
    assert _keys(graph.get_all_asset_keys()) == EXPECTED_KEYS
    # no stub (external) assets: every key is materializable by this code location
    assert _keys(graph.materializable_asset_keys) == EXPECTED_KEYS


def test_graph_is_connected_from_raw_tables_to_marts(repo: dg.RepositoryDefinition) -> None:
    graph = repo.asset_graph
    dlt_keys = {k for k in graph.get_all_asset_keys() if "dlt" in graph.get(k).kinds}
    dbt_keys = {k for k in graph.get_all_asset_keys() if "dbt" in graph.get(k).kinds}
    assert _keys(dlt_keys) == {f"raw/jaffle_shop/{t}" for t in RAW} | OTHER_RAW

    # every dbt source of the manifest resolves to a dlt asset
    project_dir = Path(os.environ["ELT_DBT_PROJECT_DIR"])
    manifest = json.loads((project_dir / "target" / "manifest.json").read_text())
    from orchestration.defs.naming import dbt_asset_key

    source_keys = {dbt_asset_key(s) for s in manifest["sources"].values()}
    assert source_keys and source_keys <= dlt_keys

    # every dlt asset feeds at least one dbt model
    for key in dlt_keys:
        assert graph.get(key).child_keys & dbt_keys, key.to_user_string()

    # every mart reaches back to at least one raw table
    for key in dbt_keys:
        if key.path[0] == "marts":
            assert (
                graph.get(key).ancestor_key_set & dlt_keys
                if hasattr(graph.get(key), "ancestor_key_set")
                else _ancestors(graph, key) & dlt_keys
            ), key.to_user_string()


def _ancestors(graph, key: dg.AssetKey) -> set[dg.AssetKey]:
    seen, todo = set(), [key]
    while todo:
        for parent in graph.get(todo.pop()).parent_keys:
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def test_groups_kinds_owners_and_partitions(repo: dg.RepositoryDefinition) -> None:
    graph = repo.asset_graph
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        name = key.to_user_string()
        if key.path[0] == "raw":
            assert node.group_name == key.path[1]  # the source
            assert node.kinds == {"dlt", "clickhouse"}
            if key.path[1] == EXAMPLE:
                assert node.owners == ["team:data-platform"]
            assert node.description
        else:
            assert node.group_name == key.path[0]
            python = key.path[0] == "analytics"  # the Python assets on the marts
            assert node.kinds == (
                {"python", "pandas", "clickhouse"} if python else {"dbt", "clickhouse"}
            )
            assert node.owners == ["team:analytics"]
            assert node.automation_condition is not None
        assert (node.partitions_def is not None) == (name in PARTITIONED | OTHER_DAILY), name
        if name in PARTITIONED:
            assert isinstance(node.partitions_def, dg.DailyPartitionsDefinition)
            assert node.partitions_def.get_first_partition_key() == "2018-09-01"


def test_checks(repo: dg.RepositoryDefinition) -> None:
    checks = repo.asset_graph.asset_check_keys
    by_asset: dict[str, set[str]] = {}
    for check in checks:
        by_asset.setdefault(check.asset_key.to_user_string(), set()).add(check.name)
    for table in RAW:  # dedup under FINAL (all raw tables are RMT)
        assert "no_duplicate_keys_final" in by_asset[f"raw/jaffle_shop/{table}"]
    # partition bound where there is a PARTITION BY
    partitioned = {k for k, names in by_asset.items() if "partition_count" in names}
    assert partitioned == PARTITIONED | {
        f"raw/{s.source}/{s.name}" for s in OTHER_SPECS if s.clickhouse.partition_by
    }
    # dbt tests are asset checks
    assert "unique_orders_order_id" in by_asset["marts/orders"]
    assert "no_duplicate_keys_final" in by_asset["marts/customers"]


def test_freshness_policies(repo: dg.RepositoryDefinition) -> None:
    """Freshness is a FreshnessPolicy on the asset: a raw table's from its YAML (max_lag fails,
    warn_after warns), the incremental models' daily deadline, the marts' maximum age."""
    graph = repo.asset_graph
    for spec in load_schemas():
        policy = graph.get(dg.AssetKey(["raw", spec.source, spec.name])).freshness_policy
        if spec.freshness is not None:
            assert isinstance(policy, TimeWindowFreshnessPolicy), spec.name
            assert policy.fail_window.to_timedelta() == spec.freshness.max_lag_delta
            warn = policy.warn_window.to_timedelta() if policy.warn_window else None
            assert warn == spec.freshness.warn_after_delta
    orders = graph.get(dg.AssetKey(["raw", "jaffle_shop", "orders"])).freshness_policy
    assert orders.fail_window.to_timedelta() == dt.timedelta(hours=26)
    assert orders.warn_window.to_timedelta() == dt.timedelta(hours=12)
    for name in ("orders", "order_items", "daily_location_metrics"):  # incremental
        policy = graph.get(dg.AssetKey(["marts", name])).freshness_policy
        assert isinstance(policy, CronFreshnessPolicy), name
        assert policy.deadline_cron == "0 6 * * *"
        assert policy.lower_bound_delta == dt.timedelta(hours=24)
    for name in ("customers", "products", "locations", "supplies"):  # mart tables
        policy = graph.get(dg.AssetKey(["marts", name])).freshness_policy
        assert isinstance(policy, TimeWindowFreshnessPolicy), name
        assert policy.fail_window.to_timedelta() == dt.timedelta(hours=26)
    for key in graph.get_all_asset_keys():
        if key.path[0] in ("staging", "intermediate"):  # views: nothing to keep fresh
            assert graph.get(key).freshness_policy is None, key.to_user_string()


def test_the_code_location_is_its_components(
    repo: dg.RepositoryDefinition, orch_env: dict[str, str]
) -> None:
    """What `dg dev` loads (`load_from_defs_folder` over orchestration/defs/: the schema-tables
    component, the DbtProjectComponent subclass, the other parts) is what the factory builds."""
    from orchestration.definitions import defs

    loaded = defs().get_repository_def()

    def shape(r: dg.RepositoryDefinition) -> tuple[set[str], ...]:
        graph = r.asset_graph
        return (
            _keys(graph.get_all_asset_keys()),
            {str(k) for k in graph.asset_check_keys},
            {j.name for j in r.get_all_jobs()},
            {s.name for s in r.schedule_defs},
            {s.name for s in r.sensor_defs},
            set(r.get_top_level_resources()),
        )

    assert shape(loaded) == shape(repo)
    graph = loaded.asset_graph
    orders = dg.AssetKey(["marts", "orders"])
    assert graph.get(orders).partitions_def == repo.asset_graph.get(orders).partitions_def
    assert graph.get(orders).freshness_policy == repo.asset_graph.get(orders).freshness_policy


def test_jobs_schedules_sensors(repo: dg.RepositoryDefinition) -> None:
    jobs = {j.name for j in repo.get_all_jobs()}
    assert {
        "ingest_jaffle_shop",
        "ingest_jaffle_shop_daily",
        "daily_partition",
        "full_build",
    } <= jobs
    assert repo.get_job("daily_partition").partitions_def is not None
    schedules = {s.name: s for s in repo.schedule_defs}
    assert schedules["ingest_jaffle_shop_schedule"].cron_schedule == "0 6 * * *"
    assert schedules["ingest_jaffle_shop_daily_schedule"].cron_schedule == "0 6 * * *"
    assert "full_build_daily" in schedules
    sensors = {s.name for s in repo.sensor_defs}
    assert {
        "jaffle_shop_landing_sensor",
        "report_failed_assets",
        "automation_sensor",
        "alert_run_failures",
        "alert_failed_checks",
    } <= sensors
    assert "clickhouse_maintenance" in jobs
    assert schedules["clickhouse_maintenance_daily"].cron_schedule == "0 4 * * *"


def test_full_build_schedule_requests_last_complete_day(repo: dg.RepositoryDefinition) -> None:
    """(The ingestion schedules read the loaded-files record: tests/orchestration/
    test_orch_loaded.py evaluates them against a warehouse.)"""
    full_build = repo.get_schedule_def("full_build_daily")
    assert full_build.cron_schedule == "0 3 * * *" and full_build.job_name == "full_build"
    at = dt.datetime(2018, 9, 5, 3, 0, tzinfo=dt.UTC)
    context = dg.build_schedule_context(scheduled_execution_time=at, repository_def=repo)
    data = full_build.evaluate_tick(context)
    assert [r.partition_key for r in data.run_requests] == ["2018-09-04"]


def test_new_schema_yaml_becomes_a_new_asset(tmp_path: Path, orch_env: dict[str, str]) -> None:
    schemas = tmp_path / "schemas"
    shutil.copytree("ingestion/schemas", schemas)
    text = (schemas / "jaffle_shop" / "tweets.yml").read_text()
    (schemas / "jaffle_shop" / "reviews.yml").write_text(
        text.replace("name: tweets", "name: reviews").replace("tweets/", "reviews/")
    )
    defs = build_definitions(ProjectPaths(schemas_dir=schemas))
    graph = defs.get_repository_def().asset_graph
    key = dg.AssetKey(["raw", "jaffle_shop", "reviews"])
    assert key in graph.get_all_asset_keys()
    assert graph.get(key).kinds == {"dlt", "clickhouse"}
    assert (
        graph.get(key).freshness_policy
        == graph.get(dg.AssetKey(["raw", "jaffle_shop", "tweets"])).freshness_policy
    )


def test_spec_sources_have_the_generated_sources_resources() -> None:
    """The load-time shape of each source names the same resources as the generated source
    every run builds (a drift would leave assets nothing loads, or tables no asset covers)."""
    from ingestion.pipeline import build_source
    from ingestion.schema import load_schemas
    from orchestration.defs.ingestion.assets import spec_source

    specs = load_schemas()
    for source in sorted({s.source for s in specs}):
        tables = sorted(s.name for s in specs if s.source == source)
        generated = build_source(source, specs, prepare_tables=False)
        shape = spec_source(source, tables)
        assert shape.name == generated.name == source
        assert sorted(shape.selected_resources) == sorted(generated.selected_resources) == tables
        for name, resource in shape.selected_resources.items():
            assert resource.source_name == generated.resources[name].source_name == source


def test_no_check_definition_is_split_in_the_job_of_every_asset(
    repo: dg.RepositoryDefinition,
) -> None:
    """Dagster splits a multi-asset check spanning assets at different levels of the job into
    subsets sharing one op (`<name>`, `<name>_2`); such a split check evaluated only some of its
    checks. The ClickHouse checks are one definition per table so that it never happens."""
    job = repo.get_implicit_job_def_for_assets(repo.asset_graph.get_all_asset_keys())
    nodes = set(job.graph.node_dict)
    check_ops = {n for n in nodes if n.startswith("clickhouse_checks__")}
    assert len(check_ops) >= 7 + 4  # one per raw table and per checked mart
    split = sorted(n for n in check_ops if n.rsplit("_", 1)[0] in nodes)
    assert split == []


def test_a_schema_the_validator_refuses_stops_the_definitions_load(tmp_path: Path) -> None:
    """The same checks as `elt schema validate`, with file:line, before anything is built."""
    from ingestion.schema import SchemaErrors

    schemas = tmp_path / "schemas"
    shutil.copytree(FIXTURE_SCHEMAS, schemas)
    orders = schemas / "fixture_shop" / "orders.yml"
    text = orders.read_text()
    orders.write_text(
        text.replace("partition_by: toYYYYMM(ordered_at)", "partition_by: toYYYYMM(now())")
    )
    line = 1 + text.splitlines().index("  partition_by: toYYYYMM(ordered_at)")
    with pytest.raises(SchemaErrors) as info:
        build_definitions(ProjectPaths(schemas_dir=schemas))
    assert f"{orders}:{line}: clickhouse.partition_by: now() is not deterministic" in str(
        info.value
    )
