"""The chDB engine owned by the endpoint process: connections, per-query settings, streaming.

One `Engine` per process (chDB allows one data directory per process, and one process per data
directory). Each `EngineConnection` is a separate chDB connection, i.e. a separate ClickHouse
session: `SET`, temporary tables and the current database are private to it. Engine calls
release the GIL, so connections used from different threads run in parallel.

    engine = Engine(data_dir)                     # pins TZ=UTC, locks the dir, loads chDB
    with engine.pooled() as conn:                 # session-less work
        result = conn.query("SELECT 1", "Native", settings={"max_threads": "1"})
    conn = engine.connect()                       # one per HTTP session / TCP connection
    for chunk in conn.stream("SELECT ...", "Native"): ...
    stats = conn.insert("INSERT INTO db.t (a, b)", "Native", chunks)
    conn.cancel()                                 # from another thread: kill the running query

Errors are raised as `ClickHouseError(code, message)`; `message` is ClickHouse's
"Code: N. DB::Exception: ..." text.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import queue
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from warehouse.querylog import CHDB_CONFIG, QUERY_LOG_VIEW, querylog_marker
from warehouse.sqltext import insert_target, output_format, second_statement, split_settings

LOCK_FILE = "warehouse.lock"
_CODE_RE = re.compile(r"Code: (\d+)\. ")
_STREAMABLE_RE = re.compile(
    r"^\s*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*(?:SELECT|WITH|SHOW|DESC|DESCRIBE|EXPLAIN|EXISTS|\()",
    re.IGNORECASE | re.DOTALL,
)
# statements whose effect outlives the query: a pooled connection that ran one is discarded
_STICKY_RE = re.compile(
    r"(?:^|;)\s*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*"
    r"(?:SET\s|USE\s|CREATE\s+(?:OR\s+REPLACE\s+)?TEMPORARY\s)",
    re.IGNORECASE | re.DOTALL,
)
_NOT_STREAMABLE = "Streaming query is not supported"
# chDB streams a result as one complete output per block; for these formats the concatenation
# is still one valid output (others come back whole; ArrowStream is stitched, see _arrow_stream)
_CONCATENABLE = frozenset(
    f.lower()
    for f in (
        "Native", "RowBinary", "TabSeparated", "TSV", "TabSeparatedRaw", "TSVRaw", "CSV",
        "JSONEachRow", "JSONLines", "NDJSON", "JSONCompactEachRow", "JSONStringsEachRow",
        "JSONCompactStringsEachRow", "Values", "LineAsString", "RawBLOB", "ArrowStream",
    )
)  # fmt: skip
_USE_RE = re.compile(r"^\s*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*USE\s", re.IGNORECASE | re.DOTALL)
_DDL_RE = re.compile(
    r"(?:^|;)\s*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*"
    r"(?:CREATE|ALTER|DROP|RENAME|EXCHANGE|ATTACH|DETACH|REPLACE|TRUNCATE|UNDROP)\b",
    re.IGNORECASE | re.DOTALL,
)
# what chDB's streaming insert cannot report (see EngineConnection.insert)
_VIEW_ENGINES = frozenset(
    {"MaterializedView", "View", "LiveView", "WindowView", "Distributed", "Buffer"}
)
_CONSTRAINT_RE = re.compile(r"\bCONSTRAINT\b", re.IGNORECASE)
_SAFE_DEFAULT_RE = re.compile(
    r"^(?:-?\d+(?:\.\d+)?|'(?:[^'\\]|\\.)*'|NULL|true|false|\[\]|"
    r"now\(\)|now64\(\d*\)|today\(\)|generateUUIDv4\(\)|rand(?:64)?\(\))$",
    re.IGNORECASE,
)


def _cancelled() -> ClickHouseError:
    # a killed query may end like a complete one in chDB: never let it pass as complete
    return ClickHouseError.make(394, "QUERY_WAS_CANCELLED", "Query was cancelled")


_ARROW_EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"


class ClickHouseError(Exception):
    """A ClickHouse exception: numeric `code` and the `Code: N. DB::Exception: ...` text."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @classmethod
    def from_text(cls, text: str) -> ClickHouseError:
        """Parse chDB's error text (possibly wrapped by the Python layer)."""
        match = _CODE_RE.search(text)
        if match is None:
            return cls(1001, f"Code: 1001. DB::Exception: {text.strip()}. (STD_EXCEPTION)")
        return cls(int(match.group(1)), text[match.start() :].strip())

    @classmethod
    def make(cls, code: int, name: str, text: str) -> ClickHouseError:
        """Build a server-side error in ClickHouse's format."""
        return cls(code, f"Code: {code}. DB::Exception: {text}. ({name})")


