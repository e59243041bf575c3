"""A Python asset's ClickHouse table as declared on the asset: columns with ClickHouse types,
engine and sort key. The declaration lives in the asset's definition metadata (so the UI shows
it) and the IO manager builds the table's DDL from it. SQL builders are pure."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from core.identifiers import validate_identifier
from orchestration.defs.clickhouse import Relation

ENGINE_KEY = "clickhouse/engine"
ORDER_BY_KEY = "clickhouse/order_by"
COLUMN_SCHEMA_KEY = "dagster/column_schema"
# the SQL an input is read with, `{table}` standing for the upstream relation (FINAL added for
# ReplacingMergeTree): an aggregate, so ClickHouse does the heavy lifting, not the asset's memory
INPUT_SELECT_KEY = "clickhouse/select"

ENGINES = ("MergeTree", "ReplacingMergeTree", "SummingMergeTree")
_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(\((?:[A-Za-z0-9_ ,']|\([A-Za-z0-9_ ,']*\))*\))?$")


@dataclass(frozen=True)
class DeclaredTable:
    columns: tuple[tuple[str, str], ...]  # (name, ClickHouse type)
    engine: str
    order_by: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"engine {self.engine!r}: expected one of {', '.join(ENGINES)}")
        names = {validate_identifier(name, field="column") for name, _ in self.columns}
        for name, type_ in self.columns:
            if not _TYPE.match(type_):
                raise ValueError(f"column {name!r}: {type_!r} is not a ClickHouse type")
        for name in self.order_by:
            if name not in names:
                raise ValueError(f"order_by column {name!r} is not a declared column")

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.columns]

    def metadata(self, description: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Definition metadata of the asset: its column schema, engine and sort key."""
        description = description or {}
        return {
            COLUMN_SCHEMA_KEY: dg.TableSchema(
                columns=[
                    dg.TableColumn(name, type_, description=description.get(name))
                    for name, type_ in self.columns
                ]
            ),
            ENGINE_KEY: self.engine,
            ORDER_BY_KEY: ", ".join(self.order_by),
        }

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any], *, asset: str) -> DeclaredTable:
        schema = metadata.get(COLUMN_SCHEMA_KEY)
        schema = getattr(schema, "schema", schema)  # a TableSchemaMetadataValue or the schema
        if not isinstance(schema, dg.TableSchema) or ENGINE_KEY not in metadata:
            raise ValueError(
                f"asset {asset}: the ClickHouse IO manager needs {COLUMN_SCHEMA_KEY} and"
                f" {ENGINE_KEY} in the asset's metadata (see DeclaredTable.metadata)"
            )
        order_by = str(_text(metadata.get(ORDER_BY_KEY)) or "")
        return cls(
            columns=tuple((c.name, c.type) for c in schema.columns),
            engine=str(_text(metadata[ENGINE_KEY])),
            order_by=tuple(n.strip() for n in order_by.split(",") if n.strip()),
        )

    def create_sql(self, relation: Relation) -> str:
        cols = ", ".join(f"`{name}` {type_}" for name, type_ in self.columns)
        order = ", ".join(f"`{name}`" for name in self.order_by) or ""
        return f"create table {relation.sql} ({cols}) engine = {self.engine} order by ({order})"


def _text(value: Any) -> Any:
    return getattr(value, "value", getattr(value, "text", value))


def input_sql(
    relation: Relation, *, final: bool, select: str | None, columns: Sequence[str]
) -> str:
    """What an input reads: the declared aggregate over the upstream table, or its columns."""
    source = f"{relation.sql} final" if final else relation.sql
    if select:
        return select.format(table=source)
    cols = ", ".join(f"`{validate_identifier(c, field='column')}`" for c in columns) or "*"
    return f"select {cols} from {source}"
