"""What a ClickHouse 26.x server answers, through the real clients (clickhouse-connect sync and
async, clickhouse-driver, dbt-clickhouse's http and native clients): SQL bytes kept exactly,
multi-statement requests refused whole, system.query_log under the clients' query ids."""

from __future__ import annotations

import io
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError
from clickhouse_driver import Client
from clickhouse_driver.errors import ServerException
from dbt.adapters.clickhouse.credentials import ClickHouseCredentials
from dbt.adapters.clickhouse.dbclient import get_db_client
from dbt_common.exceptions import DbtDatabaseError

pytestmark = pytest.mark.integration

NOT_UTF8 = b"ab\xff\xfe"  # a real server: hex() = 6162FFFE


@pytest.fixture
def native(warehouse) -> Iterator[Client]:
    client = Client(warehouse.host, port=warehouse.tcp_port)
    yield client
    client.disconnect()


@pytest.fixture(params=["http", "native"])
def dbt_client(request, warehouse, db: str) -> Iterator[Any]:
    """dbt-clickhouse's own client (the one dbt runs statements with), either driver."""
    port = warehouse.http_port if request.param == "http" else warehouse.tcp_port
    credentials = ClickHouseCredentials(
        driver=request.param, host=warehouse.host, port=port, schema=db, database=""
    )
    client = get_db_client(credentials)
    yield client
    client.close()


def _exists(ch, db: str, table: str) -> bool:
    return ch.command(f"EXISTS TABLE {db}.{table}") == 1


# -- 1. SQL bytes reach the engine exactly as sent ------------------------------------------


def test_sql_bytes_in_the_body_are_kept(run_async, ch, warehouse) -> None:
    # `data` goes in the request body, after the URL's query and a newline
    assert ch.command("SELECT hex(", data=b"'" + NOT_UTF8 + b"')") == "6162FFFE"
    # clickhouse-connect's binary parameters splice raw bytes into the SQL ($name$ heredoc)
    rows = ch.query("SELECT hex($b$) AS h", parameters={"$b$": NOT_UTF8}).result_rows
    assert rows == [("6162FFFE",)]

    async def work(client) -> Any:
        return await client.command("SELECT hex(", data=b"'" + NOT_UTF8 + b"')")

    assert run_async(work) == "6162FFFE"


def test_sql_bytes_in_the_url_are_kept(warehouse) -> None:
    query = urllib.parse.quote_from_bytes(b"SELECT hex('" + NOT_UTF8 + b"')")
    url = f"http://{warehouse.host}:{warehouse.http_port}/?query={query}"
    with urllib.request.urlopen(url) as response:  # the interface itself: GET /?query=
        assert response.read() == b"6162FFFE\n"


def test_inline_parquet_literal_is_inserted_exactly(ch, db: str) -> None:
    table = pa.table({"id": pa.array([1, 2, 3], pa.uint32()), "name": ["a", "é", "\u00ff"]})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    blob = sink.getvalue()
    assert not _is_utf8(blob)
    ch.command(f"CREATE TABLE {db}.p (id UInt32, name String) ENGINE = MergeTree ORDER BY id")
    ch.command(
        f"INSERT INTO {db}.p SELECT * FROM format(Parquet, $blob$)", parameters={"$blob$": blob}
    )
    rows = ch.query(f"SELECT id, name FROM {db}.p ORDER BY id").result_rows
    assert rows == [(1, "a"), (2, "é"), (3, "\u00ff")]


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


# -- 2. multi-statement requests are refused whole, before anything runs --------------------

TWO = "CREATE TABLE {db}.{t} (a UInt8) ENGINE = Memory; SELECT nosuchfn()"


def _assert_refused(text: str) -> None:
    assert "Multi-statements are not allowed" in text
    assert "SYNTAX_ERROR" in text and "nosuchfn" in text  # where it failed


def test_multi_statements_refused_by_clickhouse_connect(run_async, ch, warehouse, db: str) -> None:
    with pytest.raises(DatabaseError) as err:
        ch.command(TWO.format(db=db, t="sync"))
    _assert_refused(str(err.value))
    assert "Code: 62" in str(err.value)
    with pytest.raises(DatabaseError) as err:  # a streamed result (query, not command)
        ch.query(f"SELECT 1; INSERT INTO {db}.nowhere SELECT nosuchfn()")
    _assert_refused(str(err.value))

    async def work(client) -> None:
        await client.command(TWO.format(db=db, t="async"))

    with pytest.raises(DatabaseError) as err:
        run_async(work)
    _assert_refused(str(err.value))
    assert not _exists(ch, db, "sync") and not _exists(ch, db, "async")
    # one statement with trailing semicolons and comments is one statement
    assert ch.command("SELECT 1; ;  -- done") == 1


