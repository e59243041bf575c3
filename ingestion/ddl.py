"""DDL for the raw tables, built from the spec (identifiers validated, expressions parsed).

dlt 1.31 cannot create `ReplacingMergeTree(version)` for the merge/replace dispositions (it falls
back to MergeTree) and has no unsigned integer or UUID columns, so every raw table is created
here before the first load (`CREATE TABLE IF NOT EXISTS`); dlt then only adds drifted columns.
"""

from __future__ import annotations

from core.identifiers import validate_identifier
from ingestion.generator import REJECTED_COLUMNS
from ingestion.schema import INGESTED_AT, REJECTED_TABLE, TableSpec, check_expression
from ingestion.types import clickhouse_type


def quote(identifier: str, field: str = "identifier") -> str:
    return f"`{validate_identifier(identifier, field=field)}`"


def literal(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return str(value)
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def column_definitions(spec: TableSpec) -> list[str]:
    lines = []
    for column in spec.columns:
        comment = f" COMMENT {literal(column.description)}" if column.description else ""
        ch_type = clickhouse_type(column.parsed_type, spec.is_nullable(column))
        lines.append(f"{quote(column.name)} {ch_type}{comment}")
    lines.append(f"{quote(INGESTED_AT)} DateTime64(6, 'UTC') COMMENT 'load time (version)'")
    lines.append(f"{quote('_dlt_load_id')} String")
    lines.append(f"{quote('_dlt_id')} String DEFAULT ''")
    return lines


def engine_clause(spec: TableSpec, replicated: bool = False) -> str:
    """The declared engine; `Replicated*` (no path arguments: the server's default replica path)
    when the raw database lives on a cluster (CLICKHOUSE_CLUSTER set)."""
    prefix = "Replicated" if replicated else ""
    if spec.clickhouse.engine == "ReplacingMergeTree":
        return f"{prefix}ReplacingMergeTree({quote(spec.version_column)})"
    return f"{prefix}MergeTree"


def create_table_sql(spec: TableSpec, database: str, replicated: bool = False) -> str:
    """`CREATE TABLE IF NOT EXISTS <database>.<source>___<table>` with the declared layout."""
    name = f"{quote(database, 'database')}.{quote(spec.raw_table, 'table')}"
    columns = ",\n    ".join(column_definitions(spec))
    engine = engine_clause(spec, replicated)
    sql = f"CREATE TABLE IF NOT EXISTS {name}\n(\n    {columns}\n)\nENGINE = {engine}"
    if spec.clickhouse.partition_by:
        problem = check_expression(spec.clickhouse.partition_by)
        if problem:
            raise ValueError(f"{spec.path}: clickhouse.partition_by {problem}")
        sql += f"\nPARTITION BY {spec.clickhouse.partition_by}"
    keys = [quote(c) for c in spec.order_by]
    if len(keys) == 1:
        sql += f"\nORDER BY {keys[0]}"
    else:
        sql += f"\nORDER BY ({', '.join(keys)})" if keys else "\nORDER BY tuple()"
    if spec.clickhouse.settings:
        settings = ", ".join(
            f"{validate_identifier(k, field='settings')} = {literal(v)}"
            for k, v in spec.clickhouse.settings.items()
        )
        sql += f"\nSETTINGS {settings}"
    if spec.description:
        sql += f"\nCOMMENT {literal(spec.description)}"
    return sql


_REJECTED_TYPES = {"text": "String", "bigint": "Int64", "timestamp": "DateTime64(6, 'UTC')"}


def create_rejected_table_sql(source: str, database: str, replicated: bool = False) -> str:
    """The per-source rejected-rows table; one row per (table, file, row) once merged."""
    name = f"{quote(database, 'database')}.{quote(f'{source}___{REJECTED_TABLE}', 'table')}"
    columns = [f"{quote(k)} {_REJECTED_TYPES[v['data_type']]}" for k, v in REJECTED_COLUMNS.items()]
    columns += [f"{quote('_dlt_load_id')} String", f"{quote('_dlt_id')} String DEFAULT ''"]
    body = ",\n    ".join(columns)
    return (
        f"CREATE TABLE IF NOT EXISTS {name}\n(\n    {body}\n)\n"
        f"ENGINE = {'Replicated' if replicated else ''}ReplacingMergeTree(`rejected_at`)\n"
        "ORDER BY (`table_name`, `file`, `row_number`)\n"
        "COMMENT 'Rows that did not fit the declared types (ingestion/schemas)'"
    )


def create_database_sql(database: str) -> str:
    return f"CREATE DATABASE IF NOT EXISTS {quote(database, 'database')}"
