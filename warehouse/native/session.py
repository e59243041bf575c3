"""One native-protocol TCP connection: handshake, then packets until the client leaves.

Each connection owns one engine connection (a ClickHouse session) and runs in its own thread.
Results stream out one Data packet per chDB block (Native bytes + BlockInfo, never decoded);
insert blocks stream into the engine the same way.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from warehouse.engine import ClickHouseError
from warehouse.native import protocol as proto
from warehouse.native.blocks import (
    BLOCK_INFO,
    BlockShape,
    UnsupportedTypeError,
    block_rows,
    header_block,
    scan_block,
    skip_block_info,
)
from warehouse.native.compression import FRAME_SIZE, FrameSource, compress_frames
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
HEARTBEAT_SECONDS = 1.0

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


class _InsertCancelledError(Exception):
    """The client sent Cancel instead of the next insert block."""


@dataclass
class DataPacket:
    table: str
    body: bytes  # Native block without BlockInfo
    rows: int
    columns: int


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

    def _read_data(self, compressed: bool) -> DataPacket:
        """Read a Data packet body (type already consumed): the block without BlockInfo."""
        reader = self.reader
        table = reader.string()
        if not compressed:
            pos = skip_block_info(reader, reader.pos)
            shape = scan_block(reader, pos)
            body = bytes(reader.buf[pos : shape.end])
            reader.pos = shape.end
            return DataPacket(table, body, shape.rows, len(shape.columns))
        frames = FrameSource(reader)
        frames.next_frame()
        pos = skip_block_info(frames, 0)
        if frames.last_frame_size != FRAME_SIZE:
            # ClickHouse cuts frames at exactly FRAME_SIZE bytes, clickhouse-driver writes one
            # frame per block: any other size means this frame holds the whole block
            n_columns, after = read_varint(frames, pos)
            n_rows, _ = read_varint(frames, after)
        else:
            shape = scan_block(frames, pos)
            if shape.end != len(frames.buf):
                raise ProtocolError("compressed block does not end at a frame boundary")
            n_columns, n_rows = len(shape.columns), shape.rows
        return DataPacket(table, bytes(frames.buf[pos:]), n_rows, n_columns)

    def _read_external_tables(self, compressed: bool) -> int:
        """Consume the external-table blocks that follow a query; return how many had data."""
        tables = 0
        while True:
            packet_type = self.reader.varint()
            if packet_type == proto.Client.CANCEL:
                continue
            if packet_type != proto.Client.DATA:
                raise ProtocolError(f"expected Data after Query, got packet type {packet_type}")
            packet = self._read_data(compressed)
            if packet.columns == 0:
                return tables
            tables += 1

    # -- queries ------------------------------------------------------------------------------

    def _query(self) -> None:
        query = proto.read_query(self.reader, self.revision)
        external = self._read_external_tables(query.compression)
        started = time.monotonic()
        record: dict[str, Any] = {}
        try:
            if external:
                exc = ClickHouseError.make(
                    UNSUPPORTED_METHOD, "UNSUPPORTED_METHOD", "External tables are not supported"
                )
                self._finish_with_error(exc, record)
                return
            target = parse_insert(query.query)
            if target is not None:
                self._insert(query, target, record)
            else:
                self._select(query, record)
        finally:
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
        """Run a statement and stream its result: header block, data blocks, end packets."""
        compressed = query.compression
        with self._query_lock, self._watch():
            pump = _ResultPump(self.conn, query)
            pump.start()
            header_sent = False
            blocks = 0
            seen_read = seen_bytes = 0
            stats = None
            try:
                while stats is None:
                    try:
                        kind, payload, snapshot = pump.queue.get(timeout=HEARTBEAT_SECONDS)
                    except queue.Empty:
                        self._send(proto.progress(0, 0))  # keeps client timeouts at bay
                        continue
                    if kind == "error":
                        if isinstance(payload, UnsupportedTypeError):
                            payload = ClickHouseError.make(
                                UNSUPPORTED_METHOD, "UNSUPPORTED_METHOD", str(payload)
                            )
                        if not isinstance(payload, ClickHouseError):
                            raise payload
                        self._finish_with_error(payload, record)
                        return
                    if kind == "end":
                        stats = payload
                        break
                    rows_read, bytes_read = snapshot
                    for block in payload:
                        if not header_sent:
                            header = header_block(self._header_of(block, query))
                            self._send_block(header, compressed)
                            header_sent = True
                        progress = proto.progress(rows_read - seen_read, bytes_read - seen_bytes)
                        seen_read, seen_bytes = rows_read, bytes_read
                        self._send_block(block, compressed, before=progress)
                        blocks += 1
            finally:
                pump.finish()
            record.update(
                read_rows=stats.rows_read,
                read_bytes=stats.bytes_read,
                written_rows=stats.rows_written,
                written_bytes=stats.bytes_written,
                result_rows=stats.result_rows,
                result_bytes=stats.result_bytes,
            )
            tail = []
            if not header_sent and returns_rows(query.query):
                columns = self._empty_result_header(query)
                if columns is not None:
                    self._send_block(header_block(columns), compressed)
                    header_sent = True
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
            self._send(b"".join(tail))

    def _insert(self, query: proto.Query, target: InsertTarget, record: dict[str, Any]) -> None:
        conn = self.conn
        compressed = query.compression
        with self._query_lock:
            try:
                columns = self._insert_columns(target)
            except ClickHouseError as exc:
                self._finish_with_error(exc, record)
                return
            self._send_block(header_block(columns), compressed)
            received = {"rows": 0}
            blocks = self._insert_blocks(compressed, received)
            sql = target.insert_sql([name for name, _ in columns])
            self._running = True
            try:
                stats = conn.insert(sql, "Native", blocks, settings=query.settings or None)
            except ClickHouseError as exc:
                for _ in blocks:  # drain the client's remaining blocks: stay in sync
                    pass
                self._finish_with_error(exc, record)
                return
            except _InsertCancelledError:
                record["error_code"] = QUERY_WAS_CANCELLED
                self._send(proto.END_OF_STREAM)
                return
            finally:
                self._running = False
            record.update(written_rows=stats.rows_written, written_bytes=stats.bytes_written)
            self._send(
                proto.progress(
                    0, 0, written_rows=stats.rows_written, written_bytes=stats.bytes_written
                )
                + proto.END_OF_STREAM
            )

    def _insert_blocks(self, compressed: bool, received: dict[str, int]) -> Iterator[bytes]:
        """Blocks the client sends after the sample block, until the empty block."""
        while True:
            packet_type = self.reader.varint()
            if packet_type == proto.Client.CANCEL:
                raise _InsertCancelledError
            if packet_type != proto.Client.DATA:
                raise ProtocolError(f"expected Data during INSERT, got packet type {packet_type}")
            packet = self._read_data(compressed)
            self.reader.compact()
            if packet.columns == 0:
                return
            received["rows"] += packet.rows
            if packet.rows:
                yield packet.body

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
        try:
            return scan_block(BytesSource(block), 0).columns
        except UnsupportedTypeError:
            columns = self._empty_result_header(query)
            if columns is None:
                raise
            return columns

    def _empty_result_header(self, query: proto.Query) -> list[tuple[str, str]] | None:
        """Column names and types of a result that had no rows (chDB writes no bytes)."""
        sql = query.query.strip().rstrip(";").strip()
        attempts = []
        if first_keyword(sql) in ("SELECT", "WITH", "("):
            attempts.append((f"DESCRIBE TABLE ({sql})", True))
        attempts.append((sql, False))
        for text, is_describe in attempts:
            try:
                result = self.conn.query(
                    text, "RowBinaryWithNamesAndTypes", settings=query.settings or None
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

    # -- cancel -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _watch(self) -> Iterator[None]:
        """While a query runs, client data (a Cancel) or a hang-up kills it."""
        self._cancelled.clear()
        self._running = True
        handle = None
        if not self.reader.has_buffered():
            handle = self.server.watcher.watch(self.sock, self._on_readable)
        try:
            yield
        finally:
            self._running = False
            if handle is not None:
                self.server.watcher.unwatch(handle)

    def _on_readable(self) -> None:
        """Watcher thread: the client sent something (Cancel) or hung up mid-query.

        The Cancel packet itself stays in the buffer; the packet loop skips it later."""
        if not self._running:
            return
        self._cancelled.set()
        conn = self.conn
        if conn is not None:
            conn.cancel()

    # -- sending ------------------------------------------------------------------------------

    def _send_block(self, block: bytes | memoryview, compressed: bool, before: bytes = b"") -> None:
        if compressed:
            parts = [before + proto.DATA_PREFIX]
            compress_frames(BLOCK_INFO + bytes(block), parts)
        else:
            parts = [before + proto.DATA_PREFIX + BLOCK_INFO, block]
        self._send_parts(parts)

    def _send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _send_parts(self, parts: list[Any]) -> None:
        """Send several buffers with as few syscalls as possible (no copying)."""
        views = [memoryview(p).cast("B") for p in parts if len(p)]
        while views:
            sent = self.sock.sendmsg(views)
            while views and sent >= len(views[0]):
                sent -= len(views[0])
                views.pop(0)
            if views and sent:
                views[0] = views[0][sent:]

    def _try_send(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(data)


class _ResultPump(threading.Thread):
    """Runs a statement on the engine and queues its result blocks for the sending thread.

    Engine work overlaps with compressing/sending the previous block, and the sending thread
    stays free to send heartbeats while a long statement runs. Items on `queue`:
    ("blocks", [block, ...], (rows_read, bytes_read)), then ("end", stats, None)
    or ("error", exception, None)."""

    def __init__(self, conn: Any, query: proto.Query) -> None:
        super().__init__(name="native-query", daemon=True)
        self.conn = conn
        self.query = query
        self.queue: queue.Queue[tuple[str, Any, Any]] = queue.Queue(maxsize=4)
        self._stop = threading.Event()
        self._done = threading.Event()

    def run(self) -> None:
        stream = None
        try:
            stream = self.conn.stream(
                self.query.query, "Native", settings=self.query.settings or None
            )
            seen_rows = 0
            for chunk in stream:
                stats = stream.stats
                blocks = _split_blocks(chunk, stats.result_rows - seen_rows)
                seen_rows = stats.result_rows
                snapshot = (stats.rows_read, stats.bytes_read)
                if not self._put(("blocks", blocks, snapshot)):
                    return
            self._done.set()
            self._put(("end", stream.stats, None))
        except Exception as exc:
            self._done.set()
            self._put(("error", exc, None))
        finally:
            self._done.set()
            if stream is not None:
                with contextlib.suppress(Exception):
                    stream.close()

    def _put(self, item: tuple[str, Any, Any]) -> bool:
        while not self._stop.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def finish(self) -> None:
        """Stop early if still running (kills the statement) and wait for the engine."""
        if not self._done.is_set():
            self._stop.set()
            self.conn.cancel()
        self.join()


def _split_blocks(chunk: bytes, rows: int) -> list[bytes | memoryview]:
    """The Native blocks in one chDB chunk (almost always exactly one)."""
    if not chunk:
        return []
    if block_rows(chunk) == rows:
        return [chunk]
    src = BytesSource(chunk)
    view = memoryview(chunk)
    out: list[bytes | memoryview] = []
    pos = 0
    while pos < len(chunk):
        shape: BlockShape = scan_block(src, pos)
        out.append(view[pos : shape.end])
        pos = shape.end
    return out


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