def test_multi_statements_refused_on_the_native_port(ch, native: Client, db: str) -> None:
    with pytest.raises(ServerException) as err:
        native.execute(TWO.format(db=db, t="n"))
    assert err.value.code == 62
    _assert_refused(err.value.message)
    assert not _exists(ch, db, "n")
    assert native.execute("SELECT 2;") == [(2,)]


def test_multi_statements_refused_to_dbt(ch, dbt_client, db: str) -> None:
    with pytest.raises(DbtDatabaseError) as err:
        dbt_client.command(TWO.format(db=db, t="dbt"))
    _assert_refused(str(err.value))
    assert not _exists(ch, db, "dbt")


# -- 5. system.query_log under the query ids the clients gave ---------------------------------

LOG_COLUMNS = (
    "SELECT type, query, read_rows, written_rows, query_duration_ms >= 0, "
    "event_time <= now(), length(projections) FROM system.query_log "
    "WHERE query_id = {qid:String} ORDER BY event_time_microseconds, type"
)


def _log(ch, qid: str) -> list[tuple]:
    ch.command("SYSTEM FLUSH LOGS")
    return ch.query(LOG_COLUMNS, parameters={"qid": qid}).result_rows


def test_query_log_over_http(ch, db: str) -> None:
    ch.command(f"CREATE TABLE {db}.q (a UInt64) ENGINE = MergeTree ORDER BY a")
    insert_id, select_id, failed_id = (f"cc-{uuid.uuid4()}" for _ in range(3))
    ch.insert(f"{db}.q", [[1], [2], [3]], column_names=["a"], settings={"query_id": insert_id})
    ch.query(f"SELECT sum(a) FROM {db}.q", settings={"query_id": select_id})
    with pytest.raises(DatabaseError):
        ch.query("SELECT nosuchfn()", settings={"query_id": failed_id})
    inserted = _log(ch, insert_id)
    assert [row[0] for row in inserted] == ["QueryStart", "QueryFinish"]
    assert inserted[1][1].startswith(f"INSERT INTO {db}.q")
    assert inserted[1][3] == 3  # written_rows
    selected = _log(ch, select_id)
    assert selected[-1][0] == "QueryFinish" and selected[-1][2] == 3
    assert selected[-1][1].startswith(f"SELECT sum(a) FROM {db}.q")  # as the client sent it
    assert all(row[4] and row[5] for row in selected)
    failed = _log(ch, failed_id)
    assert [row[0] for row in failed] == ["ExceptionBeforeStart"]
    # the endpoint's own statements (e.g. its check of the insert's target) are not shown
    queries = ch.query("SELECT query FROM system.query_log").result_rows
    own = "SELECT engine, create_table_query, length(dependencies_table)"  # engine.py's check
    assert queries and not any(q.startswith(own) for (q,) in queries)


def test_query_log_over_the_native_port(ch, native: Client) -> None:
    qid = f"drv-{uuid.uuid4()}"
    assert native.execute("SELECT 7", query_id=qid) == [(7,)]
    rows = _log(ch, qid)
    assert [row[:2] for row in rows] == [("QueryStart", "SELECT 7"), ("QueryFinish", "SELECT 7")]


def test_query_log_shows_projections(ch, db: str) -> None:
    ch.command(
        f"CREATE TABLE {db}.pr (a UInt64, b UInt64, PROJECTION by_b (SELECT a, b ORDER BY b)) "
        "ENGINE = MergeTree ORDER BY a"
    )
    ch.command(f"INSERT INTO {db}.pr SELECT number, number * 2 FROM numbers(100000)")
    qid = f"proj-{uuid.uuid4()}"
    ch.query(
        f"SELECT a FROM {db}.pr WHERE b = 10",
        settings={"query_id": qid, "force_optimize_projection": 1},
    )
    ch.command("SYSTEM FLUSH LOGS")
    rows = ch.query(
        "SELECT projections FROM system.query_log WHERE query_id = {qid:String} "
        "AND type = 'QueryFinish'",
        parameters={"qid": qid},
    ).result_rows
    assert rows == [([f"{db}.pr.by_b"],)]


def test_dbt_gets_the_columns_timezone(dbt_client) -> None:
    # both drivers' clients tell the column's timezone from the type label the server sends
    rows = dbt_client.query("SELECT toDateTime(0, 'Asia/Tokyo') AS t").result_set
    assert str(rows[0][0].tzinfo) == "Asia/Tokyo"
    assert rows[0][0].hour == 9 and rows[0][0].timestamp() == 0
