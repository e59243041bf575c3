"""The HTTP interface at the wire level: what clickhouse-server does, checked with raw requests."""

from __future__ import annotations

import gzip
import http.client
import io
import json
import uuid
import zlib
from urllib.parse import urlencode

import lz4.frame
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

pytestmark = pytest.mark.integration


class Http:
    """Tiny raw client: one keep-alive connection, full control over headers and body."""

    def __init__(self, host: str, port: int) -> None:
        self.conn = http.client.HTTPConnection(host, port, timeout=60)

    def request(
        self,
        method: str = "POST",
        body: bytes | None = None,
        headers: dict | None = None,
        path: str = "/",
        **params: str,
    ) -> tuple[int, dict[str, str], bytes]:
        url = path + ("?" + urlencode(params) if params else "")
        self.conn.request(method, url, body=body, headers=headers or {})
        resp = self.conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data

    def ok(self, body: bytes | None = None, **kw) -> bytes:
        status, _headers, data = self.request(body=body, **kw)
        assert status == 200, data
        return data


@pytest.fixture
def web(warehouse):
    client = Http(warehouse.host, warehouse.http_port)
    yield client
    client.conn.close()


@pytest.fixture
def table(web, db) -> str:
    web.ok(f"CREATE TABLE {db}.t (id UInt32, name String) ENGINE = MergeTree ORDER BY id".encode())
    return f"{db}.t"


def _rows(web, table: str) -> list[str]:
    return web.ok(f"SELECT id, name FROM {table} ORDER BY id".encode()).decode().splitlines()


def test_ping_get_and_not_found(web) -> None:
    assert web.request("GET", path="/ping")[2] == b"Ok.\n"
    assert web.request("GET")[2] == b"Ok.\n"
    status, _, _body = web.request("GET", path="/nope")
    assert status == 404


def test_query_param_joined_with_body(web) -> None:
    assert web.ok(b"+ 1", query="SELECT 1") == b"2\n"
    assert web.request("GET", query="SELECT 40 + 2")[2] == b"42\n"


def test_headers_and_summary(web, table) -> None:
    status, headers, _ = web.request(
        body=b"1\tone\n2\ttwo\n", query=f"INSERT INTO {table} FORMAT TSV", query_id="my-id"
    )
    assert status == 200
    assert headers["x-clickhouse-query-id"] == "my-id"
    assert headers["x-clickhouse-timezone"] == "UTC"
    assert "x-clickhouse-server-display-name" in headers
    assert json.loads(headers["x-clickhouse-summary"])["written_rows"] == "2"
    status, headers, body = web.request(body=f"SELECT * FROM {table} FORMAT JSONEachRow".encode())
    assert headers["x-clickhouse-format"] == "JSONEachRow"
    assert json.loads(body.splitlines()[0]) == {"id": 1, "name": "one"}
    assert json.loads(headers["x-clickhouse-summary"])["result_rows"] == "2"


def test_error_response(web) -> None:
    status, headers, body = web.request(body=b"SELECT * FROM system.no_such_table")
    assert status == 500
    assert headers["x-clickhouse-exception-code"] == "60"
    assert body.startswith(b"Code: 60. DB::Exception:")
    # the connection stays usable
    assert web.ok(b"SELECT 1") == b"1\n"


@pytest.mark.parametrize("fmt", ["TSV", "CSV", "JSONEachRow", "Native", "RowBinary", "Parquet"])
def test_insert_formats(web, table, fmt) -> None:
    data = web.ok(
        f"SELECT toUInt32(number) AS id, concat('n', toString(number)) AS name FROM numbers(5) "
        f"FORMAT {fmt}".encode()
    )
    web.ok(data, query=f"INSERT INTO {table} FORMAT {fmt}")
    assert _rows(web, table) == [f"{i}\tn{i}" for i in range(5)]


def test_insert_statement_and_data_in_body_after_comments(web, table) -> None:
    body = b"-- dbt adds a comment\n/* and another */ INSERT INTO " + table.encode()
    body += b' (id, name) FORMAT CSV\n1,"a"\n2,"b"\n'
    web.ok(body)
    web.ok(f"INSERT INTO {table} VALUES (3, 'c'), (4, 'd')".encode())
    web.ok(b"(5, 'e')", query=f"INSERT INTO {table} VALUES")
    assert _rows(web, table) == ["1\ta", "2\tb", "3\tc", "4\td", "5\te"]


def test_insert_rowbinary_in_body_with_statement(web, table) -> None:
    data = web.ok(b"SELECT 7 :: UInt32, 'seven' FORMAT RowBinary")
    web.ok(f"INSERT INTO {table} FORMAT RowBinary\n".encode() + data)
    assert _rows(web, table) == ["7\tseven"]


