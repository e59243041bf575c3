"""Many clients at once, and queries of clients that hang up."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest

pytestmark = pytest.mark.integration

WRITERS = 8
BATCHES = 10
ROWS = 200


def test_concurrent_http_writers_and_readers(warehouse, ch, db) -> None:
    from warehouse.client import get_client

    ch.command(
        f"CREATE TABLE {db}.events (writer UInt32, batch UInt32, seq UInt32) "
        "ENGINE = MergeTree ORDER BY (writer, batch, seq)"
    )

    def write(writer: int) -> int:
        client = get_client(autogenerate_session_id=False)
        for batch in range(BATCHES):
            rows = [[writer, batch, seq] for seq in range(ROWS)]
            client.insert(f"{db}.events", rows, column_names=["writer", "batch", "seq"])
        client.close()
        return writer

    def read(_: int) -> int:
        client = get_client(autogenerate_session_id=False)
        seen = 0
        for _ in range(BATCHES):
            seen = client.query(f"SELECT count() FROM {db}.events").result_rows[0][0]
        client.close()
        return seen

    with ThreadPoolExecutor(max_workers=WRITERS + 4) as pool:
        writers = [pool.submit(write, w) for w in range(WRITERS)]
        readers = [pool.submit(read, r) for r in range(4)]
        assert sorted(f.result() for f in writers) == list(range(WRITERS))
        assert all(f.result() >= 0 for f in readers)
    count, distinct = ch.query(
        f"SELECT count(), uniqExact(writer, batch, seq) FROM {db}.events"
    ).result_rows[0]
    assert count == distinct == WRITERS * BATCHES * ROWS


def test_sessions_in_parallel_run_in_parallel_engine_connections(warehouse) -> None:
    from warehouse.client import get_client

    def run(_: int) -> int:
        client = get_client(session_id=str(uuid.uuid4()))
        client.command("CREATE TEMPORARY TABLE mine (a UInt8)")
        client.command("INSERT INTO mine VALUES (1)")
        value = client.query("SELECT sum(a) FROM mine").result_rows[0][0]
        client.close()
        return value

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(run, range(16))) == [1] * 16


def _running(ch, marker: str) -> int:
    return ch.query(
        "SELECT count() FROM system.processes WHERE position(query, {m:String}) > 0 "
        "AND position(query, 'system.processes') = 0",
        parameters={"m": marker},
    ).result_rows[0][0]


def test_query_killed_when_http_client_disconnects(warehouse, ch) -> None:
    marker = f"slow_{uuid.uuid4().hex[:8]}"
    sql = f"SELECT sleepEachRow(0.5), '{marker}' FROM numbers(120) SETTINGS max_block_size = 1"
    sql += " FORMAT Null"
    sock = socket.create_connection((warehouse.host, warehouse.http_port))
    body = sql.encode()
    sock.sendall(
        f"POST /?{urlencode({'max_threads': '1'})} HTTP/1.1\r\nHost: x\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    deadline = time.monotonic() + 10
    while _running(ch, marker) == 0:
        assert time.monotonic() < deadline, "the slow query never started"
        time.sleep(0.1)
    sock.close()  # the client gives up
    deadline = time.monotonic() + 30  # uncancelled, the query runs 60 s
    while _running(ch, marker) > 0:
        assert time.monotonic() < deadline, "the query kept running after the client left"
        time.sleep(0.2)
    assert ch.query("SELECT 1").result_rows == [(1,)]


def test_streaming_response_abandoned_by_client(warehouse, ch) -> None:
    marker = f"big_{uuid.uuid4().hex[:8]}"
    sql = f"SELECT number, '{marker}' FROM numbers(100000000000) FORMAT RowBinary".encode()
    sock = socket.create_connection((warehouse.host, warehouse.http_port))
    sock.sendall(f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {len(sql)}\r\n\r\n".encode() + sql)
    assert sock.recv(65536)  # data is flowing
    sock.close()
    deadline = time.monotonic() + 15
    while _running(ch, marker) > 0:
        assert time.monotonic() < deadline, "the streaming query kept running"
        time.sleep(0.2)


def test_server_keeps_serving_during_a_long_query(warehouse, ch) -> None:
    from warehouse.client import get_client

    done = threading.Event()

    def slow() -> None:
        client = get_client(autogenerate_session_id=False)
        client.query("SELECT sleep(2)")
        client.close()
        done.set()

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.3)
    assert not done.is_set()
    assert ch.query("SELECT 5").result_rows == [(5,)]
    thread.join()


def test_insert_of_a_client_that_hangs_up_commits_nothing(warehouse, ch, db) -> None:
    ch.command(f"CREATE TABLE {db}.partial (a UInt32) ENGINE = MergeTree ORDER BY a")
    query = urlencode({"query": f"INSERT INTO {db}.partial FORMAT TSV"})
    sent = b"".join(f"{i}\n".encode() for i in range(50000))
    sock = socket.create_connection((warehouse.host, warehouse.http_port))
    sock.sendall(
        f"POST /?{query} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(sent) * 2}\r\n\r\n".encode()
        + sent
    )
    time.sleep(0.5)
    sock.close()  # half the announced body never arrives
    time.sleep(1.0)
    assert ch.query(f"SELECT count() FROM {db}.partial").result_rows == [(0,)]
    ch.insert(f"{db}.partial", [[1]])
    assert ch.query(f"SELECT count() FROM {db}.partial").result_rows == [(1,)]
