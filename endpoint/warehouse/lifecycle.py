"""Start, stop and find the local endpoint of a data directory (see warehouse/server.py)."""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from warehouse.engine import LOCK_FILE
from warehouse.server import LOG_FILE, STATE_FILE
from warehouse.settings import EndpointSettings

PASSWORD_ENV = "CLICKHOUSE_PASSWORD"  # noqa: S105 (the variable `serve` reads the password from)
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


@dataclass(frozen=True)
class ServerInfo:
    host: str
    http_port: int
    tcp_port: int | None
    pid: int | None
    data_dir: Path | None

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"


def client_environment(info: ServerInfo) -> dict[str, str]:
    """The CLICKHOUSE_* variables that point clients (and `EndpointSettings`) at `info`."""
    return {
        "CLICKHOUSE_HOST": info.host,
        "CLICKHOUSE_HTTP_PORT": str(info.http_port),
        "CLICKHOUSE_TCP_PORT": str(info.tcp_port),
        "CLICKHOUSE_USER": "default",
        "CLICKHOUSE_PASSWORD": "",
        "CLICKHOUSE_SECURE": "false",
    }


@contextmanager
def temporary_endpoint(data_dir: str | os.PathLike[str]) -> Iterator[ServerInfo]:
    """An endpoint on `data_dir` on free loopback ports for the block; stopped after it."""
    info = start_background(data_dir=data_dir, host="127.0.0.1", http_port=0, tcp_port=0)
    try:
        yield info
    finally:
        stop(data_dir=data_dir)


class EndpointError(RuntimeError):
    """The endpoint could not be started or stopped (message says why and what to do)."""


def status(data_dir: str | os.PathLike[str]) -> ServerInfo | None:
    """The endpoint serving `data_dir`, or None when none runs (stale files are ignored)."""
    data_dir = Path(data_dir).resolve()
    state = _read_state(data_dir)
    if state is None or not _lock_held(data_dir):
        return None
    pid = int(state["pid"])
    if not _pid_alive(pid):
        return None
    return ServerInfo(
        host=state["host"],
        http_port=int(state["http_port"]),
        tcp_port=int(state["tcp_port"]) if state.get("tcp_port") is not None else None,
        pid=pid,
        data_dir=data_dir,
    )


def start_background(
    data_dir: str | os.PathLike[str],
    host: str = "127.0.0.1",
    http_port: int = 0,
    tcp_port: int | None = 0,
    user: str = "default",
    password: str | None = None,
    timeout: float = START_TIMEOUT,
) -> ServerInfo:
    """Start an endpoint process on `data_dir`; return once /ping answers.

    If one already serves this directory it is returned as is. tcp_port None = HTTP only."""
    data_dir = Path(data_dir).resolve()
    running = status(data_dir)
    if running is not None:
        return running
    data_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        (data_dir / STATE_FILE).unlink()
    cmd = [
        sys.executable,
        "-m",
        "warehouse",
        "serve",
        "--data-dir",
        str(data_dir),
        "--host",
        host,
        "--http-port",
        str(http_port),
        "--tcp-port",
        str(-1 if tcp_port is None else tcp_port),
        "--user",
        user,
    ]
    # the password goes through the environment (not the process list); empty = no check
    env = {**os.environ, "TZ": "UTC", PASSWORD_ENV: password or ""}
    log_path = data_dir / LOG_FILE
    log_offset = log_path.stat().st_size if log_path.exists() else 0
    with open(log_path, "ab") as log_file:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            raise EndpointError(_startup_failure(log_path, log_offset, code))
        state = _read_state(data_dir)
        if state is not None and int(state["pid"]) == proc.pid:
            info = ServerInfo(
                host=state["host"],
                http_port=int(state["http_port"]),
                tcp_port=int(state["tcp_port"]) if state.get("tcp_port") is not None else None,
                pid=proc.pid,
                data_dir=data_dir,
            )
            if ping(info.host, info.http_port):
                return info
        time.sleep(0.05)
    proc.terminate()
    raise EndpointError(f"the endpoint did not answer /ping within {timeout:.0f} s; see {log_path}")


def stop(data_dir: str | os.PathLike[str], timeout: float = STOP_TIMEOUT) -> bool:
    """Stop the endpoint of `data_dir` (SIGTERM, then SIGKILL after `timeout`).

    Returns False when nothing was running."""
    data_dir = Path(data_dir).resolve()
    info = status(data_dir)
    if info is None or info.pid is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(info.pid) or not _lock_held(data_dir):
            _reap(info.pid)
            if not _pid_alive(info.pid):
                return True
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(info.pid, signal.SIGKILL)
    while _pid_alive(info.pid) and time.monotonic() < deadline + 10:
        _reap(info.pid)
        time.sleep(0.05)
    return True


def ensure_local_endpoint() -> ServerInfo:
    """Make sure the configured endpoint answers, starting a local one when it is on loopback.

    Uses CLICKHOUSE_HOST/HTTP_PORT/TCP_PORT and ELT_WAREHOUSE_DIR (`EndpointSettings`)."""
    settings = EndpointSettings()
    data_dir = settings.data_dir
    if ping(settings.host, settings.http_port, secure=settings.secure):
        running = status(data_dir)
        if running is not None and running.http_port == settings.http_port:
            return running
        return ServerInfo(settings.host, settings.http_port, settings.tcp_port, None, None)
    if not _is_loopback(settings.host):
        raise EndpointError(
            f"ClickHouse at {settings.host}:{settings.http_port} does not answer, and it is not "
            "a local address, so no local endpoint is started. Check CLICKHOUSE_HOST/HTTP_PORT."
        )
    return start_background(
        data_dir,
        host=settings.host,
        http_port=settings.http_port,
        tcp_port=settings.tcp_port,
        user=settings.user,
        password=settings.password or None,
    )


def ping(host: str, port: int, timeout: float = 1.0, secure: bool = False) -> bool:
    """Whether a ClickHouse HTTP interface answers `Ok.` on /ping."""
    scheme = "https" if secure else "http"
    try:
        url = f"{scheme}://{host}:{port}/ping"
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (http/https)
            return resp.status == 200 and resp.read().strip() == b"Ok."
    except (OSError, ValueError):
        return False


def _read_state(data_dir: Path) -> dict | None:
    try:
        return json.loads((data_dir / STATE_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return None


def _lock_held(data_dir: Path) -> bool:
    """Whether some process holds the data directory lock."""
    path = data_dir / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours counts as gone
    with contextlib.suppress(OSError, IndexError), open(f"/proc/{pid}/stat") as f:
        if f.read().split(") ", 1)[1].startswith("Z"):
            _reap(pid)
            return False
    return True


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _startup_failure(log_path: Path, offset: int, code: int) -> str:
    lines: list[str] = []
    with contextlib.suppress(OSError), open(log_path, "rb") as f:
        f.seek(offset)
        lines = f.read().decode(errors="replace").strip().splitlines()
    errors = [line[len("error: ") :] for line in lines if line.startswith("error: ")]
    if errors:
        return errors[-1]
    tail = "\n".join(lines[-10:])
    return f"the endpoint exited with code {code} during startup; last log lines:\n{tail}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
        except OSError:
            return False