def test_chunked_request_body(web, table) -> None:
    def gen():
        for i in range(1000):
            yield f"{i},row{i}\n".encode()

    web.conn.request(
        "POST",
        "/?" + urlencode({"query": f"INSERT INTO {table} FORMAT CSV"}),
        body=gen(),
        encode_chunked=True,
        headers={"Transfer-Encoding": "chunked"},
    )
    resp = web.conn.getresponse()
    assert resp.status == 200, resp.read()
    resp.read()
    assert web.ok(f"SELECT count(), sum(id) FROM {table}".encode()) == b"1000\t499500\n"


@pytest.mark.parametrize("encoding", ["gzip", "gz", "deflate", "lz4", "zstd"])
def test_request_decompression(web, table, encoding) -> None:
    raw = b"".join(f"{i},c{i}\n".encode() for i in range(100))
    packed = {
        "gzip": gzip.compress,
        "gz": gzip.compress,
        "deflate": zlib.compress,
        "lz4": lz4.frame.compress,
        "zstd": zstandard.ZstdCompressor().compress,
    }[encoding](raw)
    web.ok(packed, headers={"Content-Encoding": encoding}, query=f"INSERT INTO {table} FORMAT CSV")
    # several concatenated frames (clients compress block by block)
    if encoding in ("lz4", "zstd", "gzip"):
        web.ok(
            packed + packed,
            headers={"Content-Encoding": encoding},
            query=f"INSERT INTO {table} FORMAT CSV",
        )
    assert web.ok(f"SELECT count() FROM {table}".encode()) == (
        b"300\n" if encoding in ("lz4", "zstd", "gzip") else b"100\n"
    )


def test_corrupt_compressed_body_is_an_error(web, table) -> None:
    status, headers, _body = web.request(
        body=b"not gzip at all",
        headers={"Content-Encoding": "gzip"},
        query=f"INSERT INTO {table} FORMAT CSV",
    )
    assert status == 500
    assert headers["x-clickhouse-exception-code"] == "271"


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "lz4", "zstd"])
def test_response_compression(web, encoding) -> None:
    sql = b"SELECT number FROM numbers(200000)"
    status, headers, body = web.request(
        body=sql, headers={"Accept-Encoding": encoding}, enable_http_compression="1"
    )
    assert status == 200
    assert headers["content-encoding"] == encoding
    unpack = {
        "gzip": gzip.decompress,
        "deflate": zlib.decompress,
        "lz4": lz4.frame.decompress,
        "zstd": lambda b: zstandard.ZstdDecompressor().decompressobj().decompress(b),
    }[encoding]
    assert unpack(body) == b"".join(f"{i}\n".encode() for i in range(200000))
    # without enable_http_compression the response is plain
    status, headers, body = web.request(body=b"SELECT 1", headers={"Accept-Encoding": encoding})
    assert "content-encoding" not in headers
    assert body == b"1\n"


def test_large_results_are_streamed_chunked(web) -> None:
    web.conn.request("POST", "/", body=b"SELECT number FROM numbers(1000000) FORMAT RowBinary")
    resp = web.conn.getresponse()
    assert resp.getheader("Transfer-Encoding") == "chunked"
    assert resp.getheader("X-ClickHouse-Exception-Tag")
    assert len(resp.read()) == 8 * 1_000_000


@pytest.mark.parametrize("fmt", ["Arrow", "ArrowStream", "Parquet", "JSON", "CSVWithNames"])
def test_whole_file_formats_stay_valid(web, fmt) -> None:
    sql = f"SELECT number AS n, toString(number) AS s FROM numbers(300000) FORMAT {fmt}"
    body = web.ok(sql.encode())
    if fmt == "Arrow":
        rows = pa.ipc.open_file(pa.BufferReader(body)).read_all().num_rows
    elif fmt == "ArrowStream":
        rows = pa.ipc.open_stream(pa.BufferReader(body)).read_all().num_rows
    elif fmt == "Parquet":
        rows = pq.read_table(io.BytesIO(body)).num_rows
    elif fmt == "JSON":
        rows = len(json.loads(body)["data"])
    else:
        lines = body.splitlines()
        assert lines.count(b'"n","s"') == 1
        rows = len(lines) - 1
    assert rows == 300000


def test_exception_in_the_middle_of_a_stream(web) -> None:
    web.conn.request(
        "POST",
        "/?max_block_size=10000",
        body=b"SELECT throwIf(number = 200000, 'mid-stream') FROM numbers(300000) FORMAT TSV",
    )
    resp = web.conn.getresponse()
    assert resp.status == 200
    tag = resp.getheader("X-ClickHouse-Exception-Tag")
    with pytest.raises(http.client.IncompleteRead) as err:
        resp.read()
    partial = err.value.partial
    assert b"__exception__\r\n" + tag.encode() in partial
    assert b"mid-stream" in partial


