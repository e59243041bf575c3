"""ClickHouse HTTP interface on top of the engine (thread per connection; engine calls release
the GIL). Follows clickhouse-server's behaviour for what standard clients use:

- GET/POST, `query` URL parameter joined with the body by a newline, `/ping`, `GET /`
- request bodies streamed (Content-Length or chunked) and decompressed (Content-Encoding)
- `INSERT … FORMAT X` / `INSERT … VALUES` data streamed into the engine, whichever part of the
  request the statement is in (after leading comments too)
- URL parameters: `database`, `default_format`, `session_id`/`session_timeout`/`session_check`,
  `query_id`, `param_<name>` (server-side parameters), everything else is a setting applied to
  that one query only; `enable_http_compression=1` + Accept-Encoding compresses the response
- results streamed as chunked responses when larger than one engine block, else one write
- errors: ClickHouse's code in X-ClickHouse-Exception-Code and `Code: N. DB::Exception: …`;
  an error after the first result bytes uses the X-ClickHouse-Exception-Tag block
- a query whose client disconnects is killed
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import logging
import secrets
import socket
import socketserver
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import h11

from warehouse import compression, external, httpio, multipart_form, sqltext
from warehouse.auth import Auth
from warehouse.engine import ClickHouseError, Engine, EngineConnection, QueryStats
from warehouse.native import protocol as proto
from warehouse.native.revision import NativeStream
from warehouse.native.statements import first_keyword, returns_rows
from warehouse.querylog import QueryLog
from warehouse.sessions import SessionManager
from warehouse.watcher import DisconnectWatcher

log = logging.getLogger(__name__)

KEEP_ALIVE_TIMEOUT = 30
IO_TIMEOUT = 300.0
MAX_QUERY_BYTES = 256 * 1024 * 1024  # a non-INSERT statement held in memory
INSERT_PROBE_LIMIT = 1024 * 1024  # how much body to read looking for `INSERT … FORMAT X`

# URL parameters that are not settings (or are HTTP-only settings without engine effect)
_RESERVED = {
    "query",
    "database",
    "default_format",
    "session_id",
    "session_timeout",
    "session_check",
    "query_id",
    "user",
    "password",
    "quota_key",
    "compress",
    "decompress",
    "client_protocol_version",
    "buffer_size",
    "wait_end_of_query",
    "role",
    "enable_http_compression",
    "send_progress_in_http_headers",
    "http_headers_progress_interval_ms",
    "http_zlib_compression_level",
    "http_native_compression_disable_checksumming_on_decompress",
    "add_http_cors_header",
    "cancel_http_readonly_queries_on_client_close",
    "http_wait_end_of_query",
    "http_response_buffer_size",
    "stacktrace",
}

_CONTENT_TYPES = {
    "tabseparated": "text/tab-separated-values; charset=UTF-8",
    "tsv": "text/tab-separated-values; charset=UTF-8",
    "csv": "text/csv; charset=UTF-8; header=absent",
    "csvwithnames": "text/csv; charset=UTF-8; header=present",
    "json": "application/json; charset=UTF-8",
    "jsoncompact": "application/json; charset=UTF-8",
    "jsoneachrow": "application/x-ndjson; charset=UTF-8",
}


@dataclass
class _Query:
    """One query request after the URL, headers and auth are understood."""

    query_id: str
    user: str
    database: str | None
    default_format: str
    settings: dict[str, str]
    params: dict[str, str]
    session_id: str | None
    session_timeout: float | None
    session_check: bool
    encoding: str | None  # response compression
    client: str
    protocol_version: int = 0  # client_protocol_version: how Native output is written
    started: float = field(default_factory=time.monotonic)
    sql_for_log: str = ""


class HttpServer:
    """Serves ClickHouse's HTTP interface for `engine` on (host, port); port 0 = a free port."""

    def __init__(
        self,
        engine: Engine,
        host: str = "127.0.0.1",
        port: int = 8123,
        auth: Auth | None = None,
        query_log: QueryLog | None = None,
        display_name: str = "chdb-endpoint",
    ) -> None:
        self.engine = engine
        self.auth = auth or Auth()
        self.query_log = query_log
        self.display_name = display_name
        self.sessions = SessionManager(engine)
        self.watcher = DisconnectWatcher()
        server_cls = _TCPServer6 if ":" in host else _TCPServer
        self._tcp = server_cls((host, port), _Handler)
        self._tcp.app = self  # type: ignore[attr-defined]
        self.host, self.port = self._tcp.server_address[:2]
        self._thread: threading.Thread | None = None
        self._active: set[EngineConnection] = set()
        self._active_lock = threading.Lock()

    def serve_forever(self) -> None:
        self._tcp.serve_forever(poll_interval=0.2)

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self.serve_forever, name="http-server", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        """Stop accepting, cancel running queries, drop sessions."""
        self._tcp.shutdown()
        self._tcp.server_close()
        with self._active_lock:
            active = list(self._active)
        for conn in active:
            conn.cancel()
        deadline = time.monotonic() + 10  # let cancelled requests leave the engine
        while self._active and time.monotonic() < deadline:
            time.sleep(0.05)
        self.sessions.close()
        self.watcher.close()

    # -- request handling -----------------------------------------------------------------

    def handle(self, req: httpio.Request, handler: _Handler) -> bool:
        """Answer one request; return whether the connection may be reused."""
        if req.method in ("GET", "HEAD") and req.path in ("/ping", "/replicas_status"):
            return self._simple(handler, req, 200, b"Ok.\n")
        if req.method == "OPTIONS":
            return self._simple(handler, req, 204, b"")
        if req.path != "/" and req.path != "/query":
            msg = f"There is no handle {req.path}\n\nUse / or /ping.\n"
            return self._simple(handler, req, 404, msg.encode())
        if req.method == "GET" and "query" not in req.params:
            return self._simple(handler, req, 200, b"Ok.\n")
        if req.method not in ("GET", "POST"):
            return self._simple(handler, req, 405, b"Only GET and POST are supported.\n")
        q = None
        form = None
        try:
            q = self._parse(req, handler)  # authenticated before any body is read
            if multipart_form.is_form(req.headers.get("content-type", "")):
                form = self._read_form(req, handler)
                req.params = {**form.fields, **req.params}  # form fields are parameters too
                q = self._parse(req, handler)
            return self._run(req, q, handler, form)
        except ClickHouseError as exc:
            if q is not None:
                self._log(q, QueryStats(), exc)
            return self._error(handler, req, exc, q)
        finally:
            if form is not None:
                form.close()

    def _read_form(self, req: httpio.Request, handler: _Handler) -> multipart_form.Form:
        try:
            return multipart_form.read(
                req.headers["content-type"], self._body(req, handler), self.engine.spool_dir
            )
        except multipart_form.MalformedFormError as exc:
            raise httpio.BadRequestError(f"malformed multipart/form-data body: {exc}") from None

    def _parse(self, req: httpio.Request, handler: _Handler) -> _Query:
        h, p = req.headers, req.params
        user, password = p.get("user"), p.get("password")
        if "x-clickhouse-user" in h or "x-clickhouse-key" in h:
            user, password = h.get("x-clickhouse-user"), h.get("x-clickhouse-key")
        elif h.get("authorization", "").lower().startswith("basic "):
            with contextlib.suppress(ValueError, UnicodeDecodeError):
                decoded = base64.b64decode(h["authorization"][6:].strip()).decode()
                user, _, password = decoded.partition(":")
        if not self.auth.check(user, password):
            raise ClickHouseError(516, self.auth.failure_message(user))
        if p.get("decompress") in ("1", "true") or p.get("compress") in ("1", "true"):
            raise ClickHouseError.make(
                48,
                "NOT_IMPLEMENTED",
                "ClickHouse-native HTTP compression (compress/decompress=1) is not supported "
                "by this endpoint; use Content-Encoding / enable_http_compression=1",
            )
        encoding = None
        if p.get("enable_http_compression") in ("1", "true"):
            encoding = compression.choose_encoding(h.get("accept-encoding", ""))
        settings = {k: v for k, v in p.items() if k not in _RESERVED and not k.startswith("param_")}
        if req.method == "GET":  # as clickhouse-server: GET implies readonly
            settings.setdefault("readonly", "2")
        try:
            protocol_version = min(int(p.get("client_protocol_version") or 0), proto.REVISION)
        except ValueError:
            raise ClickHouseError.make(
                72, "CANNOT_PARSE_NUMBER", "Invalid client_protocol_version"
            ) from None
        timeout = p.get("session_timeout")
        try:
            session_timeout = float(timeout) if timeout else None
        except ValueError:
            raise ClickHouseError.make(
                36, "BAD_ARGUMENTS", f"Invalid session timeout: '{timeout}'"
            ) from None
        return _Query(
            query_id=p.get("query_id") or str(uuid.uuid4()),
            user=user or "default",
            database=p.get("database") or h.get("x-clickhouse-database") or None,
            default_format=p.get("default_format") or h.get("x-clickhouse-format") or "TSV",
            settings=settings,
            params={k[6:]: v for k, v in p.items() if k.startswith("param_")},
            session_id=p.get("session_id") or None,
            session_timeout=session_timeout,
            session_check=p.get("session_check") in ("1", "true"),
            encoding=encoding,
            client=f"{handler.client_address[0]}:{handler.client_address[1]}",
            protocol_version=protocol_version,
        )

    def _run(
        self, req: httpio.Request, q: _Query, handler: _Handler, form: multipart_form.Form | None
    ) -> bool:
        body = iter(()) if form is not None else self._body(req, handler)
        tables = form.tables(req.params) if form is not None else []
        connection = (
            self.sessions.acquire(q.session_id, q.session_timeout, q.session_check)
            if q.session_id
            else self.engine.pooled()
        )
        with connection as conn, external.loaded(conn, tables):
            return self._execute(req, q, handler, conn, body)

    def _body(self, req: httpio.Request, handler: _Handler) -> Iterator[bytes]:
        raw = handler.http.body()
        encoding = req.headers.get("content-encoding", "")
        try:
            return _checked(compression.decompressing(encoding, raw))
        except compression.UnsupportedEncodingError as exc:
            raise ClickHouseError.make(73, "UNKNOWN_FORMAT", str(exc)) from None

    def _execute(
        self,
        req: httpio.Request,
        q: _Query,
        handler: _Handler,
        conn: EngineConnection,
        body: Iterator[bytes],
    ) -> bool:
        with self._active_lock:
            self._active.add(conn)
        try:
            insert, sql, data = self._split(req, body)
            if insert is not None and q.params and insert.fmt == "Values":
                # `{name:Type}` in the rows: the engine binds parameters in whole statements only
                rows = _read_all(data).decode("utf-8", "surrogateescape")
                insert, sql = None, f"{insert.statement} VALUES {rows}"
            q.sql_for_log = sql
            if insert is not None:
                stats = conn.insert(
                    insert.statement,
                    insert.fmt,
                    httpio.coalesce(data),
                    settings=q.settings,
                    database=q.database,
                    query_id=q.query_id,
                )
                self._log(q, stats, None)
                headers = self._headers(q, stats, None)
                headers.append(("Content-Length", "0"))
                handler.http.respond(200, headers)
                return True
            if not sql.strip():
                raise ClickHouseError.make(62, "SYNTAX_ERROR", "Empty query")
            # a statement without a result set is answered without X-ClickHouse-Format
            fmt = (sqltext.output_format(sql) or q.default_format) if returns_rows(sql) else None
            with self.watcher.watching(handler.request, conn.cancel):
                stream = conn.stream(
                    sql, q.default_format, q.settings, q.params, q.database, q.query_id
                )
                if q.protocol_version and fmt and fmt.lower() == "native":
                    stream = NativeStream(
                        stream, q.protocol_version, lambda: self._describe(sql, q, conn.database)
                    )
                try:
                    return self._respond(req, q, handler, stream, fmt)
                finally:
                    stream.close()  # type: ignore[attr-defined]
        except httpio.ClientGoneError:
            self._log(q, QueryStats(), ClickHouseError.make(210, "NETWORK_ERROR", "client gone"))
            return False
        finally:
            with self._active_lock:
                self._active.discard(conn)

    def _split(
        self, req: httpio.Request, body: Iterator[bytes]
    ) -> tuple[sqltext.InsertHead | None, str, Iterator[bytes]]:
        """Find the statement and, for inserts, the data stream that follows it."""
        query_param = req.params.get("query", "")
        if query_param:
            head = sqltext.find_insert(query_param)
            if head is not None:
                tail = query_param[head.data_offset :]
                data = itertools.chain([(tail + "\n").encode()], body) if tail else body
                return head, query_param, data
            rest = _read_all(body)
            sql = query_param + ("\n" + rest.decode("utf-8", "surrogateescape") if rest else "")
            return None, sql, iter(())
        # statement in the body: read until the INSERT head is complete (or the body ends)
        buf = bytearray()
        chunks = iter(body)
        ended = False
        while not ended and len(buf) < INSERT_PROBE_LIMIT:
            chunk = next(chunks, None)
            if chunk is None:
                ended = True
                break
            buf += chunk
            text = buf.decode("latin-1")
            if not sqltext.is_insert_head(text) and len(text.strip()) > 16:
                break
            head = sqltext.find_insert(text, complete=False)
            if head is not None:
                statement = _sql(head.statement.encode("latin-1"))
                rest = bytes(buf[head.data_offset :])
                data = itertools.chain([rest], chunks) if rest else chunks
                return (
                    sqltext.InsertHead(statement, head.fmt, 0),
                    statement + f" FORMAT {head.fmt}",
                    data,
                )
        if not ended:
            buf += _read_all(chunks, MAX_QUERY_BYTES - len(buf))
        head = sqltext.find_insert(buf.decode("latin-1"))
        if head is not None:  # e.g. a small INSERT … VALUES
            statement = _sql(head.statement.encode("latin-1"))
            data = iter([bytes(buf[head.data_offset :])])
            return sqltext.InsertHead(statement, head.fmt, 0), statement, data
        return None, _sql(bytes(buf)), iter(())

    def _respond(
        self,
        req: httpio.Request,
        q: _Query,
        handler: _Handler,
        stream: Iterator[bytes],
        fmt: str | None,
    ) -> bool:
        http = handler.http
        first = next(stream, None)  # errors before any output become HTTP errors
        second = next(stream, None) if first is not None else None
        stats: QueryStats = stream.stats  # type: ignore[attr-defined]
        if second is None:
            body = first or b""
            headers = self._headers(q, stats, fmt)
            if q.encoding and req.method != "HEAD":
                comp = compression.compressor(q.encoding)
                body = comp.compress(body) + comp.flush()
                headers.append(("Content-Encoding", q.encoding))
            headers.append(("Content-Length", str(len(body))))
            self._log(q, stats, None)
            http.respond(200, headers, b"" if req.method == "HEAD" else body)
            return True
        tag = secrets.token_hex(8)
        headers = self._headers(q, stats, fmt)
        headers.append(("X-ClickHouse-Exception-Tag", tag))
        headers.append(("Transfer-Encoding", "chunked"))
        comp = None
        if q.encoding:
            comp = compression.compressor(q.encoding)
            headers.append(("Content-Encoding", q.encoding))
        buffers = http.head(200, headers)
        error: ClickHouseError | None = None
        try:
            for data in itertools.chain([first, second], stream):
                out = comp.compress(data) if comp else data
                if out:
                    buffers.extend(http.chunk(out))
                    http.send(buffers)
                    buffers = []
        except ClickHouseError as exc:
            error = exc
        except OSError:
            self._log(q, stats, ClickHouseError.make(210, "NETWORK_ERROR", "client gone"))
            return False
        if error is not None:
            self._log(q, stats, error)
            message = error.message.encode()
            block = (
                b"__exception__\r\n"
                + tag.encode()
                + b"\r\n"
                + message
                + b"\n"
                + f"{len(message)} {tag}".encode()
                + b"\r\n__exception__\r\n"
            )
            if comp:
                block = comp.compress(block) + comp.flush()
            with contextlib.suppress(OSError):
                http.send([*buffers, *http.chunk(block)])
            return False  # no terminating chunk: the body is visibly incomplete
        tail = comp.flush() if comp else b""
        if tail:
            buffers.extend(http.chunk(tail))
        buffers.extend(http.end())
        self._log(q, stats, None)
        http.send(buffers)
        return True

    def _describe(self, sql: str, q: _Query, database: str) -> list[tuple[str, str]] | None:
        """The result columns of a SELECT as the engine types them (the request's connection
        is busy streaming: a pooled one answers)."""
        if first_keyword(sql) not in ("SELECT", "WITH", "("):
            return None
        try:
            with self.engine.pooled() as other:
                result = other.query(
                    f"DESCRIBE TABLE ({sqltext.without_format(sql)})",
                    "JSONCompact",
                    q.settings,
                    q.params,
                    database,
                )
        except ClickHouseError:
            return None
        return [(row[0], row[1]) for row in json.loads(result.data)["data"]]

    # -- responses ----------------------------------------------------------------------------

    def _headers(self, q: _Query, stats: QueryStats, fmt: str | None) -> list[tuple[str, str]]:
        """What clickhouse-server sends with a result (`fmt`) or after a statement without one."""
        summary = {
            "read_rows": str(stats.rows_read),
            "read_bytes": str(stats.bytes_read),
            "written_rows": str(stats.rows_written),
            "written_bytes": str(stats.bytes_written),
            "total_rows_to_read": str(stats.rows_read),
            "result_rows": str(stats.result_rows or stats.rows_written),
            "result_bytes": str(stats.result_bytes or stats.bytes_written),
            "elapsed_ns": str(int((time.monotonic() - q.started) * 1e9)),
        }
        content_type = _CONTENT_TYPES.get(fmt.lower(), "application/octet-stream") if fmt else None
        headers = [
            ("Content-Type", content_type or "text/plain; charset=UTF-8"),
            ("X-ClickHouse-Server-Display-Name", self.display_name),
            ("X-ClickHouse-Query-Id", q.query_id),
            ("X-ClickHouse-Timezone", "UTC"),
            ("X-ClickHouse-Summary", json.dumps(summary, separators=(",", ":"))),
            ("Connection", "Keep-Alive"),
            ("Keep-Alive", f"timeout={KEEP_ALIVE_TIMEOUT}"),
        ]
        if fmt:
            headers.insert(3, ("X-ClickHouse-Format", fmt))
        return headers

    def _simple(self, handler: _Handler, req: httpio.Request, status: int, body: bytes) -> bool:
        headers = [
            ("Content-Type", "text/plain; charset=UTF-8"),
            ("Content-Length", str(len(body))),
            ("Connection", "Keep-Alive"),
        ]
        handler.http.respond(status, headers, b"" if req.method == "HEAD" else body)
        return True

    def _error(
        self, handler: _Handler, req: httpio.Request, exc: ClickHouseError, q: _Query | None
    ) -> bool:
        body = (exc.message.rstrip("\n") + "\n").encode()
        status = 403 if exc.code in (192, 193, 194, 516) else 500
        keep = handler.http.request_finished
        headers = [
            ("Content-Type", "text/plain; charset=UTF-8"),
            ("X-ClickHouse-Exception-Code", str(exc.code)),
            ("X-ClickHouse-Server-Display-Name", self.display_name),
            ("X-ClickHouse-Timezone", "UTC"),
            ("Content-Length", str(len(body))),
            ("Connection", "Keep-Alive" if keep else "close"),
        ]
        if q is not None:
            headers.insert(2, ("X-ClickHouse-Query-Id", q.query_id))
        with contextlib.suppress(OSError, h11.LocalProtocolError):
            handler.http.respond(status, headers, body)
        return keep

    def _log(self, q: _Query, stats: QueryStats, error: ClickHouseError | None) -> None:
        if self.query_log is None:
            return
        self.query_log.record(
            interface="http",
            query_id=q.query_id,
            query=q.sql_for_log,
            session=q.session_id,
            user=q.user,
            client=q.client,
            duration=time.monotonic() - q.started,
            read_rows=stats.rows_read,
            read_bytes=stats.bytes_read,
            written_rows=stats.rows_written,
            written_bytes=stats.bytes_written,
            result_rows=stats.result_rows,
            result_bytes=stats.result_bytes,
            error_code=error.code if error else 0,
            error=error.message if error else None,
        )


