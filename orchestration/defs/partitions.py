"""One daily partitions definition shared by every daily-partitioned raw table and the dbt
incremental models (one definition, so they can run in one job and one backfill)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import dagster as dg

from orchestration.defs.raw_tables import RawTable

DEFAULT_START = dt.date(2018, 9, 1)  # first day of the Jaffle Shop simulation


def daily_partitions(tables: Sequence[RawTable]) -> dg.DailyPartitionsDefinition:
    starts = [t.daily_start for t in tables if t.daily_start is not None]
    start = min(starts) if starts else DEFAULT_START
    return dg.DailyPartitionsDefinition(start_date=start.isoformat(), timezone="UTC")


def window_vars(window: dg.TimeWindow) -> dict[str, str]:
    """dbt vars of a partition (range): half-open [start_date, end_date) as YYYY-MM-DD."""
    return {
        "start_date": window.start.strftime("%Y-%m-%d"),
        "end_date": window.end.strftime("%Y-%m-%d"),
    }