def test_server_side_parameters(web) -> None:
    body = web.ok(
        b"SELECT {a:UInt32} + 1, {s:String}, {arr:Array(String)}",
        param_a="41",
        param_s="tab\\there",
        param_arr="['x','y']",
    )
    assert body == b"42\ttab\\there\t['x','y']\n"


def test_database_and_default_format(web, db) -> None:
    assert web.ok(b"SELECT currentDatabase()", database=db) == f"{db}\n".encode()
    assert web.ok(b"SELECT currentDatabase()") == b"default\n"
    assert web.ok(b"SELECT 1 AS x", default_format="JSONEachRow") == b'{"x":1}\n'


def test_sessions(web) -> None:
    sid = str(uuid.uuid4())
    web.ok(b"CREATE TEMPORARY TABLE tt (a UInt8)", session_id=sid)
    web.ok(b"INSERT INTO tt VALUES (1), (2)", session_id=sid)
    web.ok(b"SET max_threads = 1", session_id=sid)
    assert web.ok(b"SELECT sum(a) FROM tt", session_id=sid) == b"3\n"
    assert web.ok(b"SELECT getSetting('max_threads')", session_id=sid) == b"1\n"
    # another session and session-less requests see none of it
    status, _, _ = web.request(body=b"SELECT * FROM tt", session_id=str(uuid.uuid4()))
    assert status == 500
    assert web.ok(b"SELECT getSetting('max_threads')") != b"1\n"
    status, headers, _ = web.request(
        body=b"SELECT 1", session_id=str(uuid.uuid4()), session_check="1"
    )
    assert headers["x-clickhouse-exception-code"] == "372"


def test_url_settings_apply_to_one_request_only(web) -> None:
    sid = str(uuid.uuid4())
    assert web.ok(b"SELECT getSetting('max_block_size')", session_id=sid, max_block_size="77") == (
        b"77\n"
    )
    assert web.ok(b"SELECT getSetting('max_block_size')", session_id=sid) != b"77\n"
    # a setting changes behaviour for its request
    status, headers, _ = web.request(
        body=b"SELECT number FROM numbers(100)", max_result_rows="10", result_overflow_mode="throw"
    )
    assert status == 500
    assert headers["x-clickhouse-exception-code"] == "396"
    assert web.ok(b"SELECT count() FROM numbers(100)") == b"100\n"


def test_unknown_settings_are_ignored(web) -> None:
    assert web.ok(b"SELECT 1", no_such_setting_xyz="1", client_protocol_version="54460") == b"1\n"


def test_empty_query_and_bad_http(web, warehouse) -> None:
    _status, headers, _ = web.request(body=b"   ")
    assert headers["x-clickhouse-exception-code"] == "62"
    import socket

    with socket.create_connection((warehouse.host, warehouse.http_port)) as sock:
        sock.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 400")
    assert web.ok(b"SELECT 1") == b"1\n"


def test_session_expires_after_its_timeout(web) -> None:
    sid = str(uuid.uuid4())
    web.ok(b"CREATE TEMPORARY TABLE gone_soon (a UInt8)", session_id=sid, session_timeout="1")
    assert web.ok(b"SELECT count() FROM gone_soon", session_id=sid, session_check="1") == b"0\n"
    import time

    time.sleep(3)  # idle for longer than the timeout (each request renews it)
    status, headers, _ = web.request(body=b"SELECT 1", session_id=sid, session_check="1")
    assert status != 200
    assert headers["x-clickhouse-exception-code"] == "372"


def test_readonly(web, db) -> None:
    # GET implies readonly (as clickhouse-server), and the readonly setting is honoured
    _, headers, _ = web.request("GET", query=f"CREATE TABLE {db}.ro (a UInt8) ENGINE = Log")
    assert headers["x-clickhouse-exception-code"] == "164"
    assert web.request("GET", query="SELECT 7")[2] == b"7\n"
    _, headers, _ = web.request(
        body=f"CREATE TABLE {db}.ro (a UInt8) ENGINE = Log".encode(), readonly="1"
    )
    assert headers["x-clickhouse-exception-code"] == "164"
    _, headers, _ = web.request(body=b"SET max_threads = 1", readonly="1")
    assert headers["x-clickhouse-exception-code"] == "164"
    assert web.ok(b"SELECT 1", readonly="1") == b"1\n"
    # nothing sticks: the next request may write
    web.ok(f"CREATE TABLE {db}.ro (a UInt8) ENGINE = Log".encode())
    web.ok(b"1\n", query=f"INSERT INTO {db}.ro FORMAT TSV")
    __, headers, _ = web.request(body=b"2\n", query=f"INSERT INTO {db}.ro FORMAT TSV", readonly="1")
    assert headers["x-clickhouse-exception-code"] == "164"
    assert web.ok(f"SELECT count() FROM {db}.ro".encode()) == b"1\n"
