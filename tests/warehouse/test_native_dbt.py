"""`dbt build` with dbt-clickhouse `driver: native` (clickhouse-driver) against the endpoint, twice:
seed, ReplacingMergeTree table with partition_by, incremental model, view, data tests.
The tiny project is shared with the HTTP variant: tests/warehouse/dbt_project/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from clickhouse_driver import Client

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).parent / "dbt_project"


def _dbt(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    dbt = Path(sys.executable).parent / "dbt"
    cmd = [str(dbt), *args, "--project-dir", str(project), "--profiles-dir", str(project)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=project)


def test_dbt_build_native_twice(warehouse, tmp_path) -> None:
    project = tmp_path / "project"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("target", "logs"))
    schema = f"dbt_native_{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DBT_COMPAT_SCHEMA": schema,
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    native = Client(warehouse.host, port=warehouse.tcp_port)
    try:
        for attempt in (1, 2):
            result = _dbt(project, env, "build", "--target", "native")
            assert result.returncode == 0, f"run {attempt}:\n{result.stdout[-4000:]}"
            assert "ERROR=0" in result.stdout
        engines = dict(
            native.execute(
                "SELECT name, engine FROM system.tables WHERE database = %(db)s", {"db": schema}
            )
        )
        assert engines["dim_customers"] == "ReplacingMergeTree"
        assert engines["fct_orders"] == "MergeTree"
        assert engines["customer_revenue"] == "View"
        partitions = native.execute(
            "SELECT uniqExact(partition) FROM system.parts "
            "WHERE database = %(db)s AND table = 'dim_customers' AND active",
            {"db": schema},
        )[0][0]
        assert partitions > 1
        seeded = native.execute(f"SELECT count() FROM {schema}.orders")[0][0]
        # the incremental model saw the same rows twice and kept each once
        assert native.execute(f"SELECT count(), uniqExact(order_id) FROM {schema}.fct_orders") == [
            (seeded, seeded)
        ]
        customers = native.execute(f"SELECT count() FROM {schema}.customers")[0][0]
        assert native.execute(f"SELECT count() FROM {schema}.customer_revenue") == [(customers,)]
    finally:
        native.execute(f"DROP DATABASE IF EXISTS {schema}")
        native.disconnect()
