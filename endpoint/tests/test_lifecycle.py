"""Start/stop/status, clear startup errors, durability after SIGKILL, auth, the CLI."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import clickhouse_connect
import clickhouse_driver
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from warehouse.lifecycle import EndpointError, start_background, status, stop

pytestmark = pytest.mark.integration


def _client(info, **kw):
    return clickhouse_connect.get_client(host=info.host, port=info.http_port, **kw)


@pytest.fixture
def data_dir(tmp_path: Path):
    directory = tmp_path / "wh"
    yield directory
    stop(directory, timeout=10)


def test_durability_after_sigkill(data_dir: Path) -> None:
    info = start_background(data_dir, tcp_port=None)
    client = _client(info)
    client.command("CREATE DATABASE IF NOT EXISTS dur")
    client.command("CREATE TABLE dur.t (id UInt32, v String) ENGINE = MergeTree ORDER BY id")
    acknowledged = 0
    for batch in range(5):
        client.insert("dur.t", [[batch * 100 + i, "x"] for i in range(100)])
        acknowledged += 100
    client.command("INSERT INTO dur.t VALUES (100000, 'last')")
    acknowledged += 1
    client.close()
    os.kill(info.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while status(data_dir) is not None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    info2 = start_background(data_dir, tcp_port=None)
    assert info2.pid != info.pid
    client = _client(info2)
    assert client.query("SELECT count() FROM dur.t").result_rows == [(acknowledged,)]
    client.close()
    assert stop(data_dir)
    assert status(data_dir) is None
    assert not (data_dir / "server.json").exists()


def test_status_stop_and_state_file(data_dir: Path) -> None:
    assert status(data_dir) is None
    assert stop(data_dir) is False
    info = start_background(data_dir, tcp_port=None)
    state = json.loads((data_dir / "server.json").read_text())
    assert state["pid"] == info.pid
    assert state["http_port"] == info.http_port
    assert status(data_dir) == info
    # starting again returns the running one
    assert start_background(data_dir, tcp_port=None) == info
    # the query log has one JSON line per query
    client = _client(info)
    client.query("SELECT 'logged'")
    client.close()
    entries = [json.loads(line) for line in (data_dir / "query_log.jsonl").read_text().splitlines()]
    mine = [e for e in entries if "'logged'" in e["query"]]
    assert mine and mine[-1]["error_code"] == 0 and mine[-1]["result_rows"] == 1
    assert {"query_id", "session", "duration_ms", "read_rows", "read_bytes"} <= set(mine[-1])
    assert stop(data_dir)
    assert status(data_dir) is None


def test_port_in_use_is_a_clear_error(data_dir: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        with pytest.raises(EndpointError) as err:
            start_background(data_dir, http_port=port, tcp_port=None)
    message = str(err.value)
    assert f"port {port}" in message and "already in use" in message
    assert "Traceback" not in message
    assert status(data_dir) is None


def test_locked_data_dir_is_a_clear_error(warehouse) -> None:
    # the session endpoint holds its directory: a second server on it must refuse cleanly
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "warehouse",
            "serve",
            "--data-dir",
            str(warehouse.data_dir),
            "--http-port",
            "0",
            "--tcp-port",
            "-1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 3
    assert "in use by process" in proc.stderr
    assert "Traceback" not in proc.stderr and "Code: 76" not in proc.stderr
    assert status(warehouse.data_dir) is not None


def test_auth_on(data_dir: Path) -> None:
    info = start_background(data_dir, tcp_port=None, user="alice", password="s3cret")
    good = _client(info, username="alice", password="s3cret")
    assert good.query("SELECT currentUser() != ''").result_rows == [(True,)]
    good.close()
    with pytest.raises(DatabaseError) as err:
        _client(info, username="alice", password="wrong")
    assert "516" in str(err.value)
    with pytest.raises(DatabaseError):
        _client(info)
    # the other ways clients send credentials: X-ClickHouse-User/Key headers, URL parameters
    import urllib.error
    import urllib.request

    url = f"http://{info.host}:{info.http_port}/?query=SELECT%201"
    headers = {"X-ClickHouse-User": "alice", "X-ClickHouse-Key": "s3cret"}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as resp:
        assert resp.read() == b"1\n"
    with urllib.request.urlopen(url + "&user=alice&password=s3cret") as resp:
        assert resp.read() == b"1\n"
    with pytest.raises(urllib.error.HTTPError) as http_err:
        urllib.request.urlopen(url + "&user=alice&password=nope")
    assert http_err.value.headers["X-ClickHouse-Exception-Code"] == "516"
    assert urllib.request.urlopen(f"http://{info.host}:{info.http_port}/ping").read() == b"Ok.\n"
    assert stop(data_dir)


def test_cli_start_status_stop(data_dir: Path, monkeypatch) -> None:
    # the warehouse commands themselves (elt/cli.py only mounts them), in-process
    import typer
    from typer.testing import CliRunner

    from warehouse.cli import sql_command, warehouse_app

    runner = CliRunner()
    monkeypatch.setenv("ELT_WAREHOUSE_DIR", str(data_dir))
    out = runner.invoke(warehouse_app, ["start", "--http-port", "0", "--tcp-port", "0"])
    assert out.exit_code == 0, out.output
    info = status(data_dir)
    assert info is not None
    assert f"http://127.0.0.1:{info.http_port}" in out.output
    out = runner.invoke(warehouse_app, ["status"])
    assert out.exit_code == 0 and str(info.pid) in out.output
    monkeypatch.setenv("CLICKHOUSE_HTTP_PORT", str(info.http_port))
    sql_app = typer.Typer()
    sql_app.command()(sql_command)
    out = runner.invoke(sql_app, ["SELECT 41 + 1 AS answer", "--format", "csv"])
    assert out.exit_code == 0, out.output
    assert out.output.splitlines() == ["answer", "42"]
    out = runner.invoke(sql_app, ["SELECT 'x' AS a, 1 AS b"])
    assert out.exit_code == 0 and "1 row(s)" in out.output
    out = runner.invoke(sql_app, ["SELECT nope"])
    assert out.exit_code == 1 and "Code: 47" in out.output
    out = runner.invoke(warehouse_app, ["stop"])
    assert out.exit_code == 0 and "stopped" in out.output
    out = runner.invoke(warehouse_app, ["status"])
    assert out.exit_code == 1


def test_ensure_local_endpoint(warehouse, tmp_path: Path, monkeypatch) -> None:
    from warehouse.lifecycle import ensure_local_endpoint

    # something answers on the configured port: it is used as is
    assert ensure_local_endpoint().http_port == warehouse.http_port
    # nothing answers on a loopback port: one is started on ELT_WAREHOUSE_DIR
    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    data_dir = tmp_path / "ensured"
    monkeypatch.setenv("CLICKHOUSE_HTTP_PORT", str(ports[0]))
    monkeypatch.setenv("CLICKHOUSE_TCP_PORT", str(ports[1]))
    monkeypatch.setenv("ELT_WAREHOUSE_DIR", str(data_dir))
    try:
        info = ensure_local_endpoint()
        assert info.http_port == ports[0]
        assert info.data_dir == data_dir.resolve()
        assert ensure_local_endpoint().pid == info.pid
    finally:
        stop(data_dir)


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def test_cli_honours_the_documented_environment(tmp_path: Path) -> None:
    # `elt warehouse start|status|stop` with no options: CLICKHOUSE_HOST/HTTP_PORT/TCP_PORT and
    # ELT_WAREHOUSE_DIR decide where it listens and which data directory it owns (README)
    http_port, tcp_port = _free_ports(2)
    data_dir = tmp_path / "from-env"
    env = {
        **os.environ,
        "CLICKHOUSE_HOST": "127.0.0.1",
        "CLICKHOUSE_HTTP_PORT": str(http_port),
        "CLICKHOUSE_TCP_PORT": str(tcp_port),
        "ELT_WAREHOUSE_DIR": str(data_dir),
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "warehouse", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)

    try:
        started = cli("start")
        assert started.returncode == 0, started.stderr
        info = status(data_dir)
        assert info is not None
        assert (info.host, info.http_port, info.tcp_port) == ("127.0.0.1", http_port, tcp_port)
        assert f"http://127.0.0.1:{http_port}" in started.stdout
        assert f"127.0.0.1:{tcp_port}" in started.stdout
        native = clickhouse_driver.Client(host="127.0.0.1", port=tcp_port)
        assert native.execute("SELECT 1") == [(1,)]
        native.disconnect()
        shown = cli("status")
        assert shown.returncode == 0 and str(info.pid) in shown.stdout
        assert str(data_dir) in shown.stdout
        stopped = cli("stop")
        assert stopped.returncode == 0 and "stopped" in stopped.stdout
        assert status(data_dir) is None
    finally:
        stop(data_dir, timeout=10)
