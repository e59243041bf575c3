"""DDL for the raw tables, built from the spec (identifiers validated, expressions parsed).

dlt 1.31 cannot create `ReplacingMergeTree(version)` for the merge/replace dispositions (it falls
back to MergeTree) and has no unsigned integer or UUID columns, so every raw table is created
here before the first load (`CREATE TABLE IF NOT EXISTS`); dlt then only adds drifted columns.
"""

from __future__ import annotations

from core.identifiers import quote_identifier as quote
from ingestion.generator import LOADED_FILES_COLUMNS, REJECTED_COLUMNS
from ingestion.layout import literal, loaded_files_layout, rejected_layout, table_layout
from ingestion.schema import INGESTED_AT, LOADED_FILES_TABLE, REJECTED_TABLE, TableSpec


def qualified(database: str, table: str) -> str:
    return f"{quote(database, field='database')}.{quote(table, field='table')}"


def column_definitions(spec: TableSpec) -> list[str]:
    lines = []
    for column in spec.columns:
        comment = f" COMMENT {literal(column.description)}" if column.description else ""
        lines.append(f"{quote(column.name)} {spec.clickhouse_type(column)}{comment}")
    lines.append(f"{quote(INGESTED_AT)} DateTime64(6, 'UTC') COMMENT 'load time (version)'")
    lines.append(f"{quote('_dlt_load_id')} String")
    lines.append(f"{quote('_dlt_id')} String DEFAULT ''")
    return lines


def create_table_sql(spec: TableSpec, database: str, replicated: bool = False) -> str:
    """`CREATE TABLE IF NOT EXISTS <database>.<source>___<table>` with the declared layout."""
    name = qualified(database, spec.raw_table)
    columns = ",\n    ".join(column_definitions(spec))
    sql = f"CREATE TABLE IF NOT EXISTS {name}\n(\n    {columns}\n)\n"
    sql += table_layout(spec, replicated).sql()
    if spec.description:
        sql += f"\nCOMMENT {literal(spec.description)}"
    return sql


_REJECTED_TYPES = {"text": "String", "bigint": "Int64", "timestamp": "DateTime64(6, 'UTC')"}
_LOADED_FILES_TYPES = {**_REJECTED_TYPES, "date": "Nullable(Date32)"}


def create_rejected_table_sql(source: str, database: str, replicated: bool = False) -> str:
    """The per-source rejected-rows table; one row per (table, file, row) once merged."""
    name = qualified(database, f"{source}___{REJECTED_TABLE}")
    columns = [f"{quote(k)} {_REJECTED_TYPES[v['data_type']]}" for k, v in REJECTED_COLUMNS.items()]
    columns += [f"{quote('_dlt_load_id')} String", f"{quote('_dlt_id')} String DEFAULT ''"]
    body = ",\n    ".join(columns)
    return (
        f"CREATE TABLE IF NOT EXISTS {name}\n(\n    {body}\n)\n"
        f"{rejected_layout(replicated).sql()}\n"
        "COMMENT 'Rows that did not fit the declared types (ingestion/schemas)'"
    )


def create_loaded_files_table_sql(source: str, database: str, replicated: bool = False) -> str:
    """The per-source record of loaded landing files (`ingestion.loaded`)."""
    name = qualified(database, f"{source}___{LOADED_FILES_TABLE}")
    columns = [
        f"{quote(k)} {_LOADED_FILES_TYPES[v['data_type']]}" for k, v in LOADED_FILES_COLUMNS.items()
    ]
    columns += [f"{quote('_dlt_load_id')} String", f"{quote('_dlt_id')} String DEFAULT ''"]
    body = ",\n    ".join(columns)
    return (
        f"CREATE TABLE IF NOT EXISTS {name}\n(\n    {body}\n)\n"
        f"{loaded_files_layout(replicated).sql()}\n"
        "COMMENT 'Landing files loaded, with their fingerprint (ingestion/loaded.py)'"
    )


def create_database_sql(database: str) -> str:
    return f"CREATE DATABASE IF NOT EXISTS {quote(database, field='database')}"
