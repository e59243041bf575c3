"""The two query logs: `system.query_log` (the engine's own log, under the query ids the
clients gave) and `<data_dir>/query_log.jsonl` (one JSON object per line, both protocols).

Every client statement reaches the engine behind a comment `/* qid:<client query id> k:<kill
marker> */ `; the engine logs into `system.query_log_raw` (chdb_config.xml) and the view
`system.query_log` shows the logged client statements with the client's id and text."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

CHDB_CONFIG = Path(__file__).with_name("chdb_config.xml")
_QID = r"^/\\* qid:(\\S+) k:[0-9a-f]{32} \\*/ "
QUERY_LOG_VIEW = (
    "CREATE OR REPLACE VIEW system.query_log AS "
    "SELECT * REPLACE ("
    f"decodeURLComponent(extract(query, '{_QID}')) AS query_id, "
    f"replaceRegexpOne(query, '{_QID}', '') AS query) "
    f"FROM (SELECT * FROM system.query_log_raw WHERE match(query, '{_QID}'))"
)


def querylog_marker(query_id: str, marker: str) -> str:
    """The comment a statement runs behind: the client's query id (empty for the endpoint's
    own statements, which the view leaves out) and the marker that finds it to cancel it."""
    return f"/* qid:{quote(query_id, safe='')} k:{marker} */ "


QUERY_LOG_FILE = "query_log.jsonl"
_MAX_QUERY_CHARS = 2000
MAX_LOG_BYTES = 64 * 1024 * 1024  # then query_log.jsonl -> query_log.jsonl.1 (one old file kept)


class QueryLog:
    """Append-only JSON-lines log shared by the HTTP and native servers (thread-safe)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115

    def record(
        self,
        *,
        interface: str,
        query_id: str,
        query: str,
        session: str | None,
        user: str,
        duration: float,
        read_rows: int = 0,
        read_bytes: int = 0,
        written_rows: int = 0,
        written_bytes: int = 0,
        result_rows: int = 0,
        result_bytes: int = 0,
        error_code: int = 0,
        error: str | None = None,
        client: str | None = None,
        **extra: Any,
    ) -> None:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "interface": interface,
            "query_id": query_id,
            "session": session,
            "user": user,
            "client": client,
            "duration_ms": round(duration * 1000, 3),
            "read_rows": read_rows,
            "read_bytes": read_bytes,
            "written_rows": written_rows,
            "written_bytes": written_bytes,
            "result_rows": result_rows,
            "result_bytes": result_bytes,
            "error_code": error_code,
            "error": error[:500] if error else None,
            "query": query[:_MAX_QUERY_CHARS],
            **extra,
        }
        entry["query"] = _text(entry["query"])
        line = json.dumps(entry, ensure_ascii=False, default=str) + "\n"
        with self._lock:
            if self._file.closed:
                return
            self._file.write(line)
            if self._file.tell() > MAX_LOG_BYTES:
                self._file.close()
                self.path.replace(self.path.with_name(self.path.name + ".1"))
                self._file = open(self.path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115

    def close(self) -> None:
        with self._lock:
            self._file.close()


def _text(sql: str) -> str:
    """SQL as printable text (bytes that are not UTF-8 shown as U+FFFD)."""
    return sql.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
