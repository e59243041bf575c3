"""Constants and helpers shared by the orchestration tests (importable as `orch_support`)."""

from __future__ import annotations

import contextlib
import datetime as dt
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

FIRST_DAY = dt.date(2018, 9, 1)
PUBLISHED_UNTIL = dt.date(2018, 9, 7)  # landing holds days 09-01 .. 09-07


def csv_rows_by_day(landing_dir: Path, table: str) -> dict[str, int]:
    """Data rows in each daily landing file of `table` (the expected rows of a partition)."""
    out = {}
    for path in sorted((landing_dir / "jaffle_shop" / table).glob("*.csv")):
        with path.open() as handle:
            out[path.stem] = sum(1 for _ in handle) - 1
    return out


def query(sql: str) -> list[tuple]:
    """Rows of a query on the configured warehouse (CLICKHOUSE_*)."""
    from core.clickhouse import clickhouse_client

    client = clickhouse_client()
    try:
        return list(client.query(sql).result_rows)
    finally:
        client.close()


def materialize_command(select: str, *options: str) -> list[str]:
    """`dagster asset materialize` of the code location, as an operator types it."""
    return [
        sys.executable,
        "-m",
        "dagster",
        "asset",
        "materialize",
        "-m",
        "orchestration.definitions",
        "--select",
        select,
        *options,
    ]


REPOSITORIES = """
query { repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } } } } }
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(url: str, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `data` of a GraphQL request to the webserver at `url` (its errors fail the test)."""
    body = json.dumps({"query": document, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"{url}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        payload = json.loads(response.read())
    assert "errors" not in payload, payload
    return payload["data"]


@contextmanager
def dg_dev(home: Path, log_path: Path, timeout: float = 300) -> Iterator[str]:
    """`dg dev` (webserver, daemon, code server) of the project on a free loopback port with
    DAGSTER_HOME `home`, as `elt dev` starts it; yields the UI's URL once the code location has
    loaded, stops the whole process group afterwards."""
    from elt.dev import dagster_dev_command

    port = free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            dagster_dev_command("127.0.0.1", port),
            cwd=ROOT,
            env={**os.environ, "DAGSTER_HOME": str(home)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                assert process.poll() is None, log_path.read_text()[-5000:]
                try:
                    if graphql(url, REPOSITORIES)["repositoriesOrError"].get("nodes"):
                        break
                except OSError:
                    pass
                assert time.monotonic() < deadline, "dg dev did not come up"
                time.sleep(2)
            yield url
        finally:
            with contextlib.suppress(ProcessLookupError):  # it may have exited already
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
