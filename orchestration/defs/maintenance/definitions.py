"""The ClickHouse maintenance job and its schedule, over the raw and analytics databases."""

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

import dagster as dg

from ingestion.schema import TableSpec, load_schemas
from orchestration.defs.analytics.common import DATABASE as ANALYTICS_DATABASE
from orchestration.defs.clickhouse import Relation, raw_relation
from orchestration.defs.maintenance.job import build_maintenance_job, maintenance_schedule

# where dbt builds tables (staging are views) and the Python assets write
DEFAULT_ANALYTICS_DATABASES = ("intermediate", "marts", ANALYTICS_DATABASE)


def retention_by_relation(specs: Iterable[TableSpec]) -> dict[Relation, dt.timedelta]:
    """Each raw table's declared `clickhouse.retention`, keyed by its ClickHouse table."""
    return {
        raw_relation(s): s.clickhouse.retention_delta
        for s in specs
        if s.clickhouse.retention_delta is not None
    }


def build_maintenance_defs(
    databases: Sequence[str],
    retention: Mapping[Relation, dt.timedelta],
    schedule_status: dg.DefaultScheduleStatus = dg.DefaultScheduleStatus.STOPPED,
) -> dg.Definitions:
    job = build_maintenance_job(databases, retention)
    return dg.Definitions(jobs=[job], schedules=[maintenance_schedule(job, schedule_status)])


@dg.definitions
def defs() -> dg.Definitions:
    """The job over the repository's schema YAMLs (the factory passes its own paths and the dbt
    manifest's databases)."""
    specs = load_schemas()
    databases = {raw_relation(t).database for t in specs} | set(DEFAULT_ANALYTICS_DATABASES)
    return build_maintenance_defs(sorted(databases), retention_by_relation(specs))
