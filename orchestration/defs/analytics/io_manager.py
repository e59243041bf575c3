"""The IO manager of the Python assets: dagster-clickhouse-pandas, with what this platform needs
on top of it.

`ClickhousePandasIOManager` as shipped creates `MergeTree ORDER BY tuple()` tables with types
guessed from pandas dtypes (Int64/Float64/String), replaces a table by TRUNCATE then INSERT, and
reads an input as `SELECT * FROM db.table` (no FINAL for ReplacingMergeTree, no aggregation in
ClickHouse, and a partitioned upstream needs `partition_expr` metadata the dbt assets do not
carry). So:

- outputs: the table is created from the asset's declared schema, engine and order
  (`DeclaredTable`), filled through the package's own type handler (clickhouse-driver
  `insert_dataframe`) into a staging table, then swapped in with `EXCHANGE TABLES`: readers never
  see an empty or half-written table. Metadata: ClickHouse column types and rows as stored.
- inputs: the asset input's `clickhouse/select` aggregate (or its `columns`) over the upstream
  table, read with FINAL when that table is a ReplacingMergeTree; the whole upstream table when
  it is partitioned and the reader is not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
import pandas as pd
from dagster._core.definitions.metadata.metadata_set import TableMetadataSet
from dagster._core.storage.db_io_manager import DbIOManager, DbTypeHandler, TableSlice
from dagster_clickhouse.db_client import ClickhouseDbClient
from dagster_clickhouse_pandas import ClickhousePandasIOManager, ClickhousePandasTypeHandler

from orchestration.defs.analytics.tables import INPUT_SELECT_KEY, DeclaredTable, input_sql
from orchestration.defs.clickhouse import Relation
from orchestration.defs.resources import clickhouse_config

IO_MANAGER_KEY = "clickhouse_io_manager"
STAGING_SUFFIX = "__staging"

TABLE_SQL = "select engine, engine_full from system.tables where database = %(db)s and name = %(t)s"
COLUMNS_SQL = (
    "select name, type from system.columns where database = %(db)s and table = %(t)s"
    " order by position"
)


def _relation(table_slice: TableSlice, suffix: str = "") -> Relation:
    return Relation(table_slice.schema, table_slice.table + suffix)


def table_engine(connection: Any, relation: Relation) -> tuple[str, str] | None:
    rows = connection.execute(TABLE_SQL, {"db": relation.database, "t": relation.table})
    return (rows[0][0], rows[0][1]) if rows else None


class DeclaredTableHandler(ClickhousePandasTypeHandler):
    """Writes a DataFrame as the asset's declared table, swapped in atomically."""

    def handle_output(
        self, context: dg.OutputContext, table_slice: TableSlice, obj: pd.DataFrame, connection
    ) -> Mapping[str, Any]:
        asset = context.asset_key.to_user_string()
        if context.has_partition_key:
            raise ValueError(f"asset {asset}: partitioned outputs are not supported here")
        declared = DeclaredTable.from_metadata(context.definition_metadata or {}, asset=asset)
        missing = [c for c in declared.names if c not in obj.columns]
        extra = [c for c in obj.columns if c not in declared.names]
        if missing or extra:
            raise ValueError(
                f"asset {asset}: the DataFrame's columns differ from the declared schema"
                f" (missing {missing}, undeclared {extra})"
            )
        target, staging = _relation(table_slice), _relation(table_slice, STAGING_SUFFIX)
        connection.execute(f"drop table if exists {staging.sql}")
        connection.execute(declared.create_sql(staging))
        staging_slice = TableSlice(table=staging.table, schema=staging.database)
        super().handle_output(context, staging_slice, obj[declared.names], connection)
        if table_engine(connection, target) is None:
            connection.execute(f"rename table {staging.sql} to {target.sql}")
        else:
            connection.execute(f"exchange tables {staging.sql} and {target.sql}")
            connection.execute(f"drop table {staging.sql}")
        return stored_metadata(connection, target)


def stored_metadata(connection: Any, relation: Relation) -> dict[str, Any]:
    """What the table holds now: rows, ClickHouse column types, engine."""
    params = {"db": relation.database, "t": relation.table}
    rows = connection.execute(f"select count() from {relation.sql}")[0][0]
    columns = connection.execute(COLUMNS_SQL, params)
    engine = table_engine(connection, relation)
    return {
        **TableMetadataSet(
            row_count=int(rows),
            table_name=str(relation),
            column_schema=dg.TableSchema(
                columns=[dg.TableColumn(name, type_) for name, type_ in columns]
            ),
        ),
        "clickhouse/engine_full": engine[1] if engine else "",
    }


class AnalyticsDbClient(ClickhouseDbClient):
    """The handler replaces whole tables by EXCHANGE: nothing to delete beforehand."""

    @staticmethod
    def delete_table_slice(context: dg.OutputContext, table_slice: TableSlice, connection) -> None:
        return None


class AnalyticsDbIOManager(DbIOManager):
    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        key = context.asset_key
        relation = Relation(key.path[-2], key.path[-1])
        meta = context.definition_metadata or {}
        with self._db_client.connect(
            context, TableSlice(relation.table, relation.database)
        ) as conn:
            engine = table_engine(conn, relation)
            if engine is None:
                raise ValueError(
                    f"input {key.to_user_string()}: table {relation} does not exist;"
                    " materialize it first"
                )
            sql = input_sql(
                relation,
                final=engine[0].startswith("Replacing"),
                select=meta.get(INPUT_SELECT_KEY),
                columns=meta.get("columns") or (),
            )
            context.log.debug(f"reading {key.to_user_string()}: {sql}")
            return conn.query_dataframe(sql, settings={"use_numpy": True})


class AnalyticsIOManager(ClickhousePandasIOManager):
    """ClickhousePandasIOManager writing declared tables and reading marts (see module doc)."""

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [DeclaredTableHandler()]

    def create_io_manager(self, context) -> DbIOManager:
        return AnalyticsDbIOManager(
            db_client=AnalyticsDbClient(),
            database=self.database,
            schema=self.schema_,
            type_handlers=self.type_handlers(),
            default_load_type=self.default_load_type(),
            io_manager_name="AnalyticsIOManager",
        )


def analytics_io_manager() -> AnalyticsIOManager:
    """Native protocol to the configured ClickHouse, as the `clickhouse` resource."""
    return AnalyticsIOManager(**clickhouse_config())
