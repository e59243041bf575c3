"""What orchestration needs to know about each raw table, read from the schema YAMLs.

`RawTable` is a small, frozen view of an ingestion table spec (`ingestion.schema.load_schemas`),
so the Dagster wiring depends on a handful of fields, not on the whole spec model.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import dagster as dg

from orchestration.defs import naming
from orchestration.defs.clickhouse import Relation


@dataclass(frozen=True)
class RawColumn:
    name: str
    type: str
    description: str | None = None
    nullable: bool = True


@dataclass(frozen=True)
class RawTable:
    source: str
    name: str
    description: str | None = None
    owners: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    columns: tuple[RawColumn, ...] = ()
    primary_key: tuple[str, ...] = ()
    cursor: str | None = None
    freshness: dt.timedelta | None = None
    cron: str | None = None
    daily_start: dt.date | None = None  # set when the table is daily-partitioned
    raw_database: str = "raw"
    replacing_key: tuple[str, ...] = ()  # ReplacingMergeTree sort key (dedup key under FINAL)
    partition_by: str | None = None  # ClickHouse PARTITION BY expression
    landing_glob: str | None = None  # files glob relative to the landing dir, when file-based

    @property
    def key(self) -> dg.AssetKey:
        return naming.raw_table_key(self.source, self.name)

    @property
    def partitioned(self) -> bool:
        return self.daily_start is not None

    @property
    def relation(self) -> Relation:
        # dlt's ClickHouse naming: dataset (= source) and table joined by `___`
        return Relation(self.raw_database, f"{self.source}___{self.name}")

    def column_schema(self) -> dg.TableSchema:
        return dg.TableSchema(
            columns=[
                dg.TableColumn(
                    name=c.name,
                    type=c.type,
                    description=c.description,
                    constraints=dg.TableColumnConstraints(nullable=c.nullable),
                )
                for c in self.columns
            ]
        )


def sort_tables(tables: Sequence[RawTable]) -> list[RawTable]:
    """Every table of every source, sorted by (source, name)."""
    return sorted(tables, key=lambda t: (t.source, t.name))


def by_source(tables: Sequence[RawTable]) -> dict[str, list[RawTable]]:
    grouped: dict[str, list[RawTable]] = {}
    for table in tables:
        grouped.setdefault(table.source, []).append(table)
    return grouped
