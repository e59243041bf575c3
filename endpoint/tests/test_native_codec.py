"""Unit tests of the native-protocol codec: blocks written by clickhouse-driver itself are walked
to their exact end, frames round-trip through the driver's decompressor, INSERTs are routed."""

from __future__ import annotations

import copy
import datetime as dt
import io
import socket
import uuid
from decimal import Decimal

import pytest
from clickhouse_driver import Client
from clickhouse_driver.block import ColumnOrientedBlock
from clickhouse_driver.bufferedwriter import CompressedBufferedWriter
from clickhouse_driver.connection import ServerInfo
from clickhouse_driver.streams.compressed import CompressedBlockInputStream
from clickhouse_driver.streams.native import BlockOutputStream

from warehouse.native.blocks import (
    BLOCK_INFO,
    UnsupportedTypeError,
    header_block,
    leading_columns,
    parse_type,
    scan_block,
    skip_block_info,
    skipper,
)
from warehouse.native.compression import FrameSource, compress_frames, read_frame
from warehouse.native.statements import parse_insert, returns_rows
from warehouse.native.wire import BytesSource, ProtocolError, SocketReader, read_varint, varint

COLUMNS = [
    ("u8", "UInt8", [1, 255]),
    ("i64", "Int64", [-(2**63), 2**63 - 1]),
    ("f32", "Float32", [1.5, -2.0]),
    ("f64", "Float64", [0.1, 1e300]),
    ("dec", "Decimal(10, 2)", [Decimal("1.25"), Decimal("-3.10")]),
    ("dec256", "Decimal(60, 5)", [Decimal("1.5"), Decimal("2")]),
    ("s", "String", ["", "x" * 300]),
    ("fs", "FixedString(4)", [b"ab", b"abcd"]),
    ("u", "UUID", [uuid.UUID(int=1), uuid.UUID(int=2**128 - 1)]),
    ("d", "Date", [dt.date(2020, 1, 1), dt.date(2149, 6, 6)]),
    ("ts", "DateTime('UTC')", [dt.datetime(2020, 1, 1), dt.datetime(2030, 1, 1)]),
    ("ts64", "DateTime64(3, 'Europe/Berlin')", [dt.datetime(2020, 1, 1), dt.datetime(2021, 1, 1)]),
    ("ns", "Nullable(String)", [None, "a"]),
    ("arr", "Array(Int32)", [[], [1, 2, 3]]),
    ("arr2", "Array(Array(String))", [[["a"], []], []]),
    ("m", "Map(String, UInt16)", [{}, {"a": 1, "b": 2}]),
    ("t", "Tuple(UInt8, String)", [(1, "a"), (2, "bb")]),
    ("nt", "Tuple(a UInt8, b Nullable(String))", [(1, None), (2, "x")]),
    ("lc", "LowCardinality(String)", ["a", "a"]),
    ("lcn", "LowCardinality(Nullable(String))", [None, "z"]),
    ("alc", "Array(LowCardinality(String))", [["q", "r"], []]),
    ("e", "Enum8('a' = 1, 'b,(' = 2)", ["a", "b,("]),
    ("b", "Bool", [True, False]),
]


def _driver_context():
    client = Client("127.0.0.1")
    context = client.connection.context
    context.server_info = ServerInfo("ClickHouse", 26, 9, 2, 54429, "UTC", "test", 54429)
    context.settings = {}
    context.client_settings = client.client_settings
    return context


def _driver_block(columns, rows: int | None = None) -> bytes:
    """A Data-packet block body (with BlockInfo) as clickhouse-driver writes it."""
    out = io.BytesIO()
    writer = CompressedBufferedWriter(out, 1 << 20)  # "compressor" = anything with write()
    # the driver converts items in place: hand it copies
    data = [copy.deepcopy(values if rows is None else values[:rows]) for _, _, values in columns]
    block = ColumnOrientedBlock([(name, type_) for name, type_, _ in columns], data)
    BlockOutputStream(writer, _driver_context()).write(block)
    return out.getvalue()


def test_driver_block_walks_to_its_exact_end() -> None:
    raw = _driver_block(COLUMNS)
    trailer = b"\x02\x00more"  # the next packet must not be consumed
    src = BytesSource(raw + trailer)
    pos = skip_block_info(src, 0)
    shape = scan_block(src, pos)
    assert shape.end == len(raw)
    assert shape.rows == 2
    assert shape.columns == [(name, type_) for name, type_, _ in COLUMNS]


@pytest.mark.parametrize("name,type_,values", COLUMNS, ids=[c[0] for c in COLUMNS])
def test_every_type_walks_alone(name: str, type_: str, values: list) -> None:
    raw = _driver_block([(name, type_, values)])
    src = BytesSource(raw)
    assert scan_block(src, skip_block_info(src, 0)).end == len(raw)


def test_scanner_asks_for_more_data_across_reads() -> None:
    raw = _driver_block(COLUMNS)
    left, right = socket.socketpair()
    try:
        reader = SocketReader(left)
        for i in range(0, len(raw), 7):  # dribble the block in small pieces
            right.sendall(raw[i : i + 7])
        shape = scan_block(reader, skip_block_info(reader, 0))
        assert shape.end == len(raw)
    finally:
        left.close()
        right.close()


