"""`elt dev`: the local endpoint plus `dg dev` (UI on 127.0.0.1) for the code location.

Ctrl-C stops Dagster; the endpoint keeps running (it holds the warehouse data for `elt sql`,
`dbt build` and the next `elt dev`) and the command says how to stop it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import typer

from core.settings import PROJECT_ROOT, settings
from elt.demo import ensure_endpoint, prepare_dagster_home, replay_partitions_end, say
from orchestration.defs.transform.project import prepare_manifest

CODE_LOCATION = "orchestration.definitions"


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def dagster_dev_command(host: str, port: int) -> list[str]:
    """`dg dev` of this `dg` project (run from the project root; [tool.dg] in pyproject.toml)."""
    local = Path(sys.executable).parent / "dg"
    dg = str(local) if local.exists() else "dg"
    return [dg, "dev", "--host", host, "--port", str(port)]


def dagster_env(home: Path, partitions_end: dt.date | None) -> dict[str, str]:
    """The environment of `dg dev`: ours plus its instance and the partitions' end."""
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    if partitions_end is not None:
        env["ELT_PARTITIONS_END_DATE"] = partitions_end.isoformat()
    return env


def dev_command(
    port: int = typer.Option(
        3000, "--port", "-p", envvar="ELT_DEV_PORT", min=1, max=65535, help="Dagster UI port."
    ),
) -> None:
    """Start the local ClickHouse endpoint and `dg dev`; print the UI's URL."""
    host = "127.0.0.1"  # never beyond loopback
    if not port_is_free(host, port):
        say(f"Port {port} on {host} is in use (another `elt dev`?). Try: elt dev --port {port + 1}")
        raise typer.Exit(code=2)
    say("==> local ClickHouse endpoint")
    info = ensure_endpoint()
    home = prepare_dagster_home()
    end = replay_partitions_end(Path(settings().paths.landing_dir))
    if end:
        say(f"==> daily partitions end before {end} (the demo data's last day + 1)")
    if prepare_manifest(compile_sql=True):  # once, here: run and step processes only read it
        say("==> dbt manifest re-compiled (dbt compile)")
    url = f"http://{host}:{port}"
    say(f"==> dg dev: code location {CODE_LOCATION}, DAGSTER_HOME {home}")
    say(f"\n    Dagster UI: {url}\n    (Ctrl-C stops Dagster)\n")
    # dg dev runs in a process group of its own: Ctrl-C (or SIGTERM) reaches `elt dev`, which
    # forwards one SIGINT to the whole group (webserver, daemon, code server), then escalates.
    process = subprocess.Popen(
        dagster_dev_command(host, port),
        cwd=PROJECT_ROOT,
        env=dagster_env(home, end),
        start_new_session=True,
    )
    stop_requested = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop_requested.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = wait_for_dagster(process, stop_requested)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    say("\nDagster stopped.")
    if info.pid is not None:
        say(
            f"The ClickHouse endpoint is still running on http://{info.host}:{info.http_port}"
            f" (pid {info.pid}, data {info.data_dir}): `uv run elt sql 'show databases'` works;"
            " stop it with `uv run elt warehouse stop`."
        )
    raise typer.Exit(code=0 if stop_requested.is_set() else code)


def wait_for_dagster(process: subprocess.Popen, stop_requested: threading.Event) -> int:
    """Wait for dg dev; on a stop request: SIGINT its group, then SIGTERM, then SIGKILL."""
    while process.poll() is None and not stop_requested.wait(0.5):
        pass
    if process.poll() is not None:
        return process.returncode
    say("\nStopping Dagster (Ctrl-C) …")
    code = None
    for sig, grace in ((signal.SIGINT, 60), (signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            code = process.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    time.sleep(2)  # leftovers of dagster's own group (a code server still starting)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    return process.wait() if code is None else code
