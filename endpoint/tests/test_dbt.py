"""`dbt build` (dbt-clickhouse) against the endpoint, run twice, over HTTP and native TCP."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).parent / "dbt_project"


def _dbt(project: Path, target: str, env: dict[str, str], *args: str) -> str:
    dbt = Path(sys.executable).parent / "dbt"
    proc = subprocess.run(
        [
            str(dbt),
            *args,
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--target",
            target,
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=project,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.parametrize("driver", ["http", "native"])
def test_dbt_build_twice(warehouse, ch, tmp_path: Path, driver: str) -> None:
    assert warehouse.tcp_port, "the endpoint must serve the native protocol"
    project = tmp_path / "dbt_project"
    shutil.copytree(PROJECT, project)
    schema = f"dbt_{driver}_{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DBT_COMPAT_SCHEMA": schema,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_LOG_PATH": str(tmp_path / "logs"),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
    }
    try:
        for run in range(2):
            out = _dbt(project, driver, env, "build")
            assert "Completed successfully" in out, out[-3000:]
            assert "ERROR=0" in out
            if run == 0:
                assert "PASS=" in out
        rows = ch.query(
            f"SELECT customer_id, name, orders, revenue_cents FROM {schema}.customer_revenue "
            "ORDER BY customer_id"
        ).result_rows
        assert rows == [
            (1, "Ada", 2, 2050),
            (2, "Brian", 1, 4300),
            (3, "Chen", 1, 150),
            (4, "Dana", 1, 9900),
        ]
        # the incremental model re-ran without duplicating its window
        counts = ch.query(f"SELECT count(), uniqExact(order_id) FROM {schema}.fct_orders")
        assert counts.result_rows == [(5, 5)]
        engine, partition_key = ch.query(
            "SELECT engine_full, partition_key FROM system.tables "
            "WHERE database = {d:String} AND name = 'dim_customers'",
            parameters={"d": schema},
        ).result_rows[0]
        assert engine.startswith("ReplacingMergeTree")
        assert partition_key in ("toYYYYMM(signed_up_at)", "(toYYYYMM(signed_up_at))")
        partitions = ch.query(
            "SELECT uniqExact(partition) FROM system.parts WHERE database = {d:String} "
            "AND table = 'dim_customers' AND active",
            parameters={"d": schema},
        ).result_rows[0][0]
        assert partitions == 2
    finally:
        ch.command(f"DROP DATABASE IF EXISTS {schema}")
