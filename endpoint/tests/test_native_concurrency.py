"""Native and HTTP clients reading and writing the same table at once: every row accounted for."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from clickhouse_driver import Client

pytestmark = pytest.mark.integration

BATCHES = 8
ROWS = 500
NATIVE_WRITERS = 4
HTTP_WRITERS = 3


def test_native_and_http_clients_at_once(warehouse, ch, db) -> None:
    from warehouse.client import get_client

    ch.command(
        f"CREATE TABLE {db}.events (writer UInt32, batch UInt32, seq UInt32, note String) "
        "ENGINE = MergeTree ORDER BY (writer, batch, seq)"
    )
    table = f"{db}.events"

    def native_write(writer: int) -> int:
        client = Client(warehouse.host, port=warehouse.tcp_port, compression=writer % 2 == 0)
        try:
            for batch in range(BATCHES):
                columns = [[writer] * ROWS, [batch] * ROWS, list(range(ROWS)), ["n"] * ROWS]
                client.execute(f"INSERT INTO {table} VALUES", columns, columnar=True)
        finally:
            client.disconnect()
        return writer

    def http_write(writer: int) -> int:
        client = get_client(autogenerate_session_id=False)
        try:
            for batch in range(BATCHES):
                rows = [[writer, batch, seq, "h"] for seq in range(ROWS)]
                client.insert(table, rows, column_names=["writer", "batch", "seq", "note"])
        finally:
            client.close()
        return writer

    def native_read(reader: int) -> int:
        client = Client(warehouse.host, port=warehouse.tcp_port, compression=reader % 2 == 1)
        seen = 0
        try:
            for _ in range(BATCHES):
                rows = client.execute(f"SELECT writer, batch, seq FROM {table}")
                count = client.execute(f"SELECT count() FROM {table}")[0][0]
                assert count >= len(rows) >= seen  # rows only ever appear
                seen = len(rows)
        finally:
            client.disconnect()
        return seen

    def http_read(_: int) -> int:
        client = get_client(autogenerate_session_id=False)
        seen = 0
        try:
            for _ in range(BATCHES):
                count = client.query(f"SELECT count() FROM {table}").result_rows[0][0]
                assert count >= seen
                seen = count
        finally:
            client.close()
        return seen

    native_writers = range(NATIVE_WRITERS)
    http_writers = range(NATIVE_WRITERS, NATIVE_WRITERS + HTTP_WRITERS)
    with ThreadPoolExecutor(max_workers=12) as pool:
        jobs = [pool.submit(native_write, w) for w in native_writers]
        jobs += [pool.submit(http_write, w) for w in http_writers]
        readers = [pool.submit(native_read, r) for r in range(3)]
        readers += [pool.submit(http_read, r) for r in range(2)]
        assert sorted(j.result() for j in jobs) == list(range(NATIVE_WRITERS + HTTP_WRITERS))
        assert all(r.result() >= 0 for r in readers)

    writers = NATIVE_WRITERS + HTTP_WRITERS
    native = Client(warehouse.host, port=warehouse.tcp_port)
    try:
        count, distinct, native_rows = native.execute(
            f"SELECT count(), uniqExact(writer, batch, seq), countIf(note = 'n') FROM {table}"
        )[0]
    finally:
        native.disconnect()
    assert count == distinct == writers * BATCHES * ROWS
    assert native_rows == NATIVE_WRITERS * BATCHES * ROWS
