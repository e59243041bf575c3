"""Builds the code location's Definitions for any dbt project and schemas directory.

`definitions.py` calls it with the repository's paths; tests and the benchmark call it with their
own (a synthetic project of 1,000 models, a copy of the schemas...).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from core.settings import settings
from ingestion.schema import TableSpec, load_schemas
from orchestration.defs import naming
from orchestration.defs.alerts.definitions import build_alert_defs
from orchestration.defs.analytics.common import DATABASE as ANALYTICS_DATABASE
from orchestration.defs.analytics.definitions import build_analytics_defs
from orchestration.defs.analytics.definitions import inputs as analytics_inputs
from orchestration.defs.automation.failures import report_failed_assets
from orchestration.defs.automation.jobs import (
    IngestJobs,
    daily_partition_jobs,
    full_build_job,
    ingestion_jobs,
)
from orchestration.defs.automation.schedules import (
    daily_partition_schedules,
    full_build_schedule,
    ingestion_schedules,
)
from orchestration.defs.clickhouse import raw_relation
from orchestration.defs.ingestion.assets import build_dlt_assets
from orchestration.defs.ingestion.sensors import build_landing_sensor
from orchestration.defs.maintenance.definitions import build_maintenance_defs, retention_by_relation
from orchestration.defs.naming import table_key
from orchestration.defs.partitions import Daily, distinct, model_partitions, table_partitions
from orchestration.defs.quality.clickhouse_checks import CheckedTable, build_clickhouse_checks
from orchestration.defs.quality.clickhouse_checks import replacing_key as dbt_replacing_key
from orchestration.defs.quality.freshness import build_freshness_checks, build_freshness_sensor
from orchestration.defs.resources import build_resources
from orchestration.defs.transform.assets import build_dbt_assets
from orchestration.defs.transform.project import Manifest, prepared_dbt_project
from orchestration.defs.translators import DbtTranslator, DltTranslator

MART_LAYER = "marts"


@dataclass(frozen=True)
class ProjectPaths:
    """Where the code location finds its inputs (env overrides, then repository defaults)."""

    dbt_project_dir: Path = field(default_factory=lambda: settings().project.dbt_project_dir)
    dbt_profiles_dir: Path = field(default_factory=lambda: settings().project.dbt_profiles_dir)
    schemas_dir: Path = field(default_factory=lambda: settings().project.schemas_dir)


def _autostart() -> bool:
    """Sensors and schedules start running by default unless ELT_DAGSTER_AUTOSTART=0."""
    return settings().run.dagster_autostart


def build_definitions(
    paths: ProjectPaths | None = None, partitions_end: dt.date | None = None
) -> dg.Definitions:
    """The code location; `partitions_end` (exclusive) overrides ELT_PARTITIONS_END_DATE."""
    paths = paths or ProjectPaths()
    autostart = _autostart()
    sensor_status = dg.DefaultSensorStatus.RUNNING if autostart else dg.DefaultSensorStatus.STOPPED
    schedule_status = (
        dg.DefaultScheduleStatus.RUNNING if autostart else dg.DefaultScheduleStatus.STOPPED
    )

    specs = sorted(load_schemas(paths.schemas_dir), key=lambda s: (s.source, s.name))
    # each daily-partitioned table's own partitions, from its YAML's start
    raw_partitions = {
        table_key(t): table_partitions(t.partition_start, end=partitions_end)
        for t in specs
        if t.partition_start is not None
    }

    # assets: dlt (raw tables) and dbt (models), keyed by one policy
    dlt_translator = DltTranslator({(t.source, t.name): t for t in specs})
    raw_assets = build_dlt_assets(specs, partitions=raw_partitions, translator=dlt_translator)
    project = prepared_dbt_project(paths.dbt_project_dir, paths.dbt_profiles_dir)
    manifest = Manifest.load(project.manifest_path)
    manifest.attach_tests_to_last_parent()
    dbt_translator = DbtTranslator()
    incremental = [n["unique_id"] for n in manifest.asset_nodes if manifest.is_incremental(n)]
    model_partitions_by_id = model_partitions(
        incremental, _upstream_raw(manifest, incremental, dbt_translator), raw_partitions
    )
    dbt_defs = build_dbt_assets(project, manifest, dbt_translator, model_partitions_by_id)

    # checks
    model_keys = {n["unique_id"]: naming.dbt_asset_key(n) for n in manifest.asset_nodes}
    incremental_keys = [
        model_keys[n["unique_id"]] for n in manifest.asset_nodes if manifest.is_incremental(n)
    ]
    mart_nodes = [
        n
        for n in manifest.asset_nodes
        if naming.dbt_layer(n) == MART_LAYER and manifest.is_table(n)
    ]
    mart_keys = [model_keys[n["unique_id"]] for n in mart_nodes if not manifest.is_incremental(n)]
    levels = {model_keys[uid]: n for uid, n in manifest.split_levels().items()}
    freshness = build_freshness_checks(specs, incremental_keys, mart_keys, levels)
    checked = _checked_tables(specs, manifest, model_keys)

    # jobs, schedules, sensors
    ingest = ingestion_jobs(specs, raw_partitions)
    model_partitions_by_key = {model_keys[u]: d for u, d in model_partitions_by_id.items()}
    all_partitions = {**raw_partitions, **model_partitions_by_key}
    full_build = full_build_job(all_partitions)
    daily_jobs = daily_partition_jobs(raw_partitions, model_partitions_by_key)
    jobs = [*ingest.values(), full_build, *daily_jobs.values()]
    only = distinct(all_partitions.values())
    schedules = [
        *ingestion_schedules(specs, ingest, schedule_status),
        full_build_schedule(full_build, only[0] if len(only) == 1 else None, schedule_status),
        *daily_partition_schedules(daily_jobs, schedule_status),
    ]
    sensors = [
        build_freshness_sensor(freshness, sensor_status),
        report_failed_assets,
        dg.AutomationConditionSensorDefinition(
            "automation_sensor",
            target=dg.AssetSelection.all(),
            default_status=sensor_status,
            minimum_interval_seconds=60,
        ),
        *_landing_sensors(specs, ingest, raw_partitions, sensor_status),
    ]

    core = dg.Definitions(
        assets=[*raw_assets, *dbt_defs],
        asset_checks=[*freshness, *build_clickhouse_checks(checked)],
        jobs=jobs,
        schedules=schedules,
        sensors=sensors,
        resources=build_resources(project),
        # every step of a run in the run's process: a step subprocess would load this code
        # location once more (tens of seconds each on a small machine) for seconds of work
        executor=dg.in_process_executor,
    )
    # Python assets on the marts, ClickHouse maintenance, alerts (orchestration/defs/<part>/)
    databases = {raw_relation(t).database for t in specs} | {ANALYTICS_DATABASE}
    databases |= {r.database for r in manifest.relations_by_unique_id().values()}
    maintenance = build_maintenance_defs(
        sorted(databases), retention_by_relation(specs), schedule_status
    )
    # the Python assets read the Jaffle marts: a dbt project without those gets none
    analytics = (
        build_analytics_defs()
        if analytics_inputs() <= set(model_keys.values())
        else dg.Definitions()
    )
    return dg.Definitions.merge(core, analytics, maintenance, build_alert_defs())


def _checked_tables(
    specs: list[TableSpec], manifest: Manifest, model_keys: dict[str, dg.AssetKey]
) -> list[CheckedTable]:
    checked = [
        CheckedTable(
            table_key(t),
            raw_relation(t),
            t.replacing_key,
            partitioned=bool(t.clickhouse.partition_by),
        )
        for t in specs
    ]
    for node in manifest.asset_nodes:
        if manifest.is_table(node) and node["resource_type"] == "model":
            config = node.get("config") or {}
            checked.append(
                CheckedTable(
                    model_keys[node["unique_id"]],
                    manifest.relation(node),
                    dbt_replacing_key(config),
                    partitioned=bool(config.get("partition_by")),
                )
            )
    return [t for t in checked if t.partitioned or t.replacing_key]


def _landing_sensors(
    specs: list[TableSpec],
    ingest: IngestJobs,
    partitions: dict[dg.AssetKey, Daily],
    status: dg.DefaultSensorStatus,
) -> list[dg.SensorDefinition]:
    sensors = []
    for source in sorted({s.source for s in specs}):
        tables = [s for s in specs if s.source == source]
        jobs = {d: job for (s, d), job in ingest.items() if s == source}
        if any(t.files is not None and "://" not in t.files.path for t in tables):
            sensors.append(build_landing_sensor(source, tables, jobs, partitions, status))
    return sensors


def _upstream_raw(
    manifest: Manifest, models: list[str], translator: DbtTranslator
) -> dict[str, set[dg.AssetKey]]:
    """The raw-table keys (dbt sources) each model reads, through any models in between."""
    nodes, sources = manifest.data["nodes"], manifest.data["sources"]
    found: dict[str, set[dg.AssetKey]] = {}

    def walk(unique_id: str) -> set[dg.AssetKey]:
        if unique_id in sources:
            return {translator.get_asset_key(sources[unique_id])}
        if unique_id not in found:
            found[unique_id] = set()  # a cycle guard; dbt graphs have none
            parents = (nodes.get(unique_id) or {}).get("depends_on", {}).get("nodes", [])
            found[unique_id] = set().union(*(walk(p) for p in parents))
        return found[unique_id]

    return {m: walk(m) for m in models}
