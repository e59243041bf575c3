"""Freshness as Dagster `FreshnessPolicy` on the assets (the daemon evaluates them; the UI shows
pass, warn or fail): a raw table from its YAML `freshness`, a dbt model from its
`meta.dagster.freshness`, and defaults for what declares none.

Defaults: a daily-partitioned table or incremental model is due by 06:00 UTC, materialized in the
24 hours before; a mart table must have been rebuilt within 26 hours (a daily build plus slack)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster._check import CheckError

from ingestion.schema import TableSpec, parse_duration

DEFAULT_PARTITION_DEADLINE = "0 6 * * *"
DEFAULT_PARTITION_WINDOW = dt.timedelta(hours=24)
DEFAULT_MART_MAX_AGE = dt.timedelta(hours=26)

DAILY_DEADLINE = dg.FreshnessPolicy.cron(
    deadline_cron=DEFAULT_PARTITION_DEADLINE, lower_bound_delta=DEFAULT_PARTITION_WINDOW
)
MART_MAX_AGE = dg.FreshnessPolicy.time_window(fail_window=DEFAULT_MART_MAX_AGE)

# meta.dagster.freshness of a dbt model: one of the two shapes
WINDOW_FIELDS = {"fail_window", "warn_window"}
CRON_FIELDS = {"deadline_cron", "lower_bound", "timezone"}


def table_policy(table: TableSpec) -> dg.FreshnessPolicy | None:
    """The YAML's `freshness` (max_lag fails, warn_after warns), else the daily deadline for a
    daily-partitioned table; None for a table that declares nothing."""
    if table.freshness is not None:
        return dg.FreshnessPolicy.time_window(
            fail_window=table.freshness.max_lag_delta,
            warn_window=table.freshness.warn_after_delta,
        )
    return DAILY_DEADLINE if table.daily_partitioned else None


def model_policy(
    node: Mapping[str, Any], meta: Mapping[str, Any], *, incremental: bool, mart_table: bool
) -> dg.FreshnessPolicy | None:
    """`meta.dagster.freshness` of the model, else the daily deadline for an incremental model or
    the mart maximum age for a mart table; None otherwise (views, staging)."""
    declared = (meta.get("dagster") or {}).get("freshness")
    if declared is not None:
        return _declared_policy(node, declared)
    if incremental:
        return DAILY_DEADLINE
    return MART_MAX_AGE if mart_table else None


def _declared_policy(node: Mapping[str, Any], declared: Any) -> dg.FreshnessPolicy:
    where = f"{node.get('original_file_path') or node['unique_id']}: meta.dagster.freshness"
    if not isinstance(declared, Mapping):
        raise ValueError(f"{where}: expected a mapping, got {declared!r}")
    fields = set(declared)
    try:
        if fields and fields <= WINDOW_FIELDS and "fail_window" in fields:
            warn = declared.get("warn_window")
            return dg.FreshnessPolicy.time_window(
                fail_window=parse_duration(str(declared["fail_window"])),
                warn_window=parse_duration(str(warn)) if warn else None,
            )
        if fields and fields <= CRON_FIELDS and {"deadline_cron", "lower_bound"} <= fields:
            return dg.FreshnessPolicy.cron(
                deadline_cron=str(declared["deadline_cron"]),
                lower_bound_delta=parse_duration(str(declared["lower_bound"])),
                timezone=str(declared.get("timezone") or "UTC"),
            )
    except (ValueError, CheckError) as error:  # a bad duration, cron or window order
        raise ValueError(f"{where}: {error}") from error
    raise ValueError(
        f"{where}: expected {{fail_window, warn_window?}} or "
        f"{{deadline_cron, lower_bound, timezone?}}, got {sorted(fields)}"
    )
