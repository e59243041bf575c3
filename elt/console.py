"""Keep a long command's terminal output readable: the main thread prints progress lines, while
whatever the work threads print (dbt's own log lines, dlt warnings, tracebacks) goes to a log file.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO


class _ThreadRouter:
    """A sys.stdout/sys.stderr stand-in: main-thread writes go to the terminal, others to `log`."""

    def __init__(self, terminal: TextIO, log: TextIO) -> None:
        self._terminal, self._log = terminal, log
        self._main = threading.main_thread()

    def _target(self) -> TextIO:
        return self._terminal if threading.current_thread() is self._main else self._log

    def write(self, text: str) -> int:
        return self._target().write(text)

    def writelines(self, lines: Any) -> None:
        self._target().writelines(lines)

    def flush(self) -> None:
        self._terminal.flush()
        self._log.flush()

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:  # encoding, fileno, buffer, …: the terminal's
        return getattr(self._terminal, name)


@contextlib.contextmanager
def worker_output_to(path: Path) -> Iterator[Path]:
    """Route the output of non-main threads to `path` (appended) for the duration."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", buffering=1, encoding="utf-8") as log:
        saved = sys.stdout, sys.stderr
        sys.stdout = _ThreadRouter(saved[0], log)  # type: ignore[assignment]
        sys.stderr = _ThreadRouter(saved[1], log)  # type: ignore[assignment]
        try:
            yield path
        finally:
            sys.stdout, sys.stderr = saved
