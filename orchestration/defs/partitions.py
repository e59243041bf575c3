"""One daily partitions definition shared by every daily-partitioned raw table and the dbt
incremental models (one definition, so they can run in one job and one backfill).

Partitions run from the earliest `partitioning.start` of the YAMLs to yesterday. A replay of
historical data (the Jaffle Shop demo publishes 2018 days) sets ELT_PARTITIONS_END_DATE (exclusive,
YYYY-MM-DD) to the day after the last published one: the partitions, the schedules and the
partition freshness checks then judge the data against that end instead of the wall clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import dagster as dg

from core.settings import settings
from orchestration.defs.raw_tables import RawTable

DEFAULT_START = dt.date(2018, 9, 1)  # first day of the Jaffle Shop simulation


def partitions_end_date() -> dt.date | None:
    return settings().run.partitions_end_date


def daily_partitions(
    tables: Sequence[RawTable], end: dt.date | None = None
) -> dg.DailyPartitionsDefinition:
    starts = [t.daily_start for t in tables if t.daily_start is not None]
    start = min(starts) if starts else DEFAULT_START
    end = end or partitions_end_date()
    return dg.DailyPartitionsDefinition(
        start_date=start.isoformat(),
        end_date=end.isoformat() if end else None,
        timezone="UTC",
    )


def window_vars(window: dg.TimeWindow) -> dict[str, str]:
    """dbt vars of a partition (range): half-open [start_date, end_date) as YYYY-MM-DD."""
    return {
        "start_date": window.start.strftime("%Y-%m-%d"),
        "end_date": window.end.strftime("%Y-%m-%d"),
    }
