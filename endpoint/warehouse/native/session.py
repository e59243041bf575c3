"""One native-protocol TCP connection: handshake, then packets until the client leaves.

Each connection owns one engine connection (a ClickHouse session) and runs in its own thread.
Results stream out one Data packet per chDB block (Native bytes + BlockInfo, never decoded);
insert blocks stream into the engine the same way.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import logging
import queue
import select
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from warehouse import external as external_data
from warehouse.engine import ClickHouseError
from warehouse.external import ExternalTable
from warehouse.native import protocol as proto
from warehouse.native.blocks import (
    BLOCK_INFO,
    UnsupportedTypeError,
    header_block,
    leading_columns,
    scan_block,
    skip_block_info,
    skipper,
)
from warehouse.native.compression import FRAME_SIZE, FrameSource, compress_frames
from warehouse.native.pumps import InsertPump, ResultPump
from warehouse.native.revision import BARE, Labels
from warehouse.native.statements import InsertTarget, first_keyword, parse_insert, returns_rows
from warehouse.native.wire import (
    BytesSource,
    ProtocolError,
    SocketReader,
    read_str,
    read_varint,
)

if TYPE_CHECKING:
    from warehouse.native.server import NativeServer

log = logging.getLogger("warehouse.native")

# ClickHouse error codes used here
UNSUPPORTED_METHOD = 1
NO_SUCH_COLUMN_IN_TABLE = 16
CANNOT_READ_ALL_DATA = 33
UNKNOWN_PACKET_FROM_CLIENT = 99
UNEXPECTED_PACKET_FROM_CLIENT = 101
CHECKSUM_DOESNT_MATCH = 40
QUERY_WAS_CANCELLED = 394
AUTHENTICATION_FAILED = 516
# while a statement runs without output, an empty Progress packet this often
HEARTBEAT_SECONDS = 0.5
# how often a waiting session looks for a Cancel packet or a hang-up
POLL_SECONDS = 0.05
# result packets are collected up to this size (or until the engine has nothing ready)
SEND_BATCH_BYTES = 1 << 20
MAX_IOV = 512  # buffers per sendmsg (the kernel's IOV_MAX is 1024)
# first byte of GET / POST: the server's TCPHandler answers these with a plain-text hint
_HTTP_METHOD_STARTS = (ord("G"), ord("P"))

_ERROR_NAMES = {
    UNSUPPORTED_METHOD: "UNSUPPORTED_METHOD",
    NO_SUCH_COLUMN_IN_TABLE: "NO_SUCH_COLUMN_IN_TABLE",
    CANNOT_READ_ALL_DATA: "CANNOT_READ_ALL_DATA",
    UNKNOWN_PACKET_FROM_CLIENT: "UNKNOWN_PACKET_FROM_CLIENT",
    UNEXPECTED_PACKET_FROM_CLIENT: "UNEXPECTED_PACKET_FROM_CLIENT",
    CHECKSUM_DOESNT_MATCH: "CHECKSUM_DOESNT_MATCH",
    AUTHENTICATION_FAILED: "AUTHENTICATION_FAILED",
}


def error_packet(code: int, text: str) -> bytes:
    """Exception packet for a server-side error `text` (without the 'Code: N.' prefix)."""
    name = _ERROR_NAMES.get(code, "UNKNOWN")
    return proto.exception(code, f"DB::Exception: {text}. ({name})")


def engine_error_packet(exc: ClickHouseError) -> bytes:
    """Exception packet for an engine error: its message minus the leading 'Code: N. '."""
    message = exc.message
    prefix = f"Code: {exc.code}. "
    if message.startswith(prefix):
        message = message[len(prefix) :]
    return proto.exception(exc.code, message)


@dataclass
class DataPacket:
    table: str
    body: bytes  # Native block without BlockInfo
    rows: int
    columns: int
    names_and_types: list[tuple[str, str]] | None = None  # when the block was walked


class Session:
    """Serves one client connection (call `run()` in its own thread)."""

    def __init__(self, server: NativeServer, sock: socket.socket, peer: Any) -> None:
        self.server = server
        self.sock = sock
        self.peer = peer
        self.reader = SocketReader(sock)
        self.conn: Any = None  # EngineConnection, opened after the handshake
        self.revision = proto.REVISION
        self.user = ""
        self.session_id = uuid.uuid4().hex[:12]
        self._query_lock = threading.Lock()
        self._cancelled = threading.Event()
        self._running = False
        self._closed = False
        self._close_lock = threading.Lock()

    # -- lifecycle ----------------------------------------------------------------------------

    def run(self) -> None:
        try:
            if self._handshake():
                self._serve()
        except (EOFError, ConnectionError, TimeoutError, OSError):
            pass  # client went away
        except ProtocolError as exc:
            checksum = "checksum" in str(exc)
            code = CHECKSUM_DOESNT_MATCH if checksum else UNEXPECTED_PACKET_FROM_CLIENT
            log.info("native client %s: protocol error: %s", self.peer, exc)
            self._try_send(error_packet(code, f"Malformed packet from client: {exc}"))
        except Exception:
            log.exception("native client %s: internal error", self.peer)
            self._try_send(error_packet(UNSUPPORTED_METHOD, "Internal error of the native server"))
        finally:
            self.close()

    def close(self) -> None:
        """Drop the connection (from any thread): kills a running query, frees the session."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        conn = self.conn
        if conn is not None and self._running:
            conn.cancel()
        # the serving thread may still be inside the engine: close the session after it
        if self._query_lock.acquire(timeout=10):
            try:
                if self.conn is not None:
                    self.conn.close()
                    self.conn = None
            finally:
                self._query_lock.release()
        self.sock.close()

    # -- packets ------------------------------------------------------------------------------

    def _handshake(self) -> bool:
        packet_type = self.reader.varint()
        if packet_type in _HTTP_METHOD_STARTS:  # an HTTP request: answer as the server does
            self._send(self._wrong_port_reply())
            return False
        if packet_type != proto.Client.HELLO:
            raise ProtocolError(f"expected Hello, got packet type {packet_type}")
        hello = proto.read_hello(self.reader)
        self.user = hello.user or "default"
        if hello.revision < proto.MIN_CLIENT_REVISION:
            self._send(
                error_packet(
                    UNSUPPORTED_METHOD,
                    f"Client protocol revision {hello.revision} is too old; "
                    f"this server needs {proto.MIN_CLIENT_REVISION} or newer",
                )
            )
            return False
        auth = self.server.auth
        if auth is not None and not auth(self.user, hello.password):
            self._send(
                error_packet(
                    AUTHENTICATION_FAILED,
                    f"{self.user}: Authentication failed: password is incorrect, "
                    "or there is no user with such name",
                )
            )
            return False
        self.conn = self.server.engine.connect()
        if hello.database:
            try:
                self.conn.query(f"USE {_ident(hello.database)}", "Native")
            except ClickHouseError as exc:
                self._send(engine_error_packet(exc))
                return False
        self._send(proto.hello(self.server.version, self.server.timezone, self.server.display_name))
        return True

    def _wrong_port_reply(self) -> bytes:
        """clickhouse-server's plain-text reply to HTTP on the native port."""
        http_port = self.server.http_port or 8123
        return (
            "HTTP/1.0 400 Bad Request\r\n\r\n"
            f"Port {self.server.port} is for clickhouse-client program.\r\n"
            f"You must use port {http_port} for HTTP.\r\n"
        ).encode()

    def _serve(self) -> None:
        reader = self.reader
        while not self.server.stopping:
            reader.compact()
            packet_type = reader.varint()
            if packet_type == proto.Client.PING:
                self._send(proto.PONG)
            elif packet_type == proto.Client.QUERY:
                self._query()
            elif packet_type == proto.Client.CANCEL:
                continue  # nothing running (a late Cancel)
            elif packet_type == proto.Client.DATA:
                self._read_data(compressed=False)
                self._send(error_packet(UNEXPECTED_PACKET_FROM_CLIENT, "Unexpected Data packet"))
            elif packet_type == proto.Client.TABLES_STATUS_REQUEST:
                tables = proto.read_tables_status_request(reader)
                self._send(proto.tables_status_response(tables))
            elif packet_type == proto.Client.HELLO:
                raise ProtocolError("unexpected Hello after the handshake")
            else:
                self._send(
                    error_packet(
                        UNKNOWN_PACKET_FROM_CLIENT, f"Unknown packet {packet_type} from client"
                    )
                )
                return

    def _read_data(self, compressed: bool, walk: bool = False) -> DataPacket:
        """Read a Data packet body (type already consumed): the block without BlockInfo.

        `walk` forces a walk of a compressed block to learn its column names and types."""
        reader = self.reader
        table = reader.string()
        if not compressed:
            pos = skip_block_info(reader, reader.pos)
            shape = scan_block(reader, pos)
            body = bytes(reader.buf[pos : shape.end])
            reader.pos = shape.end
            return DataPacket(table, body, shape.rows, len(shape.columns), shape.columns)
        frames = FrameSource(reader)
        frames.next_frame()
        pos = skip_block_info(frames, 0)
        if frames.last_frame_size != FRAME_SIZE and not walk:
            # ClickHouse cuts frames at exactly FRAME_SIZE bytes, clickhouse-driver writes one
            # frame per block: any other size means this frame holds the whole block
            n_columns, after = read_varint(frames, pos)
            n_rows, _ = read_varint(frames, after)
            return DataPacket(table, bytes(frames.buf[pos:]), n_rows, n_columns)
        shape = scan_block(frames, pos)
        if shape.end != len(frames.buf):
            raise ProtocolError("compressed block does not end at a frame boundary")
        body = bytes(frames.buf[pos:])
        return DataPacket(table, body, shape.rows, len(shape.columns), shape.columns)

    def _read_external_tables(self, compressed: bool) -> list[DataPacket]:
        """Consume the external-table blocks that follow a query (up to the empty block)."""
        tables = []
        while True:
            packet_type = self.reader.varint()
            if packet_type == proto.Client.CANCEL:
                continue
            if packet_type != proto.Client.DATA:
                raise ProtocolError(f"expected Data after Query, got packet type {packet_type}")
            packet = self._read_data(compressed, walk=True)
            if packet.columns == 0:
                return tables
            tables.append(packet)

    def _external_tables(self, packets: list[DataPacket]) -> list[ExternalTable]:
        """The external-table blocks as tables of this query (blocks of one name append)."""
        tables = []
        for packet in packets:
            columns = ", ".join(f"{_ident(n)} {t}" for n, t in packet.names_and_types or [])
            tables.append(
                ExternalTable(
                    packet.table or "_data", columns, "Native", [packet.body], bool(packet.rows)
                )
            )
        return tables

    # -- queries ------------------------------------------------------------------------------

    def _query(self) -> None:
        query = proto.read_query(self.reader, self.revision)
        query.query_id = query.query_id or str(uuid.uuid4())  # as a server names it
        self._cancelled.clear()
        external = self._read_external_tables(query.compression)
        started = time.monotonic()
        record: dict[str, Any] = {}
        created: list[str] = []
        try:
            if external:
                try:
                    with self._query_lock:
                        created = external_data.create(self.conn, self._external_tables(external))
                except ClickHouseError as exc:
                    self._finish_with_error(exc, record)
                    return
            target = parse_insert(query.query)
            if target is not None:
                self._insert(query, target, record)
            else:
                self._select(query, record)
        finally:
            if created:
                with self._query_lock:
                    external_data.drop(self.conn, created)
            self._log(query, time.monotonic() - started, record)

    def _log(self, query: proto.Query, duration: float, record: dict[str, Any]) -> None:
        """One line in the endpoint's query log (engine.query_log, when the server has one)."""
        query_log = getattr(self.server.engine, "query_log", None)
        if query_log is None:
            return
        try:
            query_log.record(
                interface="native",
                query_id=query.query_id,
                query=query.query,
                session=None,
                user=self.user,
                duration=duration,
                client=f"{self.peer[0]}:{self.peer[1]}" if isinstance(self.peer, tuple) else None,
                connection=self.session_id,
                **record,
            )
        except Exception:  # the log must never break a client
            log.exception("query log failed")

    def _select(self, query: proto.Query, record: dict[str, Any]) -> None:
        """Run a statement and stream its result: header block, data blocks, end packets.

        The engine runs in a `ResultPump` thread; this thread sends, watches the socket
        (a Cancel packet or a hang-up kills the statement) and sends heartbeats."""
        compressed = query.compression
        with self._query_lock:
            self._running = True
            pump = ResultPump(self.conn, query.query, query.settings or None, query.query_id)
            pump.start()
            out: list[Any] = []  # packets not sent yet: small results go out in one write
            pending = 0
            header_sent = False
            labels: Labels | None = None
            blocks = 0
            seen_read = seen_bytes = 0
            heartbeat = time.monotonic() + HEARTBEAT_SECONDS
            try:
                while True:
                    try:
                        kind, payload, snapshot = pump.queue.get(timeout=POLL_SECONDS)
                    except queue.Empty:
                        self._check_client()
                        if time.monotonic() >= heartbeat:
                            self._send(proto.progress(0, 0))  # keeps client timeouts at bay
                            heartbeat = time.monotonic() + HEARTBEAT_SECONDS
                        continue
                    if kind == "error":
                        self._send_parts(out)
                        self._finish_with_error(_as_clickhouse_error(payload), record)
                        return
                    if kind == "end":
                        stats = payload
                        break
                    rows_read, bytes_read = snapshot
                    for block in payload:
                        if not header_sent:
                            columns = self._header_of(block, query)
                            labels = self._timezone_labels(columns, query)
                            header = header_block(labels.header() if labels else columns)
                            out += self._block_parts(header, compressed)
                            header_sent = True
                        progress = proto.progress(rows_read - seen_read, bytes_read - seen_bytes)
                        seen_read, seen_bytes = rows_read, bytes_read
                        body = labels.pieces(block) if labels is not None else [block]
                        out += self._block_parts(body, compressed, before=progress)
                        pending += len(block)
                        blocks += 1
                    if pending >= SEND_BATCH_BYTES or pump.queue.empty():
                        self._send_parts(out)
                        out, pending = [], 0
                        heartbeat = time.monotonic() + HEARTBEAT_SECONDS
                        self._check_client()
            except UnsupportedTypeError as exc:  # a result column type we cannot frame
                self._send_parts(out)
                self._finish_with_error(_as_clickhouse_error(exc), record)
                return
            finally:
                self._running = False
                pump.finish()
            record.update(
                read_rows=stats.rows_read,
                read_bytes=stats.bytes_read,
                written_rows=stats.rows_written,
                written_bytes=stats.bytes_written,
                result_rows=stats.result_rows,
                result_bytes=stats.result_bytes,
            )
            if not header_sent and returns_rows(query.query):
                columns = self._empty_result_header(query)
                if columns is not None:
                    out += self._block_parts(header_block(columns), compressed)
                    header_sent = True
            tail = []
            if header_sent:
                tail.append(proto.profile_info(stats.result_rows, blocks, stats.result_bytes))
            tail.append(
                proto.progress(
                    max(stats.rows_read - seen_read, 0),
                    max(stats.bytes_read - seen_bytes, 0),
                    written_rows=stats.rows_written,
                    written_bytes=stats.bytes_written,
                )
            )
            tail.append(proto.END_OF_STREAM)
            out.append(b"".join(tail))
            self._send_parts(out)

    def _check_client(self) -> None:
        """While a statement runs the client only speaks to cancel (or hangs up): kill it."""
        if self._cancelled.is_set():
            return
        readable = self.reader.has_buffered()
        if not readable:
            poller = select.poll()  # not select(): fds above 1024 are common next to chDB
            poller.register(self.sock, select.POLLIN | select.POLLHUP | select.POLLERR)
            readable = bool(poller.poll(0))
        if readable:
            self._cancelled.set()
            self.conn.cancel()

    def _insert(self, query: proto.Query, target: InsertTarget, record: dict[str, Any]) -> None:
        """Sample block out, then the client's blocks straight into the engine as they arrive."""
        compressed = query.compression
        with self._query_lock:
            try:
                columns = self._insert_columns(target)
            except ClickHouseError as exc:
                self._finish_with_error(exc, record)
                return
            if not compressed:
                try:  # an uncompressed block is framed by walking it: all types must be known
                    for _, type_name in columns:
                        skipper(type_name)
                except UnsupportedTypeError as exc:
                    text = f"{exc}; insert with compression enabled instead"
                    error = ClickHouseError.make(UNSUPPORTED_METHOD, "UNSUPPORTED_METHOD", text)
                    self._finish_with_error(error, record)
                    return
            self._send_block(header_block(columns), compressed)
            sql = target.insert_sql([name for name, _ in columns])
            pump = InsertPump(self.conn, sql, query.settings or None, query.query_id)
            pump.start()
            self._running = True
            try:
                cancelled = self._receive_insert_blocks(compressed, pump.feed)
                if cancelled:
                    pump.abort()
                    record["error_code"] = QUERY_WAS_CANCELLED
                    self._send(proto.END_OF_STREAM)
                    return
                pump.close_input()
                while not pump.wait(HEARTBEAT_SECONDS):
                    self._send(proto.progress(0, 0))  # a long commit: keep the client waiting
            except BaseException:
                pump.abort()
                raise
            finally:
                self._running = False
            if pump.error is not None:
                if not isinstance(pump.error, ClickHouseError):
                    raise pump.error
                self._finish_with_error(pump.error, record)
                return
            stats = pump.stats
            record.update(written_rows=stats.rows_written, written_bytes=stats.bytes_written)
            self._send(
                proto.progress(
                    0, 0, written_rows=stats.rows_written, written_bytes=stats.bytes_written
                )
                + proto.END_OF_STREAM
            )

    def _receive_insert_blocks(self, compressed: bool, sink: Callable[[bytes], None]) -> bool:
        """Pass the client's blocks to `sink` until the empty block; True if it sent Cancel."""
        reader = self.reader
        while True:
            reader.compact()
            packet_type = reader.varint()
            if packet_type == proto.Client.CANCEL:
                return True
            if packet_type != proto.Client.DATA:
                raise ProtocolError(f"expected Data during INSERT, got packet type {packet_type}")
            if compressed:
                packet = self._read_data(compressed)
                if packet.columns == 0:
                    return False
                sink(packet.body)
            elif not self._stream_block(sink):
                return False

    def _stream_block(self, sink: Callable[[bytes], None]) -> bool:
        """Read an uncompressed Data packet, handing its bytes to `sink` while they arrive
        (the engine parses them as the client is still sending). False for the empty block."""
        reader = self.reader
        reader.string()  # temporary table name
        start = skip_block_info(reader, reader.pos)
        n_columns, _ = read_varint(reader, start)
        if n_columns == 0:
            reader.pos = scan_block(reader, start).end
            return False
        sent = start

        def flush() -> None:  # everything buffered before a position the walk needs is ours
            nonlocal sent
            end = len(reader.buf)
            if end > sent:
                sink(bytes(reader.buf[sent:end]))
                sent = end

        reader.on_more = flush
        try:
            end = scan_block(reader, start).end
        finally:
            reader.on_more = None
        if end > sent:
            sink(bytes(reader.buf[sent:end]))
        reader.pos = end
        return True

    def _finish_with_error(self, exc: ClickHouseError, record: dict[str, Any]) -> None:
        """End a query with an Exception packet, or just EndOfStream if the client cancelled."""
        if self._cancelled.is_set():
            record.update(error_code=QUERY_WAS_CANCELLED, error="cancelled by the client")
            self._send(proto.END_OF_STREAM)
            return
        record.update(error_code=exc.code, error=exc.message)
        self._send(engine_error_packet(exc))

    # -- headers ------------------------------------------------------------------------------

    def _header_of(self, block: bytes | memoryview, query: proto.Query) -> list[tuple[str, str]]:
        """Column names and types of a result, from its first block.

        The result stream is still open on this session's connection, so a fallback query
        (for a column type we cannot walk past) runs on a pooled connection."""
        try:
            return scan_block(BytesSource(block), 0).columns
        except UnsupportedTypeError:
            columns = leading_columns(BytesSource(block))
            if columns is not None:
                return columns
            with self.server.engine.pooled() as other:
                columns = self._describe_result(other, query)
            if columns is None:
                raise
            return columns

    def _timezone_labels(self, columns: list[tuple[str, str]], query: proto.Query) -> Labels | None:
        """The `DateTime('tz')` labels chDB left off this result's columns (this client's
        revision keeps them), from DESCRIBE on a pooled connection (this one is streaming)."""
        if not any(type_name == BARE for _, type_name in columns):
            return None
        if first_keyword(query.query) not in ("SELECT", "WITH", "("):
            return None
        with self.server.engine.pooled() as other:
            return Labels.of(columns, self._describe_result(other, query))

    def _empty_result_header(self, query: proto.Query) -> list[tuple[str, str]] | None:
        """Column names and types of a result that had no rows (chDB writes no bytes)."""
        return self._describe_result(self.conn, query)

    def _describe_result(self, conn: Any, query: proto.Query) -> list[tuple[str, str]] | None:
        """`DESCRIBE (query)` for SELECTs, else the statement again as RowBinaryWithNamesAndTypes
        (SHOW, EXISTS, ... are cheap), using the session's current database."""
        sql = query.query.strip().rstrip(";").strip()
        attempts = []
        if first_keyword(sql) in ("SELECT", "WITH", "("):
            attempts.append((f"DESCRIBE TABLE ({sql})", True))
        attempts.append((sql, False))
        database = self.conn.database if conn is not self.conn else None
        for text, is_describe in attempts:
            try:
                result = conn.query(
                    text,
                    "RowBinaryWithNamesAndTypes",
                    settings=query.settings or None,
                    database=database,
                )
            except ClickHouseError as exc:
                log.debug("header attempt %r failed: %s", text[:100], exc)
                continue
            names, types, rows = _parse_rowbinary_strings(result.data)
            if not is_describe:
                return list(zip(names, types, strict=True))
            return [(row[0], row[1]) for row in rows]
        return None

    def _insert_columns(self, target: InsertTarget) -> list[tuple[str, str]]:
        """The sample block of an INSERT: the columns the client must send, in order."""
        result = self.conn.query(target.describe_sql(), "RowBinaryWithNamesAndTypes")
        names, _, rows = _parse_rowbinary_strings(result.data)
        index = {name: i for i, name in enumerate(names)}
        described = [
            (row[index["name"]], row[index["type"]], row[index.get("default_type", 0)])
            for row in rows
        ]
        if target.columns is None:
            return [
                (name, type_name)
                for name, type_name, kind in described
                if kind not in ("MATERIALIZED", "ALIAS", "EPHEMERAL")
            ]
        types = {name: type_name for name, type_name, _ in described}
        out = []
        for name in target.columns:
            if name not in types:
                raise ClickHouseError.make(
                    NO_SUCH_COLUMN_IN_TABLE,
                    "NO_SUCH_COLUMN_IN_TABLE",
                    f"No such column {name} in table {target.table}",
                )
            out.append((name, types[name]))
        return out

    # -- sending ------------------------------------------------------------------------------

    def _block_parts(
        self,
        block: bytes | memoryview | list[bytes | memoryview],
        compressed: bool,
        before: bytes = b"",
    ) -> list[Any]:
        """Buffers of a Data packet carrying `block` (a Native block without BlockInfo, or
        the buffers it is made of)."""
        pieces = block if isinstance(block, list) else [block]
        if compressed:
            parts: list[Any] = [before + proto.DATA_PREFIX]
            compress_frames(b"".join([BLOCK_INFO, *pieces]), parts)
            return parts
        return [before + proto.DATA_PREFIX + BLOCK_INFO, *pieces]

    def _send_block(self, block: bytes | memoryview, compressed: bool) -> None:
        self._send_parts(self._block_parts(block, compressed))

    def _send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _send_parts(self, parts: list[Any]) -> None:
        """Send several buffers with as few syscalls as possible (no copying)."""
        views = collections.deque(memoryview(p).cast("B") for p in parts if len(p))
        while views:
            sent = self.sock.sendmsg(list(itertools.islice(views, MAX_IOV)))
            while views and sent >= len(views[0]):
                sent -= len(views.popleft())
            if views and sent:
                views[0] = views[0][sent:]

    def _try_send(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(data)


def _as_clickhouse_error(exc: BaseException) -> ClickHouseError:
    if isinstance(exc, ClickHouseError):
        return exc
    if isinstance(exc, UnsupportedTypeError):
        return ClickHouseError.make(UNSUPPORTED_METHOD, "UNSUPPORTED_METHOD", str(exc))
    raise exc


def _parse_rowbinary_strings(data: bytes) -> tuple[list[str], list[str], list[list[str]]]:
    """Parse RowBinaryWithNamesAndTypes output whose columns are all String."""
    src = BytesSource(data)
    count, pos = read_varint(src, 0)
    names, types = [], []
    for _ in range(count):
        name, pos = read_str(src, pos)
        names.append(name)
    for _ in range(count):
        type_name, pos = read_str(src, pos)
        types.append(type_name)
    rows = []
    if all(t == "String" for t in types):
        while pos < len(data):
            row = []
            for _ in range(count):
                value, pos = read_str(src, pos)
                row.append(value)
            rows.append(row)
    return names, types, rows


def _ident(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"
