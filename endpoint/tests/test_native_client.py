"""clickhouse-driver (Client and dbapi) against the endpoint's native TCP server."""

from __future__ import annotations

import datetime as dt
import socket
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from clickhouse_driver import Client, dbapi
from clickhouse_driver.block import ColumnOrientedBlock
from clickhouse_driver.errors import ServerException

from warehouse.native.wire import varint

pytestmark = pytest.mark.integration

TYPED_TABLE = """
CREATE TABLE {db}.typed (
    id UInt32, u8 UInt8, u16 UInt16, u64 UInt64, i8 Int8, i16 Int16, i32 Int32, i64 Int64,
    f32 Float32, f64 Float64, dec Decimal(12, 3), s String, fs FixedString(4), u UUID,
    d Date, ts DateTime, ts64 DateTime64(3, 'Europe/Berlin'), ns Nullable(String),
    arr Array(Int32), m Map(String, UInt16), tup Tuple(UInt8, String),
    lc LowCardinality(String), e Enum8('red' = 1, 'green' = 2)
) ENGINE = MergeTree ORDER BY id
"""

BERLIN = dt.timezone(dt.timedelta(hours=1))
ROWS = [
    (
        1, 255, 65535, 2**64 - 1, -128, -32768, -(2**31), -(2**63),
        1.5, 0.1, Decimal("123.456"), "héllo", "abcd", uuid.UUID(int=7),
        dt.date(2024, 2, 29), dt.datetime(2024, 1, 2, 3, 4, 5),
        dt.datetime(2024, 1, 2, 3, 4, 5, 678000), None,
        [1, -2, 3], {"a": 1, "b": 2}, (7, "seven"), "low", "green",
    ),
    (
        2, 0, 0, 0, 127, 32767, 2**31 - 1, 2**63 - 1,
        -2.25, -1e300, Decimal("-0.001"), "", "wxyz", uuid.UUID(int=2**128 - 1),
        dt.date(1970, 1, 1), dt.datetime(2038, 1, 1), dt.datetime(1999, 12, 31, 23, 59, 59),
        "x", [], {}, (0, ""), "low", "red",
    ),
]  # fmt: skip


@pytest.fixture
def native(warehouse) -> Iterator[Client]:
    client = Client(warehouse.host, port=warehouse.tcp_port)
    yield client
    client.disconnect()


def test_handshake_reports_server_and_timezone(native: Client) -> None:
    assert native.execute("SELECT 1") == [(1,)]
    info = native.connection.server_info
    assert info.name == "ClickHouse"
    assert info.used_revision == 54429
    assert info.timezone == "UTC"
    assert native.execute("SELECT timezone()") == [("UTC",)]


def test_ddl_typed_round_trip(native: Client, db: str) -> None:
    native.execute(TYPED_TABLE.format(db=db))
    assert native.execute(f"INSERT INTO {db}.typed VALUES", ROWS) == 2
    rows, columns = native.execute(f"SELECT * FROM {db}.typed ORDER BY id", with_column_types=True)
    assert [c[1] for c in columns][:4] == ["UInt32", "UInt8", "UInt16", "UInt64"]
    assert dict(columns)["ts64"] == "DateTime64(3, 'Europe/Berlin')"
    assert dict(columns)["e"] == "Enum8('red' = 1, 'green' = 2)"
    assert dict(columns)["lc"] == "LowCardinality(String)"
    for got, want in zip(rows, ROWS, strict=True):
        got, want = list(got), list(want)
        assert got[8] == pytest.approx(want[8])
        # DateTime64 with a zone comes back aware, in that zone
        assert got[16].replace(tzinfo=None) == want[16]
        assert got[16].utcoffset() is not None
        got[8] = want[8]
        got[16] = want[16]
        assert got == want


