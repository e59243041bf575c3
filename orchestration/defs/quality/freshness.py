"""Freshness checks: every raw table from its YAML expectation, the dbt incremental models per
daily partition, and the marts; one sensor evaluates them so late data shows red in the UI."""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import dagster as dg

from ingestion.schema import TableSpec
from orchestration.defs.naming import table_key

# When no expectation is written down: a day's data is due by 06:00 UTC the next day; a mart
# must have been rebuilt within the last 26 hours (a daily build plus slack).
DEFAULT_PARTITION_DEADLINE = "0 6 * * *"
DEFAULT_MART_MAX_AGE = dt.timedelta(hours=26)


def _quiet(fn: Callable[..., Any], **kwargs: Any) -> Any:
    """These factories are "superseded" by FreshnessPolicy in 1.13 but are the ones that produce
    asset checks (pass/fail in the UI, evaluated by a sensor); silence the notice."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=dg.SupersessionWarning)
        return fn(**kwargs)


def build_freshness_checks(
    raw_tables: Sequence[TableSpec],
    partitioned_models: Iterable[dg.AssetKey],
    marts: Iterable[dg.AssetKey],
    levels: Mapping[dg.AssetKey, int] | None = None,
) -> list[dg.AssetChecksDefinition]:
    """One multi-check per expectation and split level (`Manifest.split_levels`; raw tables are
    level 0): few definitions, none of which Dagster has to split inside a job."""
    level = (levels or {}).get
    checks: list[dg.AssetChecksDefinition] = []

    by_age: dict[dt.timedelta, list[dg.AssetKey]] = {}
    for table in raw_tables:
        if table.freshness_max_lag is not None and not table.daily_partitioned:
            by_age.setdefault(table.freshness_max_lag, []).append(table_key(table))
    for age, keys in sorted(by_age.items()):
        checks += _quiet(dg.build_last_update_freshness_checks, assets=keys, lower_bound_delta=age)

    partitioned = [table_key(t) for t in raw_tables if t.daily_partitioned]
    partitioned += list(partitioned_models)
    for keys in _by_level(partitioned, level):
        checks += _quiet(
            dg.build_time_partition_freshness_checks,
            assets=keys,
            deadline_cron=DEFAULT_PARTITION_DEADLINE,
        )

    for keys in _by_level(list(marts), level):
        checks += _quiet(
            dg.build_last_update_freshness_checks,
            assets=keys,
            lower_bound_delta=DEFAULT_MART_MAX_AGE,
        )
    return checks


def _by_level(
    keys: Sequence[dg.AssetKey], level: Callable[[dg.AssetKey], int | None]
) -> list[list[dg.AssetKey]]:
    groups: dict[int, list[dg.AssetKey]] = {}
    for key in keys:
        groups.setdefault(level(key) or 0, []).append(key)
    return [groups[n] for n in sorted(groups)]


def build_freshness_sensor(
    checks: Sequence[dg.AssetChecksDefinition], default_status: dg.DefaultSensorStatus
) -> dg.SensorDefinition:
    return _quiet(
        dg.build_sensor_for_freshness_checks,
        freshness_checks=checks,
        minimum_interval_seconds=300,
        name="freshness_checks_sensor",
        default_status=default_status,
    )
