"""What a ClickHouse 26.x server answers, through the real clients (part 2): multipart requests
with external data and form-encoded parameters, response headers per kind of statement,
session locks, parameters in INSERT … VALUES, the native port's reply to HTTP."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import clickhouse_connect
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError
from clickhouse_connect.driver.external import ExternalData
from clickhouse_driver import Client

pytestmark = pytest.mark.integration

LARGE = "x" * 10_000  # bound parameters this long go as multipart form fields


def _csv_ids() -> ExternalData:
    return ExternalData(
        file_name="ids.csv", data=b"1,a\n2,b\n3,c\n", fmt="CSV", structure=["id UInt32", "s String"]
    )


# -- 3. multipart/form-data: external data and form-encoded parameters -----------------------


def test_external_data_with_structure_and_format(ch, db: str) -> None:
    ch.command(f"CREATE TABLE {db}.t (id UInt32, v String) ENGINE = MergeTree ORDER BY id")
    ch.command(f"INSERT INTO {db}.t VALUES (1, 'one'), (2, 'two'), (4, 'four')")
    rows = ch.query(
        f"SELECT t.v, ids.s FROM {db}.t AS t JOIN ids ON t.id = ids.id ORDER BY t.id",
        external_data=_csv_ids(),
    ).result_rows
    assert rows == [("one", "a"), ("two", "b")]
    # the table lived for that request only
    with pytest.raises(DatabaseError, match="UNKNOWN_TABLE"):
        ch.query("SELECT * FROM ids")


def test_external_data_with_types_defaults_to_tab_separated(ch) -> None:
    data = ExternalData(
        file_name="pairs", data=b"5\t1.50\n6\t2.25\n", types=["UInt8", "Decimal(9, 2)"]
    )
    rows = ch.query(
        "SELECT _1, toString(_2 * 2), toTypeName(_2) FROM pairs ORDER BY _1", external_data=data
    )
    assert rows.result_rows == [(5, "3", "Decimal(9, 2)"), (6, "4.5", "Decimal(9, 2)")]


def test_two_external_files_and_a_command(ch) -> None:
    data = _csv_ids()
    data.add_file(file_name="names", data=b"b\nc\n", structure="s String")
    rows = ch.query(
        "SELECT id FROM ids WHERE s IN (SELECT s FROM names) ORDER BY id", external_data=data
    )
    assert rows.result_rows == [(2,), (3,)]
    assert ch.command("SELECT sum(id) FROM ids", external_data=_csv_ids()) == 6


def test_external_data_without_structure_is_refused(ch) -> None:
    data = ExternalData(file_name="bare", data=b"1\n")
    with pytest.raises(DatabaseError) as info:
        ch.query("SELECT * FROM bare", external_data=data)
    assert "Code: 36" in str(info.value)
    assert "Neither structure nor types have not been provided for external table bare" in str(
        info.value
    )


def test_external_data_in_a_session_leaves_the_session_clean(warehouse) -> None:
    client = clickhouse_connect.get_client(
        host=warehouse.host, port=warehouse.http_port, session_id=f"s-{uuid.uuid4().hex}"
    )
    try:
        client.command("SET max_threads = 3")
        assert client.command("SELECT count() FROM ids", external_data=_csv_ids()) == 3
        assert client.command("SELECT getSetting('max_threads')") == 3
        assert client.command("SELECT count() FROM system.tables WHERE is_temporary") == 0
    finally:
        client.close()


def test_external_data_async(run_async, warehouse) -> None:
    async def work(client) -> Any:
        result = await client.query(
            "SELECT sum(id), groupArray(s) FROM ids", external_data=_csv_ids()
        )
        return result.result_rows

    assert run_async(work) == [(6, ["a", "b", "c"])]


def test_large_parameters_go_as_form_fields(run_async, ch, warehouse) -> None:
    assert ch.query("SELECT length({p:String})", parameters={"p": LARGE}).result_rows == [(10_000,)]
    with_data = ch.query(
        "SELECT count() FROM ids WHERE s != {p:String}",
        parameters={"p": LARGE},
        external_data=_csv_ids(),
    )
    assert with_data.result_rows == [(3,)]

    async def work(client) -> Any:
        result = await client.query("SELECT length({p:String})", parameters={"p": LARGE})
        return result.result_rows

    assert run_async(work) == [(10_000,)]


def test_forced_form_encoding(warehouse) -> None:
    client = clickhouse_connect.get_client(
        host=warehouse.host, port=warehouse.http_port, form_encode_query_params=True
    )
    try:
        assert client.query("SELECT {a:UInt8} + 1", parameters={"a": 41}).result_rows == [(42,)]
    finally:
        client.close()


# -- 4. response headers per kind of statement ----------------------------------------------


def _post(warehouse, sql: bytes, query: str = "") -> Any:
    url = f"http://{warehouse.host}:{warehouse.http_port}/{query}"
    return urllib.request.urlopen(urllib.request.Request(url, data=sql), timeout=30)


def test_headers_of_a_result_and_of_statements_without_one(warehouse, db: str) -> None:
    with _post(warehouse, b"SELECT 1 FORMAT JSONEachRow", "?query_id=q-sel") as resp:
        assert resp.headers["X-ClickHouse-Format"] == "JSONEachRow"
        assert resp.headers["X-ClickHouse-Query-Id"] == "q-sel"
        assert resp.headers["X-ClickHouse-Timezone"] == "UTC"
        assert resp.read() == b'{"1":1}\n'
    ddl = f"CREATE TABLE {db}.h (a UInt8) ENGINE = MergeTree ORDER BY a".encode()
    for sql in (ddl, f"INSERT INTO {db}.h VALUES (1), (2)".encode()):
        with _post(warehouse, sql, "?query_id=q-none") as resp:
            assert "X-ClickHouse-Format" not in resp.headers
            assert resp.headers["Content-Type"] == "text/plain; charset=UTF-8"
            assert resp.headers["X-ClickHouse-Query-Id"] == "q-none"
            assert resp.headers["X-ClickHouse-Timezone"] == "UTC"
            assert "X-ClickHouse-Summary" in resp.headers
            assert resp.read() == b""


def test_clickhouse_connect_reads_the_insert_summary(ch, db: str) -> None:
    ch.command(f"CREATE TABLE {db}.s (a UInt8) ENGINE = MergeTree ORDER BY a")
    summary = ch.command(f"INSERT INTO {db}.s SELECT number FROM numbers(5)")
    assert summary.written_rows == 5
    assert ch.insert(f"{db}.s", [[7], [8]], column_names=["a"]).written_rows == 2


# -- 6. sessions, parameters on inserts, the native port's reply to HTTP ---------------------


def test_a_busy_session_fails_at_once_with_session_is_locked(warehouse) -> None:
    session = f"lock-{uuid.uuid4().hex}"
    first = clickhouse_connect.get_client(
        host=warehouse.host, port=warehouse.http_port, session_id=session
    )
    second = clickhouse_connect.get_client(
        host=warehouse.host,
        port=warehouse.http_port,
        session_id=session,
        autogenerate_session_id=False,
    )
    started = threading.Event()

    def busy() -> None:
        started.set()
        first.command("SELECT sleep(3) FORMAT Null")

    worker = threading.Thread(target=busy)
    worker.start()
    try:
        started.wait()
        time.sleep(0.5)  # let the first request take the session
        with pytest.raises(DatabaseError) as info:
            second.command("SELECT 1")
        assert worker.is_alive()  # refused while the first request still runs, not after
        assert "Code: 373" in str(info.value)
        assert f"Session {session} is locked by a concurrent client" in str(info.value)
    finally:
        worker.join()
        first.close()
        second.close()


def test_insert_values_keeps_parameters(run_async, ch, warehouse, db: str) -> None:
    ch.command(f"CREATE TABLE {db}.p (a UInt8, s String) ENGINE = MergeTree ORDER BY a")
    ch.command(
        f"INSERT INTO {db}.p VALUES ({{a:UInt8}}, {{s:String}})", parameters={"a": 7, "s": "q"}
    )

    async def work(client) -> Any:
        await client.command(
            f"INSERT INTO {db}.p VALUES ({{a:UInt8}}, {{s:String}})", parameters={"a": 8, "s": "r"}
        )

    run_async(work)
    assert ch.query(f"SELECT a, s FROM {db}.p ORDER BY a").result_rows == [(7, "q"), (8, "r")]


def test_native_port_answers_http_with_the_servers_hint(warehouse) -> None:
    url = f"http://{warehouse.host}:{warehouse.tcp_port}/?query=SELECT%201"
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(url, timeout=10)
    assert info.value.code == 400
    assert info.value.read().decode() == (
        f"Port {warehouse.tcp_port} is for clickhouse-client program.\r\n"
        f"You must use port {warehouse.http_port} for HTTP.\r\n"
    )
    with pytest.raises(Exception, match="is for clickhouse-client program"):
        clickhouse_connect.get_client(host=warehouse.host, port=warehouse.tcp_port)


def test_native_external_tables_still_work(warehouse) -> None:
    client = Client(warehouse.host, port=warehouse.tcp_port)
    try:
        external = [
            {"name": "ext", "structure": [("x", "UInt8")], "data": [{"x": 1}, {"x": 2}]},
            {"name": "empty", "structure": [("y", "String")], "data": []},
        ]
        rows = client.execute(
            "SELECT sum(x), (SELECT count() FROM empty) FROM ext", external_tables=external
        )
        assert rows == [(3, 0)]
        assert client.execute("SELECT count() FROM system.tables WHERE is_temporary") == [(0,)]
    finally:
        client.disconnect()


# -- 4. client_protocol_version: Native output as a server writes it for that revision -------

TOKYO = "Asia/Tokyo"


@pytest.fixture
def tz_table(ch, db: str) -> str:
    """100 000 rows, a String column ahead of the DateTime('tz') one (several Native blocks)."""
    ch.command(
        f"CREATE TABLE {db}.tz (id UInt32, s String, t DateTime('{TOKYO}'), u DateTime) "
        "ENGINE = MergeTree ORDER BY id"
    )
    ch.command(
        f"INSERT INTO {db}.tz SELECT number, repeat('x', number % 7), "
        "toDateTime('2024-01-01 00:00:00', 'UTC') + number, toDateTime(0, 'UTC') "
        "FROM numbers(100000)"
    )
    return f"{db}.tz"


def test_clickhouse_connect_gets_the_columns_timezone(ch, run_async, tz_table: str) -> None:
    assert ch.protocol_version == 54405  # its probe saw BlockInfo: it sends client_protocol_version
    rows = ch.query(f"SELECT s, t, u FROM {tz_table} ORDER BY id").result_rows
    assert len(rows) == 100_000
    first, last = rows[0][1], rows[-1][1]
    assert str(first.tzinfo) == TOKYO and first.hour == 9  # 00:00 UTC shown in Tokyo
    assert str(last.tzinfo) == TOKYO
    assert last.timestamp() == first.timestamp() + 99_999
    assert rows[0][2].tzinfo is None  # a DateTime without a timezone stays without one
    # behind a column type the endpoint cannot walk (JSON) the label is still found
    behind = ch.query(f"SELECT '{{\"a\":1}}'::JSON AS j, toDateTime(0, '{TOKYO}') AS t")
    assert behind.result_rows[0][0] == {"a": 1}
    assert str(behind.result_rows[0][1].tzinfo) == TOKYO

    async def work(client) -> Any:
        result = await client.query(f"SELECT t FROM {tz_table} ORDER BY id LIMIT 1")
        return client.protocol_version, result.result_rows[0][0]

    version, value = run_async(work)
    assert version == 54405
    assert str(value.tzinfo) == TOKYO and value.hour == 9


def test_clickhouse_driver_gets_the_columns_timezone(warehouse, tz_table: str) -> None:
    client = Client(warehouse.host, port=warehouse.tcp_port)
    try:
        rows, types = client.execute(
            f"SELECT s, t, u FROM {tz_table} ORDER BY id", with_column_types=True
        )
        assert types == [("s", "String"), ("t", f"DateTime('{TOKYO}')"), ("u", "DateTime")]
        assert len(rows) == 100_000
        assert str(rows[0][1].tzinfo) == TOKYO and rows[0][1].hour == 9
        assert rows[-1][1].timestamp() == rows[0][1].timestamp() + 99_999
    finally:
        client.disconnect()


def test_native_over_http_follows_client_protocol_version(warehouse) -> None:
    sql = f"SELECT toDateTime(0, '{TOKYO}') AS t FORMAT Native".encode()
    with _post(warehouse, sql) as resp:
        assert resp.read() == b"\x01\x01\x01t\x08DateTime\x00\x00\x00\x00"  # revision 0
    with _post(warehouse, sql, "?client_protocol_version=54405") as resp:
        label = f"DateTime('{TOKYO}')".encode()
        block_info = b"\x01\x00\x02\xff\xff\xff\xff\x00"
        assert resp.read() == block_info + b"\x01\x01\x01t" + bytes([len(label)]) + label + bytes(4)
