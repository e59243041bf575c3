"""The ClickHouse layout of a raw table (engine, sort key, partition, settings), in one place.

`ingestion.ddl` writes it as CREATE TABLE; `clickhouse_hints` hands the same layout to dlt's
`clickhouse_adapter`. On a cluster (CLICKHOUSE_CLUSTER set) every engine is its `Replicated*`
variant with no path arguments (the server's default replica path).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.identifiers import quote_identifier, validate_identifier
from ingestion.schema import TableSpec, check_expression


def literal(value: object) -> str:
    """A ClickHouse literal for a number, boolean or string."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return str(value)
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


@dataclass(frozen=True)
class Layout:
    engine: str  # "MergeTree" or "ReplacingMergeTree"
    order_by: tuple[str, ...]
    version: str | None = None  # ReplacingMergeTree's version column
    partition_by: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    replicated: bool = False

    @property
    def replacing(self) -> bool:
        return self.engine == "ReplacingMergeTree"

    def engine_sql(self) -> str:
        name = ("Replicated" if self.replicated else "") + self.engine
        if self.replacing and self.version:
            return f"{name}({quote_identifier(self.version)})"
        return name

    def sql(self) -> str:
        """The ENGINE, PARTITION BY, ORDER BY and SETTINGS clauses of CREATE TABLE."""
        lines = [f"ENGINE = {self.engine_sql()}"]
        if self.partition_by:
            lines.append(f"PARTITION BY {self.partition_by}")
        keys = [quote_identifier(c) for c in self.order_by]
        if len(keys) == 1:
            lines.append(f"ORDER BY {keys[0]}")
        else:
            lines.append(f"ORDER BY ({', '.join(keys)})" if keys else "ORDER BY tuple()")
        if self.settings:
            pairs = (
                f"{validate_identifier(k, field='settings')} = {literal(v)}"
                for k, v in self.settings.items()
            )
            lines.append(f"SETTINGS {', '.join(pairs)}")
        return "\n".join(lines)

    def dlt_hints(self, write_disposition: str) -> dict[str, Any]:
        """Arguments for dlt's `clickhouse_adapter`: engine, sort, partition, settings.

        dlt 1.31 builds `ReplacingMergeTree(version)` only for the append disposition (its merge
        falls back to MergeTree); the raw table itself is created by `ingestion.ddl` either way,
        so these hints describe it to dlt and shape dlt's own staging tables (delete-insert
        merges). On a cluster dlt's staging tables become ReplicatedMergeTree too (a per-table
        hint overrides dlt's config)."""
        if self.replicated:
            engine = "replicated_merge_tree"
        elif self.replacing and write_disposition == "append":
            engine = "replacing_merge_tree"
        else:
            engine = "merge_tree"
        hints: dict[str, Any] = {"table_engine_type": engine}
        if self.order_by:
            hints["sort"] = list(self.order_by)
        if self.partition_by:
            hints["partition"] = self.partition_by
        if self.settings:
            hints["settings"] = dict(self.settings)
        return hints


def table_layout(spec: TableSpec, replicated: bool = False) -> Layout:
    """The declared layout of `spec`'s raw table (partition expression checked)."""
    partition_by = spec.clickhouse.partition_by
    if partition_by and (problem := check_expression(partition_by)):
        raise ValueError(f"{spec.path}: clickhouse.partition_by {problem}")
    return Layout(
        engine=spec.clickhouse.engine,
        order_by=tuple(spec.order_by),
        version=spec.version_column,
        partition_by=partition_by,
        settings=dict(spec.clickhouse.settings),
        replicated=replicated,
    )


def rejected_layout(replicated: bool = False) -> Layout:
    """A source's rejected-rows table: one row per (table, file, row) once merged."""
    return Layout(
        engine="ReplacingMergeTree",
        order_by=("table_name", "file", "row_number"),
        version="rejected_at",
        replicated=replicated,
    )


def loaded_files_layout(replicated: bool = False) -> Layout:
    """A source's record of loaded landing files: one row per (table, file) once merged."""
    return Layout(
        engine="ReplacingMergeTree",
        order_by=("table_name", "file"),
        version="loaded_at",
        replicated=replicated,
    )


def engine_clause(spec: TableSpec, replicated: bool = False) -> str:
    return table_layout(spec, replicated).engine_sql()


def clickhouse_hints(spec: TableSpec, replicated: bool = False) -> dict[str, Any]:
    """`spec`'s layout as dlt hints (see `Layout.dlt_hints`)."""
    return table_layout(spec, replicated).dlt_hints(spec.dlt_write_disposition)
