"""Daily partitions of their own for every daily-partitioned table (its YAML's
`partitioning.start`), and for the dbt incremental models fed by it: a second source with
another start changes nothing of the first. Tables with the same start share one (equal)
definition, so they run in one job and one backfill.

Partitions run from a table's start to yesterday. A replay of historical data (the Jaffle Shop
demo publishes 2018 days) sets ELT_PARTITIONS_END_DATE (exclusive, YYYY-MM-DD) to the day after
the last published one: the partitions and the schedules then judge the data against that end
instead of the wall clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

import dagster as dg

from core.settings import settings

Daily = dg.DailyPartitionsDefinition


def partitions_end_date() -> dt.date | None:
    return settings().run.partitions_end_date


def table_partitions(start: dt.date, end: dt.date | None = None) -> Daily:
    """The daily partitions of a table starting on `start`."""
    end = end or partitions_end_date()
    return dg.DailyPartitionsDefinition(
        start_date=start.isoformat(),
        end_date=end.isoformat() if end else None,
        timezone="UTC",
    )


def distinct(definitions: Iterable[Daily | None]) -> list[Daily]:
    """The different definitions among `definitions`, earliest start first."""
    out: list[Daily] = []
    for definition in definitions:
        if definition is not None and definition not in out:
            out.append(definition)
    return sorted(out, key=lambda d: d.start)


def suffix(definition: Daily, among: Iterable[Daily | None]) -> str:
    """ "" when `definition` is the only one `among` (names stay `ingest_<source>_daily`), else
    `_<start YYYYMMDD>`, so each definition gets its own job and multi-asset."""
    return "" if len(distinct(among)) <= 1 else f"_{definition.start:%Y%m%d}"


def model_partitions(
    models: Iterable[str],
    upstream_raw: Mapping[str, Iterable[dg.AssetKey]],
    raw_partitions: Mapping[dg.AssetKey, Daily],
) -> dict[str, Daily]:
    """The partitions of each incremental dbt model: those of the partitioned raw tables it reads
    (through any models in between). A model reading tables with different starts, or none, is
    an error naming it: its window would be undefined."""
    out: dict[str, Daily] = {}
    for model in models:
        found = {k: raw_partitions[k] for k in upstream_raw.get(model, ()) if k in raw_partitions}
        definitions = distinct(found.values())
        if len(definitions) != 1:
            starts = ", ".join(
                f"{k.to_user_string()} from {d.start:%Y-%m-%d}" for k, d in found.items()
            )
            raise ValueError(
                f"incremental dbt model {model} needs exactly one daily-partitioned raw table "
                f"start upstream to take its partitions from; found: {starts or 'none'}. Give "
                "the tables it reads the same partitioning.start, or make it a table model"
            )
        out[model] = definitions[0]
    return out


WINDOW_START_ENV, WINDOW_END_ENV = "ELT_WINDOW_START", "ELT_WINDOW_END"


def window_env(window: dg.TimeWindow) -> dict[str, str]:
    """The environment that gives dbt a partition (range): half-open [start, end) as YYYY-MM-DD,
    read by the `incremental_window` macro. Environment rather than `--vars`: dbt re-parses the
    whole project when its vars change, but only the files that read an environment variable
    when that changes."""
    return {
        WINDOW_START_ENV: window.start.strftime("%Y-%m-%d"),
        WINDOW_END_ENV: window.end.strftime("%Y-%m-%d"),
    }