def test_truncated_block_is_an_eof_not_a_hang() -> None:
    raw = _driver_block(COLUMNS)
    src = BytesSource(raw[:-3])
    with pytest.raises(EOFError):
        scan_block(src, skip_block_info(src, 0))


def test_types() -> None:
    assert parse_type("Map(String, Array(Tuple(a UInt8, b String)))") == (
        "Map",
        ["String", "Array(Tuple(a UInt8, b String))"],
    )
    assert parse_type("Enum8('a,b' = 1, ')' = 2)")[1] == ["'a,b' = 1", "')' = 2"]
    with pytest.raises(UnsupportedTypeError):
        skipper("AggregateFunction(sum, UInt64)")
    with pytest.raises(UnsupportedTypeError):
        skipper("Dynamic")


def test_leading_columns_reads_past_walkable_columns_only() -> None:
    def column(name: str, type_: str, data: bytes) -> bytes:
        return bytes([len(name)]) + name.encode() + bytes([len(type_)]) + type_.encode() + data

    last = b"\x02\x01" + column("a", "UInt8", b"\x07") + column("j", "JSON", b"\x00" * 9)
    assert leading_columns(BytesSource(last)) == [("a", "UInt8"), ("j", "JSON")]
    middle = b"\x02\x01" + column("j", "JSON", b"\x00" * 9) + column("a", "UInt8", b"\x07")
    assert leading_columns(BytesSource(middle)) is None


def test_header_block_matches_what_the_driver_reads() -> None:
    header = header_block([("a", "UInt8"), ("b", "Map(String, String)")])
    src = BytesSource(header)
    shape = scan_block(src, 0)
    assert shape.rows == 0
    assert shape.columns == [("a", "UInt8"), ("b", "Map(String, String)")]
    assert shape.end == len(header)


def test_varints() -> None:
    for value in (0, 1, 127, 128, 300, 2**32, 2**63):
        encoded = varint(value)
        assert read_varint(BytesSource(encoded), 0) == (value, len(encoded))
    with pytest.raises(ProtocolError):
        read_varint(BytesSource(b"\xff" * 11), 0)


def test_frames_round_trip_through_the_driver() -> None:
    payload = BLOCK_INFO + _driver_block(COLUMNS)[len(BLOCK_INFO) :] * 1
    big = b"".join(payload for _ in range(3000))  # > 1 MiB: several frames
    frames: list[bytes] = []
    compress_frames(big, frames)
    assert len(frames) > 1
    stream = CompressedBlockInputStream(io.BytesIO(b"".join(frames)), _driver_context())
    assert stream.read().num_rows == 2  # the driver decodes our frames

    left, right = socket.socketpair()
    try:
        right.sendall(b"".join(frames))
        source = FrameSource(SocketReader(left))
        source.ensure(len(big))
        assert bytes(source.buf) == big
    finally:
        left.close()
        right.close()


def test_corrupt_frame_is_rejected() -> None:
    frames: list[bytes] = []
    compress_frames(b"hello world" * 10, frames)
    damaged = bytearray(frames[0])
    damaged[-1] ^= 0xFF
    left, right = socket.socketpair()
    try:
        right.sendall(bytes(damaged))
        with pytest.raises(ProtocolError, match="checksum"):
            read_frame(SocketReader(left))
    finally:
        left.close()
        right.close()


@pytest.mark.parametrize(
    "sql,table,columns",
    [
        ("INSERT INTO t VALUES", "t", None),
        ("insert into db.t (a, `b c`) values", "db.t", ["a", "b c"]),
        ("/* dbt */ INSERT INTO `db`.`t` FORMAT Native", "`db`.`t`", None),
        ("INSERT INTO TABLE t (a) SETTINGS async_insert = 0 VALUES ;", "t", ["a"]),
        ("INSERT INTO FUNCTION null('a UInt8') VALUES", "FUNCTION null('a UInt8')", None),
    ],
)
def test_parse_insert_expecting_blocks(sql: str, table: str, columns: list[str] | None) -> None:
    target = parse_insert(sql)
    assert target is not None
    assert target.table == table
    assert target.columns == columns


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO t VALUES (1, 'a')",
        "INSERT INTO t SELECT * FROM u",
        "INSERT INTO t (a) WITH 1 AS x SELECT x",
        "INSERT INTO t FORMAT CSV 1,2",
        "SELECT 'INSERT INTO t VALUES'",
        "CREATE TABLE t (a UInt8) ENGINE = Memory",
    ],
)
def test_parse_insert_leaves_other_statements_to_the_engine(sql: str) -> None:
    assert parse_insert(sql) is None


def test_returns_rows() -> None:
    assert returns_rows("-- c\n  select 1")
    assert returns_rows("(SELECT 1) UNION ALL (SELECT 2)")
    assert returns_rows("SHOW TABLES")
    assert not returns_rows("CREATE TABLE t (a UInt8) ENGINE = Memory")
    assert not returns_rows("INSERT INTO t SELECT 1")
