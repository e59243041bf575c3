"""Helpers of the Python-asset, maintenance, config and alert tests (importable as
`pyassets_support`): a fresh endpoint with the code location built against it, small mart
fixtures, and in-process runs of the code location's assets."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from endpoint_support import local_endpoint, patched_environ

RFM = dg.AssetKey(["analytics", "customer_rfm"])
FORECAST = dg.AssetKey(["analytics", "location_revenue_forecast"])

ORDERS_DDL = """
create table marts.orders (
    order_id String, customer_id String, location_id String,
    order_total Decimal(18, 2), ordered_at DateTime64(6, 'UTC'), ordered_date Date
) engine = MergeTree partition by toYYYYMM(ordered_date)
order by (ordered_date, location_id, order_id)
"""
METRICS_DDL = """
create table marts.daily_location_metrics (
    metric_date Date, location_id String, revenue Decimal(18, 2)
) engine = SummingMergeTree partition by toYYYYMM(metric_date) order by (metric_date, location_id)
"""


@contextmanager
def fresh_stack(root: Path, **paths: Any) -> Iterator[dg.Definitions]:
    """A local endpoint of its own and the code location's Definitions pointing at it."""
    from orchestration.defs.transform.project import prepare_manifest
    from orchestration.factory import build_definitions
    from orchestration.inputs import ProjectPaths

    project_paths = ProjectPaths(**paths)
    prepare_manifest(project_paths.dbt_project_dir, project_paths.dbt_profiles_dir)
    with local_endpoint(root / "warehouse"), patched_environ({"ELT_DLT_DIR": str(root / "dlt")}):
        yield build_definitions(project_paths)


def run_assets(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    keys: Sequence[dg.AssetKey],
    run_config: dict[str, Any] | None = None,
) -> dg.ExecuteInProcessResult:
    job = defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        instance=instance, asset_selection=list(keys), run_config=run_config, raise_on_error=False
    )


def command(sql: str, parameters: dict[str, Any] | None = None) -> None:
    from core.clickhouse import clickhouse_client

    client = clickhouse_client()
    try:
        client.command(sql, parameters=parameters)
    finally:
        client.close()
