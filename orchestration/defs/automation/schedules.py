"""Schedules: each source's cron from its YAMLs (reading the loaded-files record, like the
landing sensor), and the daily full build."""

import datetime as dt
from collections.abc import Mapping, Sequence

import dagster as dg

from ingestion.loaded import landed_files
from ingestion.schema import TableSpec, by_source
from orchestration.defs.automation.jobs import AssetJob
from orchestration.defs.ingestion.sensors import default_landing_dir
from orchestration.defs.partitions import Daily


def ingestion_schedules(
    tables: Sequence[TableSpec],
    jobs: Mapping[tuple[str, Daily | None], AssetJob],
    default_status: dg.DefaultScheduleStatus,
) -> list[dg.ScheduleDefinition]:
    """On the source's cron: its unpartitioned job, and each daily job for its last day; a tick
    whose landing files the loaded-files record already holds requests nothing."""
    schedules: list[dg.ScheduleDefinition] = []
    for source, source_tables in by_source(tables).items():
        cron = next((t.schedule for t in source_tables if t.schedule), None)
        if cron is None:
            continue
        for (job_source, definition), job in jobs.items():
            if job_source != source:
                continue
            job_tables = [t for t in source_tables if _starts(t) == _starts(definition)]
            schedules.append(_ingestion_schedule(job, cron, job_tables, definition, default_status))
    return schedules


def _starts(of: TableSpec | Daily | None) -> dt.date | None:
    """A daily table's or partitions definition's first day (None: unpartitioned)."""
    if isinstance(of, TableSpec):
        return of.partition_start
    return of.start.date() if of is not None else None


def unloaded(tables: Sequence[TableSpec], day: dt.date | None = None) -> str | None:
    """Why a run of `tables` (for `day`) would load nothing, or None when it has work: landing
    files the loaded-files record does not hold, or a table that is not local files (SQL, remote
    storage: only its run can tell)."""
    if any(t.files is None or "://" in t.files.path for t in tables):
        return None
    files = [f for f in landed_files(tables, default_landing_dir()) if day is None or f.day == day]
    when = f" of {day}" if day else ""
    if not files:
        return f"no landing files{when} yet"
    if all(f.loaded for f in files):
        return f"all {len(files)} landing file(s){when} already loaded"
    return None


def _ingestion_schedule(
    job: AssetJob,
    cron: str,
    tables: Sequence[TableSpec],
    daily: Daily | None,
    default_status: dg.DefaultScheduleStatus,
) -> dg.ScheduleDefinition:
    if daily is not None:
        return _daily_schedule(job, cron, daily, default_status, tables=tables)

    @dg.schedule(
        name=f"{job.name}_schedule",
        cron_schedule=cron,
        job=job,
        execution_timezone="UTC",
        default_status=default_status,
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        reason = unloaded(tables)
        return dg.SkipReason(reason) if reason else dg.RunRequest()

    return _schedule


def _daily_schedule(
    job: AssetJob,
    cron: str,
    daily: dg.TimeWindowPartitionsDefinition,
    default_status: dg.DefaultScheduleStatus,
    name: str | None = None,
    tables: Sequence[TableSpec] = (),
) -> dg.ScheduleDefinition:
    """On `cron`, run `job` for the last complete day (unless `tables` have nothing to load)."""
    # no `from __future__ import annotations`: Dagster reads the context and resource annotations

    @dg.schedule(
        name=name or f"{job.name}_schedule",
        cron_schedule=cron,
        job=job,
        execution_timezone="UTC",
        default_status=default_status,
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        with dg.partition_loading_context(effective_dt=context.scheduled_execution_time):
            key = daily.get_last_partition_key()
        if key is None:
            return dg.SkipReason("no complete day yet")
        reason = unloaded(tables, dt.date.fromisoformat(key)) if tables else None
        if reason:
            return dg.SkipReason(f"{key}: {reason}")
        return dg.RunRequest(run_key=key, partition_key=key)

    return _schedule


def full_build_schedule(
    job: AssetJob,
    daily: dg.TimeWindowPartitionsDefinition | None,
    default_status: dg.DefaultScheduleStatus,
) -> dg.ScheduleDefinition:
    """Every day at 03:00 UTC: the full build for yesterday's partition (`daily`: the one
    partitions definition of the build; None when it holds no partitioned asset).

    A plain schedule, not `build_schedule_from_partitioned_job`: that one resolves the job of every
    asset while the code location loads (~0.3 s for 1,000 models); this one at run time."""
    if daily is None:
        return dg.ScheduleDefinition(
            name="full_build_daily",
            cron_schedule="0 3 * * *",
            job=job,
            execution_timezone="UTC",
            default_status=default_status,
        )
    return _daily_schedule(job, "0 3 * * *", daily, default_status, name="full_build_daily")


def daily_partition_schedules(
    jobs: Mapping[Daily, AssetJob], default_status: dg.DefaultScheduleStatus
) -> list[dg.ScheduleDefinition]:
    """With several partitions definitions, each daily partition job for its last day at 03:00."""
    if len(jobs) <= 1:
        return []
    return [_daily_schedule(job, "0 3 * * *", d, default_status) for d, job in jobs.items()]
