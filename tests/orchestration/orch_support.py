"""Constants and helpers shared by the orchestration tests (importable as `orch_support`)."""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from elt.dagster_ui import free_port, serving

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


@contextmanager
def dg_dev(home: Path, log_path: Path, timeout: float = 300) -> Iterator[str]:
    """`dg dev` (webserver, daemon, code server) of the project on a free loopback port with
    DAGSTER_HOME `home`, as `elt dev` starts it; yields the UI's URL once the code location has
    loaded, stops the whole process group afterwards."""
    from elt.dev import dagster_dev_command

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    command = dagster_dev_command("127.0.0.1", port)
    with serving(command, url, cwd=ROOT, env=env, log_path=log_path, timeout=timeout):
        yield url
