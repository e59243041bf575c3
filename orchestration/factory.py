"""Builds the code location's Definitions, part by part, for any dbt project and schemas
directory.

The code location (`orchestration/definitions.py`) loads `orchestration/defs/`, whose components
and modules each build one part from the same inputs (`orchestration.inputs.location_inputs`,
read once per process): the schema-YAML tables (`table_defs`), the dbt project (`model_defs`),
what spans both (`automation_defs`) and the rest of the platform (`platform_defs`). Tests and
the benchmark call `build_definitions` with their own paths (a synthetic project of 1,000
models, a copy of the schemas...), which merges the same parts.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from ingestion.schema import TableSpec
from orchestration.defs.alerts.definitions import build_alert_defs
from orchestration.defs.analytics.definitions import analytics_defs
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
from orchestration.defs.maintenance.definitions import maintenance_defs
from orchestration.defs.naming import table_key
from orchestration.defs.partitions import Daily, distinct
from orchestration.defs.quality.clickhouse_checks import CheckedTable, build_clickhouse_checks
from orchestration.defs.quality.clickhouse_checks import replacing_key as dbt_replacing_key
from orchestration.defs.resources import build_resources
from orchestration.defs.transform.assets import build_dbt_assets
from orchestration.defs.transform.project import dbt_project
from orchestration.defs.translators import DltTranslator
from orchestration.inputs import Inputs, Models, ProjectPaths, Statuses, Tables


def build_definitions(
    paths: ProjectPaths | None = None, partitions_end: dt.date | None = None
) -> dg.Definitions:
    """The whole code location; `partitions_end` (exclusive) overrides ELT_PARTITIONS_END_DATE."""
    inputs = Inputs.load(paths or ProjectPaths(), partitions_end)
    return dg.Definitions.merge(
        table_defs(inputs.tables, inputs.statuses),
        model_defs(inputs.models),
        automation_defs(inputs),
        platform_defs(inputs),
    )


def build_table_definitions(
    paths: ProjectPaths | None = None, partitions_end: dt.date | None = None
) -> dg.Definitions:
    """The schema-YAML tables alone with their resources: they need no dbt manifest, so `elt
    demo` ingests with them while the manifest is being prepared."""
    paths = paths or ProjectPaths()
    project = dbt_project(paths.dbt_project_dir, paths.dbt_profiles_dir)
    return dg.Definitions.merge(
        table_defs(Tables.load(paths.schemas_dir, partitions_end), Statuses.from_settings()),
        dg.Definitions(resources=build_resources(project), executor=dg.in_process_executor),
    )


def table_defs(tables: Tables, statuses: Statuses) -> dg.Definitions:
    """The schema-YAML tables: dlt assets, their ClickHouse checks, ingestion jobs, schedules
    and landing-file sensors."""
    translator = DltTranslator({(t.source, t.name): t for t in tables.specs})
    ingest = ingestion_jobs(tables.specs, tables.partitions)
    return dg.Definitions(
        assets=build_dlt_assets(tables.specs, partitions=tables.partitions, translator=translator),
        asset_checks=build_clickhouse_checks(_checked_raw_tables(tables.specs)),
        jobs=list(ingest.values()),
        schedules=ingestion_schedules(tables.specs, ingest, statuses.schedule),
        sensors=_landing_sensors(tables.specs, ingest, tables.partitions, statuses.sensor),
    )


def model_defs(models: Models) -> dg.Definitions:
    """The dbt project: its models as assets (the incremental ones daily-partitioned), dbt
    tests as asset checks, ClickHouse checks on the model tables."""
    return dg.Definitions(
        assets=build_dbt_assets(
            models.project, models.manifest, models.translator, models.partitions
        ),
        asset_checks=build_clickhouse_checks(_checked_models(models)),
    )


def automation_defs(inputs: Inputs) -> dg.Definitions:
    """What spans tables and models: the full build and the daily partition jobs with their
    schedules, declarative automation, the failed-assets report; steps run in the run's
    process."""
    statuses = inputs.statuses
    raw, models = inputs.tables.partitions, inputs.models.partitions_by_key
    all_partitions = {**raw, **models}
    full_build = full_build_job(all_partitions)
    daily_jobs = daily_partition_jobs(raw, models)
    only = distinct(all_partitions.values())
    return dg.Definitions(
        jobs=[full_build, *daily_jobs.values()],
        schedules=[
            full_build_schedule(full_build, only[0] if len(only) == 1 else None, statuses.schedule),
            *daily_partition_schedules(daily_jobs, statuses.schedule),
        ],
        sensors=[
            report_failed_assets,
            dg.AutomationConditionSensorDefinition(
                "automation_sensor",
                target=dg.AssetSelection.all(),
                default_status=statuses.sensor,
                minimum_interval_seconds=60,
            ),
        ],
        # every step of a run in the run's process: a step subprocess would load this code
        # location once more (tens of seconds each on a small machine) for seconds of work
        executor=dg.in_process_executor,
    )


def platform_defs(inputs: Inputs) -> dg.Definitions:
    """Resources, the Python assets on the marts, ClickHouse maintenance, alerts."""
    return dg.Definitions.merge(
        dg.Definitions(resources=build_resources(inputs.models.project)),
        analytics_defs(set(inputs.models.keys.values())),
        maintenance_defs(inputs),
        build_alert_defs(),
    )


def _checked_raw_tables(specs: list[TableSpec]) -> list[CheckedTable]:
    checked = [
        CheckedTable(
            table_key(t),
            raw_relation(t),
            t.replacing_key,
            partitioned=bool(t.clickhouse.partition_by),
        )
        for t in specs
    ]
    return [t for t in checked if t.partitioned or t.replacing_key]


def _checked_models(models: Models) -> list[CheckedTable]:
    manifest = models.manifest
    checked = []
    for node in manifest.asset_nodes:
        if manifest.is_table(node) and node["resource_type"] == "model":
            config = node.get("config") or {}
            checked.append(
                CheckedTable(
                    models.keys[node["unique_id"]],
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
