"""The ClickHouse maintenance job and its schedule, over the raw and analytics databases."""

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

import dagster as dg

from ingestion.schema import TableSpec
from orchestration.defs.analytics.common import DATABASE as ANALYTICS_DATABASE
from orchestration.defs.clickhouse import Relation, raw_relation
from orchestration.defs.maintenance.job import build_maintenance_job, maintenance_schedule
from orchestration.inputs import Inputs, location_inputs


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


def maintenance_defs(inputs: Inputs) -> dg.Definitions:
    """Over the raw tables' databases, those dbt builds tables in, and the Python assets'."""
    databases = {raw_relation(t).database for t in inputs.tables.specs} | {ANALYTICS_DATABASE}
    databases |= {r.database for r in inputs.models.manifest.relations_by_unique_id().values()}
    return build_maintenance_defs(
        sorted(databases), retention_by_relation(inputs.tables.specs), inputs.statuses.schedule
    )


@dg.definitions
def defs() -> dg.Definitions:
    return maintenance_defs(location_inputs())
