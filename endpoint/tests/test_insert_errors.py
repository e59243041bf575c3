"""Inserts rejected after parsing (CHECK constraints, throwing DEFAULTs, failing materialized
views) reach the client as errors, over HTTP and native TCP, and commit nothing."""

from __future__ import annotations

import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

pytestmark = pytest.mark.integration


@pytest.fixture
def tables(ch, db) -> str:
    ch.command(
        f"CREATE TABLE {db}.checked (a UInt32, CONSTRAINT small CHECK a < 100) "
        "ENGINE = MergeTree ORDER BY a"
    )
    ch.command(
        f"CREATE TABLE {db}.defaults (a UInt32, b UInt32 DEFAULT throwIf(a > 10), "
        "at DateTime DEFAULT now()) ENGINE = MergeTree ORDER BY a"
    )
    ch.command(f"CREATE TABLE {db}.src (a UInt32) ENGINE = MergeTree ORDER BY a")
    ch.command(
        f"CREATE MATERIALIZED VIEW {db}.mv ENGINE = MergeTree ORDER BY x "
        f"AS SELECT throwIf(a > 10) AS x FROM {db}.src"
    )
    return db


def _count(ch, table: str) -> int:
    return ch.query(f"SELECT count() FROM {table}").result_rows[0][0]


def test_http_clickhouse_connect(ch, tables) -> None:
    db = tables
    with pytest.raises(DatabaseError) as err:
        ch.insert(f"{db}.checked", [[5], [500]], column_names=["a"])
    assert "469" in str(err.value)
    assert _count(ch, f"{db}.checked") == 0
    ch.insert(f"{db}.checked", [[5], [6]], column_names=["a"])
    assert _count(ch, f"{db}.checked") == 2
    with pytest.raises(DatabaseError) as err:
        ch.insert(f"{db}.defaults", [[500]], column_names=["a"])
    assert "395" in str(err.value)
    ch.insert(f"{db}.defaults", [[5]], column_names=["a"])
    assert ch.query(f"SELECT a, b FROM {db}.defaults").result_rows == [(5, 0)]


def test_http_raw_insert_formats(warehouse, ch, tables) -> None:
    db = tables
    for table, body, code in [
        ("checked", b"1\n500\n", "469"),
        ("src", b"500\n", "395"),
    ]:
        query = urlencode({"query": f"INSERT INTO {db}.{table} FORMAT TSV"})
        url = f"http://{warehouse.host}:{warehouse.http_port}/?{query}"
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(urllib.request.Request(url, data=body))
        assert err.value.code == 500
        assert err.value.headers["X-ClickHouse-Exception-Code"] == code
    assert _count(ch, f"{db}.checked") == 0


def test_native_clickhouse_driver(warehouse, ch, tables) -> None:
    assert warehouse.tcp_port, "the endpoint must serve the native protocol"
    from clickhouse_driver import Client
    from clickhouse_driver.errors import ServerException

    db = tables
    client = Client(host=warehouse.host, port=warehouse.tcp_port)
    with pytest.raises(ServerException) as err:
        client.execute(f"INSERT INTO {db}.checked (a) VALUES", [(1,), (500,)])
    assert err.value.code == 469
    with pytest.raises(ServerException) as err:
        client.execute(f"INSERT INTO {db}.src (a) VALUES", [(500,)])
    assert err.value.code == 395
    # the connection stays usable and good rows still land
    client.execute(f"INSERT INTO {db}.checked (a) VALUES", [(7,)])
    assert client.execute(f"SELECT a FROM {db}.checked") == [(7,)]
    client.disconnect()
