"""Helpers for the dbt integration tests: land and ingest Jaffle Shop data, run dbt, read marts.

Raw data goes through the ingestion helper's API (`ingestion.landing`, `ingestion.pipeline`), the
same path production uses. dbt runs as a subprocess (like dagster-dbt does) with the CLICKHOUSE_*
variables the `warehouse` fixture exported, writing its artifacts to a temp target dir.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO / "dbt_project"
DBT_BIN = Path(sys.executable).parent / "dbt"

# mart -> primary key expression; ReplacingMergeTree marts are read with FINAL
MART_KEYS: dict[str, str] = {
    "customers": "customer_id",
    "orders": "order_id",
    "order_items": "order_item_id",
    "products": "product_id",
    "locations": "location_id",
    "supplies": "supply_uuid",
    "daily_location_metrics": "(metric_date, location_id)",
}
REPLACING_MARTS = {"customers", "products", "locations", "supplies"}


@dataclass
class DbtRun:
    args: list[str]
    returncode: int
    seconds: float
    output: str
    target_path: Path

    @property
    def run_results(self) -> dict[str, Any]:
        return json.loads((self.target_path / "run_results.json").read_text())

    @property
    def manifest(self) -> dict[str, Any]:
        return json.loads((self.target_path / "manifest.json").read_text())


def run_dbt(args: list[str], target_path: Path, check: bool = True) -> DbtRun:
    """`dbt <args> --project-dir dbt_project --profiles-dir <repo>` from the repo root."""
    command = [
        str(DBT_BIN),
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(REPO),
        "--target-path",
        str(target_path),
    ]
    env = {**os.environ, "DBT_LOG_PATH": str(target_path / "logs"), "TZ": "UTC"}
    env.pop("DBT_TARGET", None)
    started = time.perf_counter()
    proc = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    run = DbtRun(
        args, proc.returncode, time.perf_counter() - started, proc.stdout + proc.stderr, target_path
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"dbt {' '.join(args)} failed ({proc.returncode}):\n{run.output[-6000:]}"
        )
    return run


def land_and_ingest(landing_dir: Path, until: dt.date) -> dict[str, int]:
    """Publish jafgen days up to `until` (inclusive) into the landing dir and load them into raw."""
    from ingestion.landing import landing_jaffle
    from ingestion.pipeline import run_source

    landing_jaffle(1, until=until, landing_dir=landing_dir)
    result = run_source("jaffle_shop", landing_dir=landing_dir)
    return dict(result.row_counts)


def scalar(client: Any, sql: str) -> Any:
    return client.query(sql).result_rows[0][0]


def mart_counts(client: Any) -> dict[str, int]:
    """Rows per mart (FINAL for the ReplacingMergeTree dimensions)."""
    counts = {}
    for mart in MART_KEYS:
        final = " FINAL" if mart in REPLACING_MARTS else ""
        counts[mart] = int(scalar(client, f"SELECT count() FROM marts.{mart}{final}"))
    return counts


def duplicate_keys(client: Any) -> dict[str, int]:
    """Per mart: rows minus distinct keys, read without FINAL (what a naive reader sees)."""
    return {
        mart: int(scalar(client, f"SELECT count() - uniqExact({key}) FROM marts.{mart}"))
        for mart, key in MART_KEYS.items()
    }