def test_typed_select_of_literals(native: Client) -> None:
    rows, columns = native.execute(
        "SELECT toUInt8(1) a, toInt64(-2) b, toDecimal64(1.5, 2) c, [1, 2] d, map('k', 'v') e, "
        "(1, 'x') f, CAST(NULL, 'Nullable(UInt8)') g, toLowCardinality('l') h, "
        "toFixedString('ab', 2) i, toDateTime64('2024-01-01 00:00:00', 6, 'Asia/Tokyo') j",
        with_column_types=True,
    )
    assert rows[0][:9] == (1, -2, Decimal("1.50"), [1, 2], {"k": "v"}, (1, "x"), None, "l", "ab")
    assert rows[0][9].utcoffset() == dt.timedelta(hours=9)
    assert [t for _, t in columns] == [
        "UInt8", "Int64", "Decimal(18, 2)", "Array(UInt8)", "Map(String, String)",
        "Tuple(UInt8, String)", "Nullable(UInt8)", "LowCardinality(String)", "FixedString(2)",
        "DateTime64(6, 'Asia/Tokyo')",
    ]  # fmt: skip


def test_json_columns_pass_through(native: Client) -> None:
    # the server cannot walk JSON data: it learns the header another way and passes bytes on
    rows, columns = native.execute(
        """SELECT 1 AS a, '{"k": [1, 2]}'::JSON AS j, 'z' AS b""", with_column_types=True
    )
    assert columns == [("a", "UInt8"), ("j", "JSON"), ("b", "String")]
    assert rows == [(1, {"k": [1, 2]}, "z")]


def test_json_insert(warehouse, db: str) -> None:
    plain = Client(warehouse.host, port=warehouse.tcp_port)
    packed = Client(warehouse.host, port=warehouse.tcp_port, compression=True)
    try:
        plain.execute(f"CREATE TABLE {db}.j (a UInt8, j JSON) ENGINE = Memory")
        # uncompressed blocks are framed by walking them, which JSON data does not allow
        with pytest.raises(ServerException) as info:
            plain.execute(f"INSERT INTO {db}.j VALUES", [(1, {"x": 1})])
        assert "compression" in str(info.value)
        assert packed.execute(f"INSERT INTO {db}.j VALUES", [(2, {"x": 2})]) == 1
        assert plain.execute(f"SELECT a, toInt64(j.x) FROM {db}.j") == [(2, 2)]
    finally:
        plain.disconnect()
        packed.disconnect()


def test_empty_result_still_has_typed_columns(native: Client, db: str) -> None:
    native.execute(f"CREATE TABLE {db}.e (a UInt8, b Nullable(String)) ENGINE = Memory")
    rows, columns = native.execute(f"SELECT * FROM {db}.e", with_column_types=True)
    assert rows == []
    assert columns == [("a", "UInt8"), ("b", "Nullable(String)")]
    rows, columns = native.execute(f"SHOW TABLES FROM {db} LIKE 'nothing%'", with_column_types=True)
    assert rows == []
    assert columns == [("name", "String")]


def test_columnar_row_and_dict_inserts(native: Client, db: str) -> None:
    native.execute(
        f"CREATE TABLE {db}.t (a UInt64, b String, c Float64 DEFAULT 9, "
        "m UInt64 MATERIALIZED a * 2) ENGINE = MergeTree ORDER BY a"
    )
    n = 50_000
    columns = [list(range(n)), [f"s{i}" for i in range(n)], [i / 2 for i in range(n)]]
    assert native.execute(f"INSERT INTO {db}.t VALUES", columns, columnar=True) == n
    assert native.execute(f"INSERT INTO {db}.t (a, b) VALUES", [(n, "row")]) == 1
    assert native.execute(f"INSERT INTO {db}.t (b, a) VALUES", [{"a": n + 1, "b": "dict"}]) == 1
    assert native.execute(f"INSERT INTO {db}.t VALUES", []) == 0
    native.execute(f"INSERT INTO {db}.t (a, b) VALUES ({n + 2}, 'inline')")
    native.execute(f"INSERT INTO {db}.t SELECT number + {n + 3}, 'select', 1 FROM numbers(10)")
    assert native.execute(f"SELECT count(), sum(a), sum(m) FROM {db}.t") == [
        (n + 13, sum(range(n + 13)), 2 * sum(range(n + 13)))
    ]
    assert native.execute(f"SELECT c FROM {db}.t WHERE b = 'row'") == [(9.0,)]


