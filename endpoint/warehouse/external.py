"""External data: tables a client sends along with its query (the native protocol's
external-table blocks, HTTP multipart file parts), visible to that query only.

Each is created as a temporary table on the request's own connection, filled from the client's
bytes in the format it declared, and dropped when the query is done.

    tables = [ExternalTable("ids", "id UInt64", "TabSeparated", [b"1\\n2\\n"])]
    with loaded(conn, tables):
        conn.query("SELECT * FROM t WHERE id IN ids")
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from warehouse.engine import ClickHouseError
from warehouse.engine import quote_ident as _ident

DEFAULT_FORMAT = "TabSeparated"  # clickhouse-server's default for `<name>_format`


@dataclass
class ExternalTable:
    name: str
    columns: str  # the column list as SQL: "a UInt8, b String"
    fmt: str
    chunks: Iterable[bytes]
    has_data: bool = True


def create(conn: Any, tables: Iterable[ExternalTable]) -> list[str]:
    """Create and fill the tables on `conn`; return the names created (drop them with `drop`).
    Tables already created are dropped again if a later one fails."""
    created: list[str] = []
    try:
        for table in tables:
            name = _ident(table.name)
            if table.name not in created:
                conn.query(f"CREATE TEMPORARY TABLE {name} ({table.columns})", "Native")
                created.append(table.name)
            if table.has_data:
                conn.insert(f"INSERT INTO {name}", table.fmt, table.chunks)
    except BaseException:
        drop(conn, created)
        raise
    return created


def drop(conn: Any, names: Iterable[str]) -> None:
    for name in names:
        with contextlib.suppress(ClickHouseError):
            conn.query(f"DROP TEMPORARY TABLE IF EXISTS {_ident(name)}", "Native")


@contextlib.contextmanager
def loaded(conn: Any, tables: list[ExternalTable]) -> Iterator[None]:
    """The tables exist on `conn` inside the block (nothing is done for no tables)."""
    created = create(conn, tables) if tables else []
    try:
        yield
    finally:
        drop(conn, created)
