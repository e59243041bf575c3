"""The ClickHouse maintenance job (ops, not assets): inspect → OPTIMIZE → retention.

Dry run by default (the launchpad shows `dry_run: true`): it reports what it would do and changes
nothing. The report is the inspect step's output metadata (a markdown table in the run's page);
partition alerts also go to the alert webhook. By hand:

    dagster job execute -m orchestration.definitions -j clickhouse_maintenance \
      -c <(echo '{"ops": {"inspect_clickhouse": {"config": {"dry_run": false}}}}')
"""
# no `from __future__ import annotations`: Dagster reads the context, config and input annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import dagster as dg
from dagster_clickhouse import ClickhouseResource

from orchestration.defs.alerts.webhook import Alert, run_url, send
from orchestration.defs.clickhouse import Relation, query_rows
from orchestration.defs.maintenance.plan import (
    MaintenanceConfig,
    MaintenancePlan,
    plan_maintenance,
    report_markdown,
)
from orchestration.defs.maintenance.state import fetch_partitions, fetch_tables

JOB_NAME = "clickhouse_maintenance"
ACT = {"ops": {"inspect_clickhouse": {"config": {"dry_run": False}}}}


def _now(config: MaintenanceConfig) -> dt.datetime:
    if config.now is None:
        return dt.datetime.now(dt.UTC)
    value = dt.datetime.fromisoformat(config.now)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def build_maintenance_job(
    databases: Sequence[str], retention: Mapping[Relation, dt.timedelta]
) -> dg.JobDefinition:
    """The job over `databases` (raw and analytics), with each raw table's declared retention."""
    databases = sorted(set(databases))
    retention = dict(retention)

    @dg.op(description=f"Parts, partitions, bytes and merges of {', '.join(databases)}; the plan.")
    def inspect_clickhouse(
        context: dg.OpExecutionContext, config: MaintenanceConfig, clickhouse: ClickhouseResource
    ) -> MaintenancePlan:
        with clickhouse.get_connection() as client:
            tables = fetch_tables(client, databases)
            present = {t.relation for t in tables}
            partitions = fetch_partitions(client, [r for r in retention if r in present])
        plan = plan_maintenance(tables, partitions, retention, config, _now(config))
        report = report_markdown(plan)
        context.log.info(report)
        for alert in plan.alerts:
            context.log.warning(f"partition alert: {alert}")
        if plan.alerts:
            run_id = context.run_id
            send(
                Alert(
                    kind="maintenance",
                    title="ClickHouse partition-count alert",
                    run_id=run_id,
                    job=context.job_name,
                    run_url=run_url(run_id),
                    details=plan.alerts,
                ),
                context.log,
            )
        context.add_output_metadata(
            {
                "report": dg.MetadataValue.md(report),
                "dry_run": plan.dry_run,
                "tables": len(plan.tables),
                "to_optimize": ", ".join(map(str, plan.optimize)) or "-",
                "expired_partitions": len(plan.drops),
                "partition_alerts": len(plan.alerts),
            }
        )
        return plan

    @dg.op(description="OPTIMIZE TABLE … FINAL where the plan allows (not in a dry run).")
    def optimize_tables(
        context: dg.OpExecutionContext, clickhouse: ClickhouseResource, plan: MaintenancePlan
    ) -> list[str]:
        done = []
        for relation in plan.optimize:
            if plan.dry_run:
                context.log.info(f"dry run: would OPTIMIZE TABLE {relation} FINAL")
                continue
            query_rows(clickhouse, f"optimize table {relation.sql} final")
            done.append(str(relation))
            context.log.info(f"OPTIMIZE TABLE {relation} FINAL done")
        context.add_output_metadata({"optimized": ", ".join(done) or "-"})
        return done

    @dg.op(
        description="Drop whole partitions older than their table's retention (not in a dry run)."
    )
    def drop_expired_partitions(
        context: dg.OpExecutionContext, clickhouse: ClickhouseResource, plan: MaintenancePlan
    ) -> list[str]:
        done = []
        for drop in plan.drops:
            what = f"{drop.relation} partition {drop.partition} ({drop.rows} rows)"
            if plan.dry_run:
                context.log.info(f"dry run: would drop {what}")
                continue
            query_rows(
                clickhouse,
                f"alter table {drop.relation.sql} drop partition id %(pid)s",
                {"pid": drop.partition_id},
            )
            done.append(what)
            context.log.info(f"dropped {what}")
        context.add_output_metadata(
            {"dropped": dg.MetadataValue.md("\n".join(f"- {d}" for d in done) or "-")}
        )
        return done

    @dg.job(
        name=JOB_NAME,
        description="ClickHouse maintenance: report parts, partitions and merges; OPTIMIZE "
        "ReplacingMergeTree tables over the parts threshold; drop partitions past retention. "
        "Dry run unless `dry_run: false`.",
        tags={"elt/kind": "maintenance"},
        # three short SQL steps: one process, not a subprocess (and code load) per step
        executor_def=dg.in_process_executor,
    )
    def clickhouse_maintenance() -> None:
        plan = inspect_clickhouse()
        optimize_tables(plan)
        drop_expired_partitions(plan)

    return clickhouse_maintenance


def maintenance_schedule(
    job: dg.JobDefinition, status: dg.DefaultScheduleStatus
) -> dg.ScheduleDefinition:
    """Daily at 04:00 UTC (after the 03:00 full build), acting: the YAML's retention applies."""
    return dg.ScheduleDefinition(
        name=f"{JOB_NAME}_daily",
        job=job,
        cron_schedule="0 4 * * *",
        execution_timezone="UTC",
        run_config=ACT,
        default_status=status,
    )