def test_params_are_substituted(native: Client) -> None:
    rows = native.execute(
        "SELECT %(s)s AS s, %(n)s AS n, toDate(%(d)s) AS d, %(l)s AS l",
        {"s": "it's", "n": 42, "d": dt.date(2024, 5, 6), "l": [1, 2]},
    )
    assert rows == [("it's", 42, dt.date(2024, 5, 6), [1, 2])]


def test_errors_leave_the_connection_usable(native: Client, db: str) -> None:
    with pytest.raises(ServerException) as info:
        native.execute("SELECT * FROM no_such_database.no_such_table")
    assert info.value.code in (60, 81)
    with pytest.raises(ServerException) as info:
        native.execute("SELEC 1")
    assert info.value.code == 62
    native.execute(f"CREATE TABLE {db}.t (a UInt8) ENGINE = Memory")
    with pytest.raises(ServerException) as info:
        native.execute(f"INSERT INTO {db}.t (nope) VALUES", [(1,)])
    assert info.value.code == 16
    with pytest.raises(ServerException):
        native.execute(f"INSERT INTO {db}.missing VALUES", [(1,)])
    with pytest.raises(ServerException) as info:
        native.execute("SELECT throwIf(number = 3, 'boom') FROM numbers(10)")
    assert "boom" in str(info.value)
    # a block the engine rejects while the insert streams (String data for a UInt32 column)
    connection = native.connection
    connection.send_query(f"INSERT INTO {db}.t VALUES")
    connection.send_external_tables(None)
    native.receive_sample_block()
    connection.send_data(ColumnOrientedBlock([("a", "String")], [["not a number"]]))
    connection.send_data(ColumnOrientedBlock())
    with pytest.raises(ServerException) as info:
        native.receive_end_of_insert_query()
    assert info.value.code == 6
    # still the same, working connection
    assert native.execute("SELECT 2") == [(2,)]
    assert native.execute(f"INSERT INTO {db}.t VALUES", [(1,), (2,)]) == 2
    assert native.execute(f"SELECT sum(a) FROM {db}.t") == [(3,)]


def test_settings_apply_to_one_query_only(native: Client) -> None:
    assert native.execute(
        "SELECT getSetting('max_threads')", settings={"max_threads": 3, "session_id": "x"}
    ) == [(3,)]
    assert native.execute("SELECT getSetting('max_threads')") != [(3,)]


def test_session_state_lives_with_the_connection(native: Client, db: str) -> None:
    native.execute(f"USE {db}")
    native.execute("CREATE TEMPORARY TABLE tmp (a UInt8)")
    native.execute("INSERT INTO tmp VALUES", [(5,)])
    assert native.execute("SELECT a, currentDatabase() FROM tmp") == [(5, db)]


@pytest.mark.parametrize("compression", [False, True], ids=["plain", "lz4"])
def test_insert_of_many_blocks(warehouse, db: str, compression: bool) -> None:
    client = Client(
        warehouse.host,
        port=warehouse.tcp_port,
        compression=compression,
        settings={"insert_block_size": 1000},
    )
    try:
        client.execute(f"CREATE TABLE {db}.b (a UInt64, s String) ENGINE = MergeTree ORDER BY a")
        n = 25_500
        rows = ((i, "x" * (i % 300)) for i in range(n))  # some lengths need 2-byte varints
        assert client.execute(f"INSERT INTO {db}.b VALUES", rows) == n
        assert client.execute(f"SELECT count(), sum(a), sum(length(s)) FROM {db}.b") == [
            (n, sum(range(n)), sum(i % 300 for i in range(n)))
        ]
    finally:
        client.disconnect()


