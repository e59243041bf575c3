"""The production topology as plain processes: `dagster api grpc` (the project's code location),
`dagster-webserver` and `dagster-daemon run` share deploy/dagster.yaml + deploy/workspace.yaml,
pointed at a fresh Postgres database and the local ClickHouse endpoint. A run submitted through
the webserver's GraphQL API goes through the daemon's queue, runs in the code server's run worker,
loads a raw table, and its events are in Postgres. The readiness probes are the compose health
checks (grpc-health-check, /server_info, liveness-check)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from deploy_helpers import DEPLOY, REPO, dagster_env

pytestmark = pytest.mark.example  # uses the shipped Jaffle Shop example

BIN = Path(sys.executable).parent
JOB = "ingest_jaffle_shop"
ASSET = ["raw", "jaffle_shop", "stores"]
STORES_CSV = """id,name,opened_at,tax_rate
0a5b3c2e-1f3d-4c8e-9b7a-2d6f8e1c4a01,Philadelphia,2018-09-01T00:00:00,0.06
1b6c4d3f-2e4a-4d9f-8c6b-3e7a9f2d5b02,Brooklyn,2019-03-12T00:00:00,0.04
2c7d5e4a-3f5b-4eaa-9d7c-4f8bab3e6c03,Chicago,2020-04-28T00:00:00,0.0625
"""
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}

TOPOLOGY_RAW_DB = "raw_topology"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(probe: Callable[[], bool], timeout: float, what: str, logs: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(1.0)
    raise AssertionError(f"{what} not ready after {timeout:.0f} s\n{tail_logs(logs)}")


def tail_logs(logs: Path, lines: int = 40) -> str:
    out = []
    for path in sorted(logs.glob("*.log")):
        text = path.read_text(errors="replace").splitlines()[-lines:]
        out.append(f"--- {path.name}\n" + "\n".join(text))
    return "\n".join(out)


def succeeds(*command: str, env: dict[str, str]) -> bool:
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, check=False, timeout=60)
    return done.returncode == 0


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def failure_events(postgres_url: str, run_id: str) -> str:
    """The run's error events (from the Postgres event log) for an assertion message."""
    from sqlalchemy import create_engine, text

    engine = create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT dagster_event_type, event FROM event_logs WHERE run_id = :id"
                    " AND (dagster_event_type IN ('STEP_FAILURE', 'RUN_FAILURE', 'ENGINE_EVENT')"
                    " OR event LIKE '%error%') ORDER BY id"
                ),
                {"id": run_id},
            ).all()
    finally:
        engine.dispose()
    return "\n".join(f"{kind}: {event[:1500]}" for kind, event in rows)