def _sql(data: bytes) -> str:
    """SQL text from request bytes; bytes that are not UTF-8 survive (engine.wire)."""
    return data.decode("utf-8", "surrogateescape")


def _checked(chunks: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield from chunks
    except compression.CorruptBodyError as exc:
        raise ClickHouseError.make(271, "CANNOT_DECOMPRESS", str(exc)) from None


def _read_all(chunks: Iterator[bytes], limit: int = MAX_QUERY_BYTES) -> bytes:
    buf = bytearray()
    for chunk in chunks:
        buf += chunk
        if len(buf) > limit:
            raise ClickHouseError.make(
                202, "QUERY_IS_TOO_LARGE", f"Query is too large (more than {limit} bytes)"
            )
    return bytes(buf)


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class _TCPServer6(_TCPServer):
    address_family = socket.AF_INET6


class _Handler(socketserver.BaseRequestHandler):
    """One client connection: read requests in a loop (keep-alive) and let the app answer."""

    request: socket.socket

    def setup(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.http = httpio.HttpConnection(self.request)

    def handle(self) -> None:
        app: HttpServer = self.server.app  # type: ignore[attr-defined]
        sock = self.request
        while True:
            sock.settimeout(KEEP_ALIVE_TIMEOUT)
            try:
                req = self.http.read_request()
            except (TimeoutError, OSError, httpio.ClientGoneError):
                return
            except httpio.BadRequestError as exc:
                body = f"Code: 1000. DB::Exception: Bad HTTP request: {exc}. (BAD_REQUEST)\n"
                headers = [("Content-Length", str(len(body))), ("Connection", "close")]
                with contextlib.suppress(OSError, h11.LocalProtocolError):
                    self.http.respond(400, headers, body.encode())
                return
            if req is None:
                return
            sock.settimeout(IO_TIMEOUT)
            try:
                keep = app.handle(req, self)
            except (httpio.ClientGoneError, OSError):
                return
            except httpio.BadRequestError as exc:
                err = ClickHouseError.make(1000, "BAD_REQUEST", f"Bad HTTP request: {exc}")
                app._error(self, req, err, None)
                return
            except Exception as exc:  # never let one request take the server down
                log.exception("internal error handling %s", req.target[:200])
                err = ClickHouseError.make(1001, "STD_EXCEPTION", f"Internal error: {exc!r}")
                app._error(self, req, err, None)
                return
            if not keep or not self.http.reusable():
                return

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            self.request.shutdown(socket.SHUT_RDWR)  # wakes a body read still waiting