@pytest.mark.parametrize("compression", [False, True, "zstd"], ids=["plain", "lz4", "zstd"])
def test_compression(warehouse, db: str, compression: bool | str) -> None:
    client = Client(warehouse.host, port=warehouse.tcp_port, compression=compression)
    try:
        client.execute(f"CREATE TABLE {db}.c (a UInt64, s String) ENGINE = MergeTree ORDER BY a")
        n = 200_000
        data = [list(range(n)), [f"value {i % 1000}" for i in range(n)]]
        assert client.execute(f"INSERT INTO {db}.c VALUES", data, columnar=True) == n
        rows = client.execute(f"SELECT a, s FROM {db}.c ORDER BY a", columnar=True)
        assert list(rows[0]) == data[0]
        assert list(rows[1]) == data[1]
        with pytest.raises(ServerException):
            client.execute("SELECT * FROM nowhere")
        assert client.execute(f"SELECT count() FROM {db}.c") == [(n,)]
    finally:
        client.disconnect()


def test_large_result_streams_in_blocks(native: Client) -> None:
    total = 0
    count = 0
    for (number,) in native.execute_iter(
        "SELECT number FROM numbers(1000000)", settings={"max_block_size": 65536}
    ):
        total += number
        count += 1
    assert count == 1_000_000
    assert total == sum(range(1_000_000))
    native.execute("SELECT number FROM numbers(1000000)", settings={"max_block_size": 65536})
    profile = native.last_query.profile_info
    assert profile.rows == 1_000_000
    assert profile.blocks > 1
    assert native.last_query.progress.rows >= 1_000_000


def test_many_tiny_blocks(native: Client) -> None:
    rows = native.execute(
        "SELECT number FROM numbers(200000)", settings={"max_block_size": 10}, columnar=True
    )
    assert list(rows[0]) == list(range(200000))
    assert native.last_query.profile_info.blocks == 20000


def _running(native: Client, marker: str) -> int:
    return native.execute(
        "SELECT count() FROM system.processes "
        f"WHERE query LIKE '%{marker}%' AND query NOT LIKE '%system.processes%'"
    )[0][0]


