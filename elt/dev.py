"""`elt dev`: the local endpoint plus `dagster dev` (UI on 127.0.0.1) for the code location.

Ctrl-C stops Dagster; the endpoint keeps running (it holds the warehouse data for `elt sql`,
`dbt build` and the next `elt dev`) and the command says how to stop it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import typer

from elt.demo import ensure_endpoint, prepare_dagster_home, say

CODE_LOCATION = "orchestration.definitions"


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def dagster_dev_command(host: str, port: int) -> list[str]:
    local = Path(sys.executable).parent / "dagster"
    dagster = str(local) if local.exists() else "dagster"
    return [dagster, "dev", "-m", CODE_LOCATION, "--host", host, "--port", str(port)]


def dev_command(
    port: int = typer.Option(
        3000, "--port", "-p", envvar="ELT_DEV_PORT", min=1, max=65535, help="Dagster UI port."
    ),
) -> None:
    """Start the local ClickHouse endpoint and `dagster dev`; print the UI's URL."""
    host = "127.0.0.1"  # never beyond loopback
    if not port_is_free(host, port):
        say(f"Port {port} on {host} is in use (another `elt dev`?). Try: elt dev --port {port + 1}")
        raise typer.Exit(code=2)
    say("==> local ClickHouse endpoint")
    info = ensure_endpoint()
    home = prepare_dagster_home()
    from elt.dbt_state import ensure_manifest

    if ensure_manifest():
        say("==> dbt manifest re-parsed (dbt parse)")
    url = f"http://{host}:{port}"
    say(f"==> dagster dev: code location {CODE_LOCATION}, DAGSTER_HOME {home}")
    say(f"\n    Dagster UI: {url}\n    (Ctrl-C stops Dagster)\n")
    process = subprocess.Popen(dagster_dev_command(host, port), env=os.environ.copy())
    try:
        code = process.wait()
    except KeyboardInterrupt:
        # The terminal sent SIGINT to the whole group; give dagster time to shut down cleanly.
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
    say("\nDagster stopped.")
    if info is not None:
        say(
            f"The ClickHouse endpoint is still running on http://{info.host}:{info.http_port} "
            f'(pid {getattr(info, "pid", "?")}): `uv run elt sql "show databases"` works;'
            " stop it with `uv run elt warehouse stop`."
        )
    raise typer.Exit(code=0 if code in (0, -signal.SIGINT, 130) else code)
