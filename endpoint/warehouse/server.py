"""The endpoint process: owns the Engine, serves HTTP and native TCP until SIGTERM/SIGINT.

Files in the data directory: `warehouse.lock` (flock held while running, holds the pid),
`server.json` (state: pid, host, ports; written once listening, removed on clean exit),
`server.log` (when started in the background) and `query_log.jsonl`.

Run: `elt warehouse serve` or `python -m warehouse serve` (options in warehouse/cli.py).
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from warehouse.auth import Auth
from warehouse.engine import ClickHouseError, DataDirLockedError, Engine
from warehouse.http_server import HttpServer
from warehouse.native.server import NativeServer
from warehouse.querylog import QUERY_LOG_FILE, QueryLog

STATE_FILE = "server.json"
PID_FILE = "warehouse.pid"
LOG_FILE = "server.log"

EXIT_LOCKED = 3
EXIT_PORT_IN_USE = 4
EXIT_ENGINE = 5

log = logging.getLogger("warehouse.server")


class StartupError(RuntimeError):
    """A clear, user-facing reason why the server cannot start."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class ServerConfig:
    data_dir: Path
    host: str = "127.0.0.1"
    http_port: int = 8123
    tcp_port: int | None = 9000  # None: no native server
    user: str = "default"
    password: str | None = None


class EndpointServer:
    """Engine + HTTP server + native server, started and stopped together."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.data_dir = config.data_dir.resolve()
        self.engine: Engine | None = None
        self.http: HttpServer | None = None
        self.native: NativeServer | None = None
        self.query_log: QueryLog | None = None
        self._stopped = threading.Event()

    def start(self) -> dict[str, Any]:
        """Open the engine, bind the ports, write the state file; return the state."""
        cfg = self.config
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.engine = Engine(self.data_dir)
        except DataDirLockedError as exc:
            raise StartupError(str(exc), EXIT_LOCKED) from None
        except ClickHouseError as exc:
            raise StartupError(
                f"cannot open the warehouse data directory {self.data_dir}: {exc.message}",
                EXIT_ENGINE,
            ) from None
        self.query_log = QueryLog(self.data_dir / QUERY_LOG_FILE)
        self.engine.query_log = self.query_log
        auth = Auth(cfg.user, cfg.password)
        try:
            self.http = HttpServer(self.engine, cfg.host, cfg.http_port, auth, self.query_log)
        except OSError as exc:
            self.close()
            raise _bind_error(exc, "HTTP", cfg.host, cfg.http_port, "--http-port") from None
        tcp_port = None
        if cfg.tcp_port is not None:
            try:
                self.native = NativeServer(
                    self.engine, cfg.host, cfg.tcp_port, auth.check, http_port=self.http.port
                )
                self.native.start()
            except OSError as exc:
                self.close()
                raise _bind_error(exc, "native TCP", cfg.host, cfg.tcp_port, "--tcp-port") from None
            tcp_port = self.native.port
        self.http.start()
        state = {
            "pid": os.getpid(),
            "host": cfg.host,
            "http_port": self.http.port,
            "tcp_port": tcp_port,
            "data_dir": str(self.data_dir),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "auth": auth.enabled,
        }
        _write_atomic(self.data_dir / STATE_FILE, json.dumps(state, indent=2) + "\n")
        _write_atomic(self.data_dir / PID_FILE, f"{os.getpid()}\n")
        log.info(
            "listening: http://%s:%s  native tcp %s  data %s",
            cfg.host,
            self.http.port,
            tcp_port if tcp_port is not None else "-",
            self.data_dir,
        )
        return state

    def wait(self) -> None:
        while not self._stopped.wait(0.5):
            pass

    def request_stop(self, *_: Any) -> None:
        self._stopped.set()

    def close(self) -> None:
        """Stop serving, cancel queries, close the engine, remove the state files."""
        for server in (self.native, self.http):
            if server is None:
                continue
            with contextlib.suppress(Exception):
                (getattr(server, "shutdown", None) or server.stop)()
        self.native = self.http = None
        if self.engine is not None:
            for name in (STATE_FILE, PID_FILE):
                with contextlib.suppress(FileNotFoundError):
                    (self.data_dir / name).unlink()
            self.engine.close()
            self.engine = None
        if self.query_log is not None:
            self.query_log.close()
            self.query_log = None


def _bind_error(exc: OSError, what: str, host: str, port: int, option: str) -> StartupError:
    if exc.errno == errno.EADDRINUSE:
        return StartupError(
            f"{what} port {port} on {host} is already in use. Stop the process listening there "
            f"(`elt warehouse status` shows a running endpoint), or pick another port with "
            f"{option} (0 = any free port).",
            EXIT_PORT_IN_USE,
        )
    return StartupError(f"cannot listen for {what} on {host}:{port}: {exc}", EXIT_PORT_IN_USE)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def serve(config: ServerConfig) -> int:
    """Run in the foreground until SIGTERM/SIGINT; return the process exit code."""
    server = EndpointServer(config)
    signal.signal(signal.SIGTERM, server.request_stop)
    signal.signal(signal.SIGINT, server.request_stop)
    try:
        server.start()
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    try:
        server.wait()
    finally:
        log.info("shutting down")
        server.close()
        log.info("stopped")
    return 0
