"""Worker threads between a native session and the engine.

`ResultPump` runs a statement and queues its result blocks, so engine work overlaps sending
and the session thread stays free for heartbeats. `InsertPump` runs the engine's streaming
INSERT, fed with block bytes while the client is still sending them.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import Any

from warehouse.native.blocks import BlockShape, block_rows, scan_block
from warehouse.native.wire import BytesSource


class InsertPump(threading.Thread):
    """Runs the engine's streaming INSERT, fed with byte chunks by the receiving thread."""

    _END: Any = object()

    def __init__(
        self, conn: Any, sql: str, settings: dict[str, str] | None, query_id: str | None = None
    ) -> None:
        super().__init__(name="native-insert", daemon=True)
        self.conn = conn
        self.sql = sql
        self.settings = settings
        self.query_id = query_id
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=64)
        self.error: BaseException | None = None
        self.stats: Any = None
        self._finished = threading.Event()

    def run(self) -> None:
        try:
            chunks = self._chunks()
            self.stats = self.conn.insert(
                self.sql, "Native", chunks, settings=self.settings, query_id=self.query_id
            )
        except BaseException as exc:  # handed to the receiving thread
            self.error = exc
        finally:
            self._finished.set()

    def _chunks(self) -> Iterator[bytes]:
        while True:
            item = self.queue.get()
            if item is None:
                raise _AbortInsertError
            if item is self._END:
                return
            yield item

    def feed(self, data: bytes) -> None:
        """Queue bytes for the engine (dropped once the insert has failed)."""
        self._put(data)

    def close_input(self) -> None:
        self._put(self._END)

    def abort(self) -> None:
        """Give up: nothing is committed."""
        self._put(None)
        self.join()

    def wait(self, timeout: float) -> bool:
        return self._finished.wait(timeout)

    def _put(self, item: Any) -> None:
        while not self._finished.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue


class _AbortInsertError(Exception):
    """Raised inside the engine's chunk iterator: roll the INSERT back."""


class ResultPump(threading.Thread):
    """Runs a statement on the engine and queues its result blocks for the sending thread.

    Engine work overlaps with compressing/sending the previous block, and the sending thread
    stays free to send heartbeats while a long statement runs. Items on `queue`:
    ("blocks", [block, ...], (rows_read, bytes_read)), then ("end", stats, None)
    or ("error", exception, None)."""

    def __init__(
        self, conn: Any, sql: str, settings: dict[str, str] | None, query_id: str | None = None
    ) -> None:
        super().__init__(name="native-query", daemon=True)
        self.conn = conn
        self.sql = sql
        self.settings = settings
        self.query_id = query_id
        self.queue: queue.Queue[tuple[str, Any, Any]] = queue.Queue(maxsize=4)
        self._abandon = threading.Event()
        self._done = threading.Event()

    def run(self) -> None:
        stream = None
        try:
            stream = self.conn.stream(
                self.sql, "Native", settings=self.settings, query_id=self.query_id
            )
            seen_rows = 0
            for chunk in stream:
                stats = stream.stats
                blocks = split_blocks(chunk, stats.result_rows - seen_rows)
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
        while not self._abandon.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def finish(self) -> None:
        """Stop early if still running (kills the statement) and wait for the engine."""
        if not self._done.is_set():
            self._abandon.set()
            self.conn.cancel()
        self.join()


def split_blocks(chunk: bytes, rows: int) -> list[bytes | memoryview]:
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
