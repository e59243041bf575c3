"""The native TCP server of the local endpoint: what clickhouse-driver (dlt, dbt `driver: native`)
connects to.

    server = NativeServer(engine, "127.0.0.1", 0, auth=None)
    server.start()          # listening when it returns; server.port is the bound port
    ...
    server.stop()

One thread per client connection (plus a worker thread per running statement; engine calls
release the GIL) and one engine connection (ClickHouse session) per TCP connection. A Cancel
packet or a hang-up while a statement runs kills that statement.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

from warehouse.native.session import Session

log = logging.getLogger("warehouse.native")

AuthCheck = Callable[[str, str], bool]


class NativeServer:
    """ClickHouse native protocol (TCP) in front of an `Engine`."""

    def __init__(
        self,
        engine: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        auth: AuthCheck | None = None,
        display_name: str = "chdb-local",
        http_port: int | None = None,
    ) -> None:
        self.engine = engine
        self.host = host
        self._requested_port = port
        self.auth = auth
        self.display_name = display_name
        self.http_port = http_port  # named in the reply to an HTTP request on this port
        self.timezone = "UTC"
        self.version = (0, 0, 0)
        self.stopping = False
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._sessions: set[Session] = set()
        self._sessions_lock = threading.Lock()

    @property
    def port(self) -> int:
        if self._listener is None:
            return self._requested_port
        return self._listener.getsockname()[1]

    def start(self) -> None:
        """Bind and start serving in background threads (raises OSError if the port is taken)."""
        self.version = _engine_version(self.engine)
        listener = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.host, self._requested_port))
        except OSError:
            listener.close()
            raise
        listener.listen(128)
        self._listener = listener
        self._thread = threading.Thread(target=self._accept_loop, name="native-accept", daemon=True)
        self._thread.start()
        log.info("native protocol listening on %s:%s", self.host, self.port)

    def stop(self) -> None:
        """Stop accepting, disconnect every client (killing their queries), free sessions."""
        if self.stopping:
            return
        self.stopping = True
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._sessions_lock:
            sessions = list(self._sessions)
        for session in sessions:
            session.close()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self.stopping:
            try:
                sock, peer = self._listener.accept()
            except OSError:
                if self.stopping:
                    return
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            session = Session(self, sock, peer)
            with self._sessions_lock:
                self._sessions.add(session)
            threading.Thread(
                target=self._serve, args=(session,), name=f"native-{peer}", daemon=True
            ).start()

    def _serve(self, session: Session) -> None:
        try:
            session.run()
        finally:
            with self._sessions_lock:
                self._sessions.discard(session)


def _engine_version(engine: Any) -> tuple[int, int, int]:
    """(major, minor, patch) of the engine's ClickHouse, for the Hello packet."""
    try:
        text = engine.admin_query("SELECT version()", "TabSeparatedRaw").decode().strip()
        parts = [int(p) for p in text.split(".")[:3]]
        while len(parts) < 3:
            parts.append(0)
        return parts[0], parts[1], parts[2]
    except Exception:  # any engine without admin_query: still serve
        return (26, 9, 0)