def _wait_until_gone(native: Client, marker: str, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _running(native, marker) == 0:
            return True
        time.sleep(0.2)
    return False


def test_cancel_stops_the_query(warehouse, native: Client) -> None:
    marker = f"cancel_{uuid.uuid4().hex[:8]}"
    client = Client(warehouse.host, port=warehouse.tcp_port)
    try:
        progress = client.execute_with_progress(
            f"SELECT number, sleepEachRow(0.05), '{marker}' FROM numbers(2000)",
            settings={"max_block_size": 10},
        )
        for _ in progress:  # first progress packet: the query is running
            break
        assert _running(native, marker) == 1
        client.cancel()  # sends Cancel, reads until EndOfStream
        assert _wait_until_gone(native, marker)
        assert client.execute("SELECT 'still usable'") == [("still usable",)]
        with pytest.raises(ServerException):  # later errors are errors again
            client.execute("INSERT INTO no_such_table_after_cancel VALUES", [(1,)])
    finally:
        client.disconnect()


def test_disconnect_kills_the_query(warehouse, native: Client) -> None:
    marker = f"hangup_{uuid.uuid4().hex[:8]}"
    client = Client(warehouse.host, port=warehouse.tcp_port)
    client.connection.force_connect()
    client.connection.send_query(
        f"SELECT sleepEachRow(0.1), '{marker}' FROM numbers(3000) SETTINGS max_block_size = 5"
    )
    client.connection.send_external_tables(None)
    deadline = time.monotonic() + 20
    while _running(native, marker) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _running(native, marker) == 1
    client.disconnect()
    assert _wait_until_gone(native, marker)


def test_long_silent_statement_outlives_client_timeout(warehouse) -> None:
    # nothing to send for ~4 s: progress heartbeats keep a 2 s receive timeout from firing
    client = Client(warehouse.host, port=warehouse.tcp_port, send_receive_timeout=2)
    try:
        rows = client.execute(
            "SELECT sum(sleepEachRow(1)) FROM numbers(4) SETTINGS max_block_size = 1"
        )
        assert rows == [(0,)]
    finally:
        client.disconnect()


@pytest.mark.parametrize("compression", [False, True], ids=["plain", "lz4"])
def test_external_tables(warehouse, compression: bool) -> None:
    client = Client(warehouse.host, port=warehouse.tcp_port, compression=compression)
    try:
        external = [
            {
                "name": "ext",
                "structure": [("id", "UInt32"), ("label", "String")],
                "data": [{"id": 1, "label": "one"}, {"id": 2, "label": "two"}],
            }
        ]
        rows = client.execute(
            "SELECT label FROM ext WHERE id IN (SELECT number FROM numbers(2, 5)) ORDER BY id",
            external_tables=external,
        )
        assert rows == [("two",)]
        # query-scoped: gone afterwards, the connection still works
        with pytest.raises(ServerException):
            client.execute("SELECT * FROM ext")
        assert client.execute("SELECT 1") == [(1,)]
    finally:
        client.disconnect()


def test_ping(native: Client) -> None:
    native.execute("SELECT 1")
    assert native.connection.ping() is True


def test_dbapi(warehouse, db: str) -> None:
    conn = dbapi.connect(host=warehouse.host, port=warehouse.tcp_port, database=db)
    try:
        cursor = conn.cursor()
        cursor.execute("CREATE TABLE d (id UInt32, name String) ENGINE = MergeTree ORDER BY id")
        cursor.executemany("INSERT INTO d (id, name) VALUES", [(1, "a"), (2, "b"), (3, "c")])
        cursor.execute("SELECT id, name FROM d WHERE id >= %(min)s ORDER BY id", {"min": 2})
        assert cursor.fetchall() == [(2, "b"), (3, "c")]
        assert [c[0] for c in cursor.description] == ["id", "name"]
        assert [c[1] for c in cursor.description] == ["UInt32", "String"]
        with pytest.raises(dbapi.DatabaseError):
            cursor.execute("SELECT * FROM missing_table")
        cursor.execute("SELECT count() FROM d")
        assert cursor.fetchone() == (3,)
    finally:
        conn.close()


def test_unknown_database_in_handshake(warehouse) -> None:
    client = Client(warehouse.host, port=warehouse.tcp_port, database="no_such_db_here")
    with pytest.raises(ServerException) as info:
        client.execute("SELECT 1")
    assert info.value.code == 81


def _raw_hello(sock: socket.socket) -> None:
    def s(value: str) -> bytes:
        return bytes([len(value)]) + value.encode()

    hello = b"\x00" + s("raw") + b"\x01\x01" + varint(54429) + s("") + s("default") + s("")
    sock.sendall(hello)
    assert sock.recv(1) == b"\x00"  # server Hello


def test_malformed_packets_only_hurt_their_own_connection(warehouse, native: Client) -> None:
    # garbage instead of Hello: an Exception packet, then the server closes that connection
    with socket.create_connection((warehouse.host, warehouse.tcp_port), timeout=10) as sock:
        sock.sendall(b"\x09garbage")
        reply = sock.recv(65536)
        assert reply[:1] == b"\x02"
    # an unknown packet type after a good handshake
    with socket.create_connection((warehouse.host, warehouse.tcp_port), timeout=10) as sock:
        _raw_hello(sock)
        sock.recv(65536)
        sock.sendall(b"\x3f")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        assert data[:1] == b"\x02"
        assert b"Unknown packet" in data
    # a Data block whose sizes make no sense
    with socket.create_connection((warehouse.host, warehouse.tcp_port), timeout=10) as sock:
        _raw_hello(sock)
        sock.recv(65536)
        sock.sendall(b"\x02\x00\x01\x00\x02\xff\xff\xff\xff\x00" + b"\xff" * 12)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        assert data[:1] == b"\x02"
    # everyone else is fine
    assert native.execute("SELECT 42") == [(42,)]


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    from warehouse.lifecycle import start_background, stop

    data_dir = tmp_path_factory.mktemp("native-auth")
    info = start_background(data_dir=data_dir, http_port=0, tcp_port=0, password="s3cret")
    yield info
    stop(data_dir=data_dir)


def test_password_check(secured) -> None:
    good = Client(secured.host, port=secured.tcp_port, user="default", password="s3cret")
    assert good.execute("SELECT 1") == [(1,)]
    good.disconnect()
    bad = Client(secured.host, port=secured.tcp_port, user="default", password="wrong")
    with pytest.raises(ServerException) as info:
        bad.execute("SELECT 1")
    assert info.value.code == 516