class DataDirLockedError(RuntimeError):
    """The data directory is held by another process."""


@dataclass
class QueryStats:
    """What a query did (as in X-ClickHouse-Summary)."""

    rows_read: int = 0
    bytes_read: int = 0
    rows_written: int = 0
    bytes_written: int = 0
    result_rows: int = 0
    result_bytes: int = 0
    elapsed: float = 0.0
    ignored_settings: list[str] = field(default_factory=list)


@dataclass
class _Call:
    """Per-statement bookkeeping between _begin and _end."""

    sticky: bool = False
    ignored: list[str] = field(default_factory=list)
    killed: bool = False  # cancel() was called while it ran
    progress: dict[str, int] | None = None  # the engine's own cumulative progress, if reported


@dataclass
class QueryResult:
    data: bytes
    stats: QueryStats


def _wrap(exc: BaseException) -> ClickHouseError:
    if isinstance(exc, ClickHouseError):
        return exc
    return ClickHouseError.from_text(str(exc))


def wire(sql: str) -> bytes:
    """The bytes of a statement as the client sent them (SQL text is decoded with
    surrogateescape, so bytes that are not UTF-8 survive the round trip)."""
    return sql.encode("utf-8", "surrogateescape")


def _multi_statement_error(sql: str) -> ClickHouseError | None:
    """ClickHouse's refusal of a second statement in one query, or None."""
    pos = second_statement(sql)
    if pos is None:
        return None
    excerpt = sql[pos : pos + 60].encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return ClickHouseError.make(
        62,
        "SYNTAX_ERROR",
        f"Syntax error (Multi-statements are not allowed): failed at position {pos + 1} "
        f"(end of query): {excerpt}. ",
    )


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def quote_ident(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


class QueryStream:
    """Iterator of result byte chunks of one streaming query; `stats` is final after the end."""

    def __init__(self, conn: EngineConnection, handle: Any, call: _Call, started: float) -> None:
        self._conn = conn
        self._handle = handle
        self._call = call
        self._started = started
        self._done = False
        self._stitch_arrow = False
        self._chunks = 0
        self.stats = QueryStats()

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._done:
            raise StopIteration
        try:
            result = self._conn._raw.streaming_fetch_result(self._handle)
        except Exception as exc:
            self._finish()
            raise _wrap(exc) from None
        size = 0 if result is None else result.size()
        if size == 0:
            self._finish()
            if self._call.killed:
                raise _cancelled()
            if self._stitch_arrow and self._chunks:
                self._stitch_arrow = False
                return _ARROW_EOS
            raise StopIteration
        self.stats.result_rows += result.rows_read()
        self.stats.result_bytes += size
        self.stats.rows_read += result.storage_rows_read() or result.rows_read()
        self.stats.bytes_read += result.storage_bytes_read() or result.bytes_read()
        self._count_progress()
        self._chunks += 1
        if self._stitch_arrow:
            return _arrow_part(result.bytes(), first=self._chunks == 1)
        return result.bytes()

    def _count_progress(self) -> None:
        """Per-chunk read counts lose what the engine read while no chunk was fetched (a
        slow client); its progress callback's cumulative count does not (kept monotonic)."""
        progress = self._call.progress
        if progress:
            self.stats.rows_read = max(self.stats.rows_read, progress.get("read_rows", 0))
            self.stats.bytes_read = max(self.stats.bytes_read, progress.get("read_bytes", 0))

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        self._count_progress()
        self.stats.elapsed = time.monotonic() - self._started
        self._conn._end(self._call)

    def close(self) -> None:
        """Stop early: cancel the rest of the query and release the connection."""
        if self._done:
            return
        with contextlib.suppress(Exception):
            self._conn._raw.streaming_cancel_query(self._handle)
        self._finish()


def _arrow_part(data: bytes, first: bool) -> bytes:
    """One ArrowStream chunk as a piece of a single stream: drop its end-of-stream marker and,
    after the first chunk, its leading schema message."""
    if data.endswith(_ARROW_EOS):
        data = data[: -len(_ARROW_EOS)]
    if not first and data[:4] == b"\xff\xff\xff\xff":
        meta_len = int.from_bytes(data[4:8], "little")
        data = data[8 + meta_len :]
    return data


class EngineConnection:
    """One chDB connection (= one ClickHouse session). Not for concurrent use by two threads;
    `cancel()` is the exception and may be called from any thread."""

    def __init__(self, engine: Engine) -> None:
        import chdb

        self._engine = engine
        self._conn = chdb.connect(engine.connection_string)
        self._raw = self._conn._conn
        self._marker: str | None = None
        self._call: _Call | None = None  # the statement running now
        self._database = self._base_database = "default"  # current / the session's own
        self._baseline: dict[str, tuple[str, bool]] = {}  # session values: (value, changed)
        self._applied: dict[str, str] = {}  # per-query settings currently in force
        self.closed = False
        self.dirty = False  # ran SET/USE/CREATE TEMPORARY: session state differs from fresh
        self._raw.set_progress_callback(self._on_progress)

    def _on_progress(self, progress: dict[str, int]) -> None:
        """Called by the engine (its own threads) with the running statement's progress."""
        call = self._call
        if call is not None:
            call.progress = progress

    # -- public API -------------------------------------------------------------------------

    def query(
        self,
        sql: str,
        fmt: str = "Native",
        settings: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        database: str | None = None,
        query_id: str | None = None,
    ) -> QueryResult:
        """Run one statement and return its whole output in format `fmt`."""
        started = time.monotonic()
        ddl = bool(_DDL_RE.search(sql))
        sql, call = self._begin(sql, settings, database, query_id)
        try:
            result = self._raw.query(wire(sql), fmt, params=dict(params or {}))
        except Exception as exc:
            self._end(call)
            raise _wrap(exc) from None
        finally:
            if ddl:  # table definitions may have changed: cached insert checks are stale
                self._engine.ddl_generation += 1
        self._end(call)
        if call.killed:
            raise _cancelled()
        data = result.bytes()
        stats = QueryStats(
            rows_read=result.storage_rows_read() or result.rows_read(),
            bytes_read=result.storage_bytes_read() or result.bytes_read(),
            rows_written=result.rows_written(),
            bytes_written=result.bytes_written(),
            result_rows=result.rows_read(),
            result_bytes=len(data),
            elapsed=time.monotonic() - started,
            ignored_settings=call.ignored,
        )
        return QueryResult(data, stats)

    def stream(
        self,
        sql: str,
        fmt: str = "Native",
        settings: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        database: str | None = None,
        query_id: str | None = None,
    ) -> Iterator[bytes]:
        """Run a statement and yield its output as it is produced (a `QueryStream`).

        Statements chDB cannot stream (DDL, INSERT ... VALUES, SET, ...) run whole and come
        back as a single chunk. Close the stream (or exhaust it) before the next call."""
        effective = (output_format(sql) or fmt).lower()
        if not _STREAMABLE_RE.match(sql) or effective not in _CONCATENABLE:
            return _OneShot(self.query(sql, fmt, settings, params, database, query_id))
        started = time.monotonic()
        marked, call = self._begin(sql, settings, database, query_id)
        try:
            handle = self._raw.send_query(wire(marked), fmt, params=dict(params or {}))
        except Exception as exc:
            self._end(call)
            if _NOT_STREAMABLE in str(exc):
                return _OneShot(self.query(sql, fmt, settings, params, database, query_id))
            raise _wrap(exc) from None
        stream = QueryStream(self, handle, call, started)
        stream.stats.ignored_settings = call.ignored
        if effective == "arrowstream":
            stream._stitch_arrow = True
        return stream

    def insert(
        self,
        sql: str,
        fmt: str,
        chunks: Iterable[bytes],
        settings: Mapping[str, str] | None = None,
        database: str | None = None,
        query_id: str | None = None,
    ) -> QueryStats:
        """Stream `chunks` (raw bytes in format `fmt`, split anywhere) into an INSERT.

        `sql` is the INSERT without FORMAT clause and data, e.g. "INSERT INTO db.t (a, b)".
        Nothing is committed if the iterable raises or the data is malformed.

        chDB's streaming insert drops errors raised after parsing (CHECK constraints, throwing
        DEFAULT/MATERIALIZED expressions, failing materialized views): the insert is silently
        discarded. Inserts into tables that have any of those therefore take a checked path:
        the body is spooled to a file first and run as `INSERT … FROM INFILE`, which raises."""
        if self._needs_checked_insert(sql, database):
            return self._insert_from_file(sql, fmt, chunks, settings, database, query_id)
        started = time.monotonic()
        sql, call = self._begin(sql, settings, database, query_id)
        try:
            try:
                inserter = self._raw.send_insert(wire(sql), fmt)
            except Exception as exc:
                raise _wrap(exc) from None
            try:
                append = self._raw.insert_append
                for chunk in chunks:
                    if chunk:
                        append(inserter, chunk if isinstance(chunk, bytes) else bytes(chunk))
                result = self._raw.insert_done(inserter)
            except BaseException as exc:
                with contextlib.suppress(Exception):
                    self._raw.insert_cancel(inserter)
                if isinstance(exc, ClickHouseError) or not isinstance(exc, RuntimeError):
                    raise
                raise _wrap(exc) from None
        finally:
            self._end(call)
        if call.killed:
            raise _cancelled()
        return QueryStats(
            rows_written=result.rows_written(),
            bytes_written=result.bytes_written(),
            elapsed=time.monotonic() - started,
            ignored_settings=call.ignored,
        )

    def _needs_checked_insert(self, sql: str, database: str | None) -> bool:
        target = insert_target(sql)
        if target is None:
            return False
        db = target[0] or database or self._base_database
        key = (db, target[1])
        generation = self._engine.ddl_generation
        cached = self._engine.insert_checks.get(key)
        if cached is not None and cached[0] == generation:
            return cached[1]
        needed = self._table_needs_checked_insert(db, target[1])
        self._engine.insert_checks[key] = (generation, needed)
        return needed

    def _table_needs_checked_insert(self, db: str, table: str) -> bool:
        try:
            info = self._run(
                "SELECT engine, create_table_query, length(dependencies_table), "
                "(SELECT groupArray(default_expression) FROM system.columns WHERE "
                f"database = {_quote(db)} AND table = {_quote(table)} AND "
                "default_kind IN ('DEFAULT', 'MATERIALIZED', 'EPHEMERAL')) "
                f"FROM system.tables WHERE database = {_quote(db)} AND name = {_quote(table)} "
                "FORMAT JSONCompact",
                "JSONCompact",
            )
        except ClickHouseError:
            return False
        rows = json.loads(info)["data"]
        if not rows:
            return False  # no such table: the streaming path reports it
        engine, create_query, dependents, defaults = rows[0]
        if int(dependents) or engine in _VIEW_ENGINES:
            return True
        if _CONSTRAINT_RE.search(create_query):
            return True
        return any(not _SAFE_DEFAULT_RE.match(expr.strip()) for expr in defaults)

    def _insert_from_file(
        self,
        sql: str,
        fmt: str,
        chunks: Iterable[bytes],
        settings: Mapping[str, str] | None,
        database: str | None,
        query_id: str | None,
    ) -> QueryStats:
        started = time.monotonic()
        spool = self._engine.spool_dir / f"{uuid.uuid4().hex}.{fmt.lower()}"
        try:
            with open(spool, "wb") as f:
                for chunk in chunks:
                    f.write(chunk)
            head, settings_clause = split_settings(sql)
            statement = f"{head} FROM INFILE {_quote(str(spool))} {settings_clause} FORMAT {fmt}"
            result = self.query(statement, "TabSeparated", settings, None, database, query_id)
        finally:
            with contextlib.suppress(OSError):
                spool.unlink()
        result.stats.elapsed = time.monotonic() - started
        return result.stats

    def cancel(self) -> None:
        """Kill the statement running on this connection (safe from any thread)."""
        marker, call = self._marker, self._call
        if marker is not None and not self.closed:
            if call is not None:
                call.killed = True
            self._engine.kill_marker(marker)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):
            self._conn.close()

    @property
    def database(self) -> str:
        return self._database

    # -- internals ----------------------------------------------------------------------------

    def _begin(
        self,
        sql: str,
        settings: Mapping[str, str] | None,
        database: str | None,
        query_id: str | None = None,
    ) -> tuple[str, _Call]:
        """Bring the session to the state this statement must run in; return the marked SQL
        (a leading comment with the client's query id, read back by system.query_log, and a
        marker that `cancel` finds the running query by).

        A request with a second statement is refused before anything runs. Per-query settings
        and database are reconciled lazily: what the previous statement changed is set back (or
        kept, when this statement asks for the same) before this one runs, so nothing leaks and
        a client repeating the same settings costs no extra call."""
        refusal = _multi_statement_error(sql)
        if refusal is not None:
            raise refusal
        call = _Call(sticky=bool(_STICKY_RE.search(sql)))
        wanted: dict[str, str] = {}
        if settings:
            known = self._engine.setting_names()
            for name, value in settings.items():
                if name in known:
                    wanted[name] = str(value)
                else:
                    call.ignored.append(name)
        readonly = wanted.pop("readonly", "0")
        if readonly not in ("0", ""):
            # emulated: left applied in the session, readonly would forbid setting it back
            self._check_readonly(sql, allow_set=readonly == "2")
        if call.sticky:  # SET/USE/CREATE TEMPORARY change the session itself: start clean
            self.dirty = True
            wanted, database = {}, None
        self._reconcile_settings(wanted)
        target_db = database or self._base_database
        if target_db != self._database:
            self._run(f"USE {quote_ident(target_db)}")
            self._database = target_db
        self._call = call
        self._marker = uuid.uuid4().hex
        return f"{querylog_marker(query_id or '', self._marker)}{sql}", call

    def _check_readonly(self, sql: str, allow_set: bool) -> None:
        kind = str(self._raw.classify_query(wire(sql))["query_class"]).rsplit(".", 1)[-1]
        if kind == "READ_ONLY" or (kind == "CONTROL" and (allow_set or _USE_RE.match(sql))):
            return
        raise ClickHouseError.make(
            164, "READONLY", "Cannot execute query in readonly mode (readonly setting)"
        )

    def _end(self, call: _Call) -> None:
        self._marker = None
        self._call = None
        if call.sticky:  # the statement may have changed settings or the current database
            self._baseline.clear()
            with contextlib.suppress(ClickHouseError):
                current = self._run("SELECT currentDatabase()", "TabSeparatedRaw").decode()
                self._database = self._base_database = current.strip()

    def _reconcile_settings(self, wanted: dict[str, str]) -> None:
        names = set(wanted) | set(self._applied)
        if not names:
            return
        missing = [n for n in names if n not in self._baseline]
        if missing:
            self._baseline.update(self._read_settings(missing))
        assignments: list[str] = []
        applied: dict[str, str] = {}
        for name in sorted(names):
            base_value, base_changed = self._baseline[name]
            value = wanted.get(name)
            if value is not None and value != base_value:
                applied[name] = value
                if self._applied.get(name) != value:
                    assignments.append(f"{name} = {_quote(value)}")
            elif name in self._applied:
                assignments.append(
                    f"{name} = {_quote(base_value)}" if base_changed else f"{name} = DEFAULT"
                )
        if assignments:
            try:
                self._run("SET " + ", ".join(assignments))
            except ClickHouseError:
                self._reset_settings(names)
                raise
        self._applied = applied

    def _reset_settings(self, names: set[str]) -> None:
        """Back to the session's own values, one by one (after a failed SET)."""
        for name in names:
            base_value, base_changed = self._baseline[name]
            value = _quote(base_value) if base_changed else "DEFAULT"
            with contextlib.suppress(ClickHouseError):
                self._run(f"SET {name} = {value}")
        self._applied = {}

    def _read_settings(self, names: list[str]) -> dict[str, tuple[str, bool]]:
        in_list = ", ".join(_quote(n) for n in names)
        text = self._run(
            f"SELECT name, value, changed FROM system.settings WHERE name IN ({in_list})",
            "TabSeparatedRaw",
        )
        found = {}
        for line in text.decode().splitlines():
            name, value, changed = line.split("\t")
            found[name] = (value, changed == "1")
        return found

    def _run(self, sql: str, fmt: str = "TabSeparated") -> bytes:
        try:
            return self._raw.query(sql, fmt, params={}).bytes()
        except Exception as exc:
            raise _wrap(exc) from None