class Processes:
    """The three long-running processes, each in its own session so it can be stopped whole."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs, self.procs = env, logs, []

    def start(self, name: str, *command: str) -> None:
        log = (self.logs / f"{name}.log").open("w")
        self.procs.append(
            subprocess.Popen(
                command,
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture
def topology(warehouse, dagster_postgres_url: str, tmp_path: Path) -> Iterator[dict[str, object]]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    for name in ("dagster.yaml", "workspace.yaml"):
        shutil.copy(DEPLOY / name, home / name)
    landing = tmp_path / "landing"
    (landing / "jaffle_shop" / "stores").mkdir(parents=True)
    (landing / "jaffle_shop" / "stores" / "stores.csv").write_text(STORES_CSV)
    logs = tmp_path / "logs"
    logs.mkdir()
    grpc_port, web_port = free_port(), free_port()
    env = {
        **os.environ,  # CLICKHOUSE_* of the `warehouse` endpoint
        **dagster_env(dagster_postgres_url, tmp_path / "storage"),
        "DAGSTER_HOME": str(home),
        "DAGSTER_CODE_SERVER_HOST": "127.0.0.1",
        "DAGSTER_CODE_SERVER_PORT": str(grpc_port),
        "ELT_HOME": str(tmp_path / "elt"),
        "ELT_LANDING_DIR": str(landing),
        "ELT_DLT_DIR": str(tmp_path / "dlt"),
        "ELT_DAGSTER_AUTOSTART": "0",  # no schedule/sensor runs besides ours
        # a raw database of its own: the session's endpoint is shared with other tests
        "CLICKHOUSE_RAW_DATABASE": TOPOLOGY_RAW_DB,
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }
    workspace = str(home / "workspace.yaml")
    procs = Processes(env, logs)
    try:
        # the same commands as the compose services (bound to loopback here)
        procs.start(
            "code-server",
            str(BIN / "dagster"),
            "api",
            "grpc",
            "-m",
            "orchestration.definitions",
            "-h",
            "127.0.0.1",
            "-p",
            str(grpc_port),
        )
        wait_until(
            lambda: succeeds(
                str(BIN / "dagster"), "api", "grpc-health-check", "-p", str(grpc_port), env=env
            ),
            300,
            "code server",
            logs,
        )
        procs.start(
            "webserver",
            str(BIN / "dagster-webserver"),
            "--host",
            "127.0.0.1",
            "--port",
            str(web_port),
            "--workspace",
            workspace,
        )
        procs.start("daemon", str(BIN / "dagster-daemon"), "run", "--workspace", workspace)
        wait_until(
            lambda: http_ok(f"http://127.0.0.1:{web_port}/server_info"), 180, "webserver", logs
        )
        wait_until(
            lambda: succeeds(str(BIN / "dagster-daemon"), "liveness-check", env=env),
            180,
            "daemon",
            logs,
        )
        yield {"web_port": web_port, "logs": logs, "storage": tmp_path / "storage"}
    finally:
        procs.stop()


@pytest.mark.integration
@pytest.mark.slow
def test_run_through_webserver_daemon_and_code_server(topology, dagster_postgres_url: str) -> None:
    from dagster import DagsterEventType
    from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError
    from sqlalchemy import create_engine, text

    from core.clickhouse import clickhouse_client

    logs = topology["logs"]
    client = DagsterGraphQLClient("127.0.0.1", port_number=topology["web_port"], timeout=60)

    run_id = None
    deadline = time.monotonic() + 120
    while run_id is None:  # the webserver may still be loading the code location
        try:
            run_id = client.submit_job_execution(
                JOB,
                repository_location_name="elt",
                repository_name="__repository__",
                asset_selection=[ASSET],
                tags={"elt/test": "deploy-topology"},
            )
        except DagsterGraphQLClientError:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)

    status = None
    deadline = time.monotonic() + 480
    while time.monotonic() < deadline:
        status = client.get_run_status(run_id).value
        if status in TERMINAL:
            break
        time.sleep(2)
    failures = "" if status == "SUCCESS" else failure_events(dagster_postgres_url, run_id)
    assert status == "SUCCESS", f"run {run_id} ended {status}\n{failures}\n{tail_logs(logs, 30)}"

    engine = create_engine(dagster_postgres_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT status, pipeline_name FROM runs WHERE run_id = :id"), {"id": run_id}
            ).one()
            events = dict(
                conn.execute(
                    text(
                        "SELECT dagster_event_type, count(*) FROM event_logs"
                        " WHERE run_id = :id AND dagster_event_type IS NOT NULL"
                        " GROUP BY dagster_event_type"
                    ),
                    {"id": run_id},
                ).all()
            )
            daemons = {
                r[0] for r in conn.execute(text("SELECT daemon_type FROM daemon_heartbeats")).all()
            }
    finally:
        engine.dispose()
    assert tuple(row) == ("SUCCESS", JOB)
    # queued by the webserver (QueuedRunCoordinator), launched by the daemon (only it dequeues),
    # executed by the code server's run worker. The event log stores run events under their
    # legacy PIPELINE_* names.
    once = ("RUN_ENQUEUED", "RUN_STARTING", "RUN_START", "RUN_SUCCESS")
    wrong = [e for e in once if events.get(DagsterEventType[e].value) != 1]
    assert not wrong, f"{wrong} not logged once: {json.dumps(events, sort_keys=True)}"
    for event in ("ASSET_MATERIALIZATION", "STEP_SUCCESS", "ASSET_CHECK_EVALUATION"):
        assert events.get(event, 0) >= 1, f"no {event}: {json.dumps(events, sort_keys=True)}"
    assert {"QUEUED_RUN_COORDINATOR", "MONITORING", "SCHEDULER", "SENSOR"} <= daemons
    # the step's stdout/stderr went to the configured compute-log directory
    assert any((topology["storage"] / "compute_logs").rglob("*"))
    # and the run really loaded ClickHouse
    loaded = clickhouse_client().command(
        f"SELECT count() FROM {TOPOLOGY_RAW_DB}.jaffle_shop___stores FINAL"
    )
    assert int(loaded) == 3
