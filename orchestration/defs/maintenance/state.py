"""What the maintenance job reads from ClickHouse: per table its engine, active parts,
partitions, rows and bytes (`system.parts`), running merges (`system.merges`), and per partition
its newest row (the partition key's min/max index in `system.parts`). SQL is built from
validated identifiers only; `fetch_*` take a clickhouse-driver `Client`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.identifiers import validate_identifier
from orchestration.defs.clickhouse import Relation

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class TableState:
    relation: Relation
    engine: str
    active_parts: int = 0
    partitions: int = 0
    rows: int = 0
    bytes_on_disk: int = 0
    merges_running: int = 0

    @property
    def replacing(self) -> bool:
        return "ReplacingMergeTree" in self.engine


@dataclass(frozen=True)
class PartitionState:
    relation: Relation
    partition_id: str
    partition: str
    newest: dt.datetime | None  # None: the partition key holds no date or time column
    rows: int


def _in_list(databases: Sequence[str]) -> str:
    return ", ".join(f"'{validate_identifier(d, field='database')}'" for d in databases)


def tables_sql(databases: Sequence[str]) -> str:
    return f"""
select database, name, engine
from system.tables
where database in ({_in_list(databases)}) and engine like '%MergeTree%'
order by database, name
"""


def parts_sql(databases: Sequence[str]) -> str:
    return f"""
select database, table, count(), uniqExact(partition_id), sum(rows), sum(bytes_on_disk)
from system.parts
where active and database in ({_in_list(databases)})
group by database, table
"""


def merges_sql(databases: Sequence[str]) -> str:
    return f"""
select database, table, count()
from system.merges
where database in ({_in_list(databases)})
group by database, table
"""


def partitions_sql(relations: Sequence[Relation]) -> str:
    wanted = ", ".join(f"('{r.database}', '{r.table}')" for r in relations)
    return f"""
select database, table, partition_id, any(partition), max(max_time), max(max_date), sum(rows)
from system.parts
where active and (database, table) in ({wanted})
group by database, table, partition_id
order by database, table, partition_id
"""


def fetch_tables(client: Any, databases: Sequence[str]) -> list[TableState]:
    if not databases:
        return []
    parts = {
        (db, t): (int(n), int(p), int(r), int(b))
        for db, t, n, p, r, b in client.execute(parts_sql(databases))
    }
    merges = {(db, t): int(n) for db, t, n in client.execute(merges_sql(databases))}
    out = []
    for db, name, engine in client.execute(tables_sql(databases)):
        n, p, r, b = parts.get((db, name), (0, 0, 0, 0))
        out.append(TableState(Relation(db, name), engine, n, p, r, b, merges.get((db, name), 0)))
    return out


def newest(max_time: Any, max_date: Any) -> dt.datetime | None:
    """The partition's newest row from its min/max index (epoch = no such column in the key)."""
    best = None
    if isinstance(max_time, dt.datetime):
        value = max_time if max_time.tzinfo else max_time.replace(tzinfo=dt.UTC)
        best = value if value > EPOCH else None
    if isinstance(max_date, dt.date) and max_date > EPOCH.date():
        end_of_day = dt.datetime.combine(max_date, dt.time.max, tzinfo=dt.UTC)
        best = max(best, end_of_day) if best else end_of_day
    return best


def fetch_partitions(client: Any, relations: Sequence[Relation]) -> list[PartitionState]:
    if not relations:
        return []
    return [
        PartitionState(Relation(db, t), pid, str(part), newest(max_time, max_date), int(rows))
        for db, t, pid, part, max_time, max_date, rows in client.execute(partitions_sql(relations))
    ]
