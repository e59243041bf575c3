"""ClickHouse facts Dagster shows and checks: rows, size and partitions from `system.parts`,
and duplicate keys under FINAL. SQL builders are pure; the `fetch_*` helpers take a
clickhouse-driver `Client` (`ClickhouseResource.get_connection()`), `query_rows` the resource."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg
from dagster_clickhouse import ClickhouseResource

from core.identifiers import validate_identifier
from core.settings import settings
from ingestion.schema import TableSpec

PARTS_SQL = """
select
    database,
    table,
    sum(rows) as rows,
    sum(bytes_on_disk) as bytes_on_disk,
    uniqExact(partition) as partitions,
    count() as active_parts
from system.parts
where active and (database, table) in ({relations})
group by database, table
"""


def query_rows(
    clickhouse: ClickhouseResource, sql: str, params: Mapping[str, Any] | None = None
) -> list[tuple]:
    """The rows of one query on a connection of its own; `params` fill `%(name)s` placeholders
    (clickhouse-driver substitutes them client-side, quoted)."""
    with clickhouse.get_connection() as client:
        return client.execute(sql, params)


@dataclass(frozen=True)
class Relation:
    """A ClickHouse table, `database.table`."""

    database: str
    table: str

    def __post_init__(self) -> None:
        validate_identifier(self.database, field="database")
        validate_identifier(self.table, field="table")

    @property
    def sql(self) -> str:
        return f"`{self.database}`.`{self.table}`"

    def __str__(self) -> str:
        return f"{self.database}.{self.table}"


def raw_relation(spec: TableSpec) -> Relation:
    """A schema-YAML table in the raw database (dlt's `<source>___<table>` name)."""
    return Relation(settings().warehouse.raw_database, spec.raw_table)


@dataclass(frozen=True)
class TableStats:
    rows: int
    bytes_on_disk: int
    partitions: int
    active_parts: int

    def as_metadata(self, relation: Relation, final_rows: int | None = None) -> dict[str, Any]:
        """`final_rows`: a ReplacingMergeTree's rows under FINAL, shown as its row count; the
        stored row versions (`system.parts`, duplicates not merged yet) are labelled as such."""
        counts: dict[str, Any] = {"dagster/row_count": dg.MetadataValue.int(self.rows)}
        if final_rows is not None:
            counts = {
                "dagster/row_count": dg.MetadataValue.int(final_rows),
                "clickhouse/stored_row_versions": dg.MetadataValue.int(self.rows),
            }
        return {
            **counts,
            "dagster/table_name": str(relation),
            "clickhouse/bytes_on_disk": dg.MetadataValue.int(self.bytes_on_disk),
            "clickhouse/size": dg.MetadataValue.text(_human_bytes(self.bytes_on_disk)),
            "clickhouse/partitions": dg.MetadataValue.int(self.partitions),
            "clickhouse/active_parts": dg.MetadataValue.int(self.active_parts),
        }


EMPTY = TableStats(rows=0, bytes_on_disk=0, partitions=0, active_parts=0)


def fetch_table_stats(client: Any, relations: Iterable[Relation]) -> dict[Relation, TableStats]:
    """Stats of every relation from one `system.parts` query (views and missing tables: absent)."""
    # identifiers are validated by Relation, so they are safe to inline
    wanted = ", ".join(f"('{r.database}', '{r.table}')" for r in relations)
    if not wanted:
        return {}
    return {
        Relation(db, table): TableStats(int(rows), int(size), int(parts_p), int(parts))
        for db, table, rows, size, parts_p, parts in client.execute(
            PARTS_SQL.format(relations=wanted)
        )
    }


COLUMNS_SQL = """
select name, type from system.columns
where database = %(database)s and table = %(table)s
order by position
"""


def fetch_columns(client: Any, relation: Relation) -> list[tuple[str, str]]:
    """(name, ClickHouse type) of each column, in table order; [] for a missing relation."""
    params = {"database": relation.database, "table": relation.table}
    return [(str(name), str(type_)) for name, type_ in client.execute(COLUMNS_SQL, params)]


def final_count_sql(relation: Relation, column: str | None = None) -> str:
    """Rows under FINAL; with `column`, those in the window %(start)s..%(end)s (UTC) only."""
    sql = f"select count() from {relation.sql} final"
    if column is not None:
        col = f"`{validate_identifier(column, field='partition column')}`"
        start, end = "toDateTime64(%(start)s, 6, 'UTC')", "toDateTime64(%(end)s, 6, 'UTC')"
        sql += f" where {col} >= {start} and {col} < {end}"
    return sql


def utc_text(value: dt.datetime) -> str:
    """A datetime as UTC text with microseconds (clickhouse-driver would send a datetime in the
    server's time zone, to the second)."""
    if value.tzinfo is None:
        raise ValueError(f"window bound {value} has no time zone")
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def fetch_final_count(
    client: Any, relation: Relation, column: str | None = None, window: Any = None
) -> int:
    """Rows of `relation` under FINAL (in the half-open `window` of `column` when given)."""
    params = None
    if column is not None:
        params = {"start": utc_text(window[0]), "end": utc_text(window[1])}
    return int(client.execute(final_count_sql(relation, column), params)[0][0])


def duplicate_keys_sql(relation: Relation, key_columns: Sequence[str]) -> str:
    """Rows minus distinct keys read with FINAL: 0 when a ReplacingMergeTree is deduplicated."""
    cols = ", ".join(f"`{validate_identifier(c, field='key column')}`" for c in key_columns)
    return f"select count() - uniqExact(tuple({cols})) from {relation.sql} final"


def fetch_duplicate_keys(client: Any, relation: Relation, key_columns: Sequence[str]) -> int:
    return int(client.execute(duplicate_keys_sql(relation, key_columns))[0][0])


def table_exists(client: Any, relation: Relation) -> bool:
    return int(client.execute(f"exists table {relation.sql}")[0][0]) == 1


def _human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{int(value)} B"
        value /= 1024
    return f"{size} B"