class _OneShot:
    """A finished result presented as a one-chunk stream."""

    def __init__(self, result: QueryResult) -> None:
        self.stats = result.stats
        self._chunks = [result.data] if result.data else []

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if not self._chunks:
            raise StopIteration
        return self._chunks.pop()

    def close(self) -> None:
        self._chunks = []


class Engine:
    """Owns the chDB data directory of this process and hands out connections."""

    _instance: Engine | None = None

    def __init__(self, data_dir: str | os.PathLike[str], pool_size: int = 32) -> None:
        if Engine._instance is not None and not Engine._instance.closed:
            raise RuntimeError("one Engine per process (chDB opens a single data directory)")
        self.data_dir = Path(data_dir).resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.connection_string = f"{self.data_dir}?config-file={CHDB_CONFIG}"
        self._lock_fd = _lock_data_dir(self.data_dir)
        os.environ["TZ"] = "UTC"
        time.tzset()
        self._pool: queue.LifoQueue[EngineConnection] = queue.LifoQueue()
        self._pool_size = pool_size
        self._settings: frozenset[str] | None = None
        self.spool_dir = self.data_dir / "insert_spool"  # checked inserts (see insert())
        self.ddl_generation = 0  # bumped after every DDL statement
        self.insert_checks: dict[tuple[str, str], tuple[int, bool]] = {}
        shutil.rmtree(self.spool_dir, ignore_errors=True)
        self.spool_dir.mkdir()
        self.closed = False
        # the server's structured query log (warehouse.querylog.QueryLog), if any
        self.query_log: Any = None
        try:
            self._admin = EngineConnection(self)  # loads chDB and opens the directory
        except Exception as exc:
            self._release_lock()
            raise _wrap(exc) from None
        self._admin_lock = threading.Lock()
        Engine._instance = self
        self.admin_query("SYSTEM FLUSH LOGS")  # creates system.query_log_raw
        self.admin_query(QUERY_LOG_VIEW)

    def connect(self) -> EngineConnection:
        """A new connection: a session of its own (close it when done)."""
        return EngineConnection(self)

    @contextlib.contextmanager
    def pooled(self) -> Iterator[EngineConnection]:
        """A session-less connection from the pool (returned with its state reset)."""
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            conn = self.connect()
        ok = False
        try:
            yield conn
            ok = True
        except ClickHouseError:
            ok = True  # a failed query leaves the connection usable
            raise
        finally:
            if ok and not conn.dirty and self._pool.qsize() < self._pool_size:
                self._pool.put(conn)
            else:
                conn.close()

    def setting_names(self) -> frozenset[str]:
        """Names of all settings the engine knows (cached)."""
        if self._settings is None:
            text = self.admin_query("SELECT name FROM system.settings", "TabSeparatedRaw")
            self._settings = frozenset(text.decode().split())
        return self._settings

    def admin_query(self, sql: str, fmt: str = "TabSeparated") -> bytes:
        """Run a small statement on the engine's own connection (serialised)."""
        with self._admin_lock:
            return self._admin._run(sql, fmt)

    def kill_marker(self, marker: str) -> None:
        """Kill running queries whose text carries `marker` (asynchronously)."""
        with contextlib.suppress(ClickHouseError):
            self.admin_query(
                f"KILL QUERY WHERE position(query, '{marker}') > 0 "
                f"AND position(query, 'KILL QUERY') = 0 ASYNC"
            )

    def close(self) -> None:
        """Close all connections and release the data directory lock."""
        if self.closed:
            return
        self.closed = True
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                break
        self._admin.close()
        self._release_lock()
        Engine._instance = None

    def _release_lock(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._lock_fd)


def _lock_data_dir(data_dir: Path) -> int:
    """Take an exclusive flock on <data_dir>/warehouse.lock or raise DataDirLockedError."""
    path = data_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = ""
        with contextlib.suppress(OSError, ValueError):
            holder = os.read(fd, 64).decode().strip()
        os.close(fd)
        who = f"process {holder}" if holder else "another process"
        raise DataDirLockedError(
            f"data directory {data_dir} is in use by {who}; stop that server "
            f"(elt warehouse stop --data-dir {data_dir}) or choose another --data-dir"
        ) from None
    _check_engine_lock(data_dir, fd)
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


def _check_engine_lock(data_dir: Path, our_fd: int) -> None:
    """chDB/ClickHouse itself flocks <data_dir>/status: some other program (not an endpoint)
    may hold it; say so instead of letting chDB fail with a stack of errors."""
    status = data_dir / "status"
    if not status.exists():
        return
    fd = os.open(status, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(our_fd)
        raise DataDirLockedError(
            f"data directory {data_dir} is open in another program using chDB/ClickHouse "
            "(its 'status' file is locked); close that program or choose another --data-dir"
        ) from None
    finally:
        os.close(fd)  # closing releases the probe lock
