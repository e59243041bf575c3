"""The ClickHouse maintenance job and its schedule, over the raw and analytics databases."""

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import dagster as dg

from ingestion.schema import load_schemas
from orchestration.defs.analytics.common import DATABASE as ANALYTICS_DATABASE
from orchestration.defs.clickhouse import Relation
from orchestration.defs.maintenance.job import build_maintenance_job, maintenance_schedule
from orchestration.defs.raw_tables import RawTable
from orchestration.defs.spec_adapter import raw_tables_from_specs

# where dbt builds tables (staging are views) and the Python assets write
DEFAULT_ANALYTICS_DATABASES = ("intermediate", "marts", ANALYTICS_DATABASE)


def retention_by_relation(
    specs: Iterable[Any], raw_tables: Iterable[RawTable]
) -> dict[Relation, dt.timedelta]:
    """Each raw table's declared `clickhouse.retention`, keyed by its ClickHouse table."""
    relations = {(t.source, t.name): t.relation for t in raw_tables}
    return {
        relations[(s.source, s.name)]: s.clickhouse.retention_delta
        for s in specs
        if s.clickhouse.retention_delta is not None and (s.source, s.name) in relations
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
    raw_tables = raw_tables_from_specs(specs)
    databases = {t.relation.database for t in raw_tables} | set(DEFAULT_ANALYTICS_DATABASES)
    return build_maintenance_defs(sorted(databases), retention_by_relation(specs, raw_tables))
