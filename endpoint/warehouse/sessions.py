"""HTTP sessions: `session_id` -> one engine connection, locked per request, expired when idle."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from warehouse.engine import ClickHouseError, Engine, EngineConnection

DEFAULT_TIMEOUT = 60.0
MAX_TIMEOUT = 3600.0
# A real server releases the session before the response's last bytes; here the handler
# releases it just after them, so a client's next request on the session (dbt does this) can
# arrive first. Only that window is waited for: a session busy with a query fails with 373.
RELEASE_GRACE_S = 1.0


@dataclass
class Session:
    conn: EngineConnection
    timeout: float
    last_used: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)


class SessionManager:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._reaper = threading.Thread(target=self._reap_loop, name="session-reaper", daemon=True)
        self._reaper.start()

    @contextlib.contextmanager
    def acquire(
        self, session_id: str, timeout: float | None, check: bool
    ) -> Iterator[EngineConnection]:
        """The session's connection, held exclusively for one request."""
        if timeout is not None and not 0 <= timeout <= MAX_TIMEOUT:
            raise ClickHouseError.make(
                36, "BAD_ARGUMENTS", f"Session timeout must be in [0, {MAX_TIMEOUT:.0f}] seconds"
            )
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                if check:
                    raise ClickHouseError.make(
                        372, "SESSION_NOT_FOUND", f"Session {session_id} not found"
                    )
                session = Session(self._engine.connect(), timeout or DEFAULT_TIMEOUT)
                self._sessions[session_id] = session
        if not session.lock.acquire(timeout=RELEASE_GRACE_S):
            raise ClickHouseError.make(
                373, "SESSION_IS_LOCKED", f"Session {session_id} is locked by a concurrent client"
            )
        try:
            if session.conn.closed:  # expired between lookup and lock: start afresh
                with self._lock:
                    session.conn = self._engine.connect()
                    self._sessions[session_id] = session
            if timeout is not None:
                session.timeout = timeout
            yield session.conn
        finally:
            session.last_used = time.monotonic()
            session.lock.release()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            session.conn.cancel()
            session.conn.close()

    def __len__(self) -> int:
        return len(self._sessions)

    def _reap_loop(self) -> None:
        while not self._stop.wait(1.0):
            now = time.monotonic()
            expired = []
            with self._lock:
                for sid, s in list(self._sessions.items()):
                    if now - s.last_used > s.timeout and s.lock.acquire(blocking=False):
                        del self._sessions[sid]
                        expired.append(s)
            for session in expired:
                session.conn.close()
                session.lock.release()
