"""The code location on real Dagster processes and instances:

- `dg dev` (webserver + daemon + code server): materialize a selection of assets through the
  webserver's GraphQL API, with the mutation the UI's "Materialize" button sends, and find the
  run's events in the instance;
- a DAGSTER_HOME with the deployment's dagster.yaml on the machine's Postgres: a run completes
  and its run and events are stored in Postgres.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef
from orch_support import dg_dev, materialize_command, query

from elt.dagster_ui import REPOSITORIES, graphql
from orchestration.launcher import PID_TAG

pytestmark = [pytest.mark.integration, pytest.mark.example]  # uses the shipped Jaffle Shop example

ROOT = Path(__file__).resolve().parents[2]
SELECTION = [["raw", "jaffle_shop", "stores"], ["staging", "stg_jaffle_shop__stores"]]

LAUNCH_RUN = """
mutation LaunchRun($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on PythonError { message stack }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""
RUN_STATUS = """
query RunStatus($runId: ID!) {
  runOrError(runId: $runId) { __typename ... on Run { status } }
}
"""


@pytest.fixture
def dagster_dev(
    warehouse: Any, landing: Path, orch_env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[str, Path]]:
    """`dg dev` on a free loopback port with its own DAGSTER_HOME (dev SQLite instance)."""
    from orchestration.instance import ensure_dagster_home

    home = ensure_dagster_home(tmp_path / "dagster_home")
    with dg_dev(home, tmp_path / "dg_dev.log") as url:
        yield url, home


def _launch(url: str, params: dict[str, Any]) -> str:
    launched = graphql(url, LAUNCH_RUN, {"executionParams": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


def _wait(url: str, run_id: str, timeout: float = 600) -> str | None:
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status = graphql(url, RUN_STATUS, {"runId": run_id})["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(3)
    return status


def test_materialize_through_the_webservergraphql(dagster_dev: tuple[str, Path]) -> None:
    url, home = dagster_dev
    repo = graphql(url, REPOSITORIES)["repositoriesOrError"]["nodes"][0]
    params = {
        "selector": {
            "repositoryLocationName": repo["location"]["name"],
            "repositoryName": repo["name"],
            "jobName": "__ASSET_JOB",
            "assetSelection": [{"path": path} for path in SELECTION],
            "assetCheckSelection": [],
        },
        "mode": "default",
        "executionMetadata": {"tags": [{"key": "elt/test", "value": "graphql"}]},
    }
    run_id = _launch(url, params)
    assert _wait(url, run_id) == "SUCCESS"

    # two dbt runs launched at once: both only read the manifest prepared before `dg dev`
    # started (no parse per run process, no `manifest.concurrent-update-lock`)
    at_once = [
        _launch(url, {**params, "selector": {**params["selector"], "assetSelection": [sel]}})
        for sel in ({"path": SELECTION[1]}, {"path": ["marts", "locations"]})
    ]
    assert [_wait(url, r) for r in at_once] == ["SUCCESS", "SUCCESS"]

    # the run and its events are in the instance dagster dev used
    instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
    try:
        run = instance.get_run_by_id(run_id)
        assert run.tags["elt/test"] == "graphql"
        # each run forked from the warm run worker the daemon started (orchestration/launcher.py)
        for each in (run_id, *at_once):
            assert PID_TAG in instance.get_run_by_id(each).tags
        materialized = {
            tuple(r.dagster_event.asset_key.path)
            for r in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
        }
        assert materialized == {tuple(p) for p in SELECTION}
    finally:
        instance.dispose()
    assert int(query("select count() from staging.stg_jaffle_shop__stores")[0][0]) > 0


def test_run_stored_in_postgres(
    warehouse: Any,
    landing: Path,
    orch_env: dict[str, str],
    dagster_postgres_url: str,
    tmp_path: Path,
) -> None:
    """deploy/dagster.yaml (the production instance: dagster-postgres) on the machine's Postgres."""
    import psycopg2
    from sqlalchemy.engine import make_url

    home = tmp_path / "pg_home"
    home.mkdir()
    shutil.copyfile(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    pg = make_url(dagster_postgres_url)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": pg.host or "127.0.0.1",
        "DAGSTER_PG_PORT": str(pg.port or 5432),
        "DAGSTER_PG_USER": pg.username or "postgres",
        "DAGSTER_PG_PASSWORD": pg.password or "",
        "DAGSTER_PG_DB": pg.database,
        "DAGSTER_MAX_CONCURRENT_RUNS": "2",
        "DAGSTER_COMPUTE_LOGS_DIR": str(tmp_path / "compute_logs"),
        "DAGSTER_STORAGE_DIR": str(tmp_path / "storage"),
    }
    proc = subprocess.run(
        materialize_command("raw/jaffle_shop/stores,raw/jaffle_shop/products"),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]

    conn = psycopg2.connect(
        host=env["DAGSTER_PG_HOST"],
        port=env["DAGSTER_PG_PORT"],
        user=env["DAGSTER_PG_USER"],
        dbname=env["DAGSTER_PG_DB"],
        password=env["DAGSTER_PG_PASSWORD"] or None,
    )
    try:
        with conn.cursor() as cur:
            cur.execute("select run_id, status from runs")
            runs = cur.fetchall()
            assert [status for _, status in runs] == ["SUCCESS"]
            cur.execute(
                "select count(*) from event_logs where run_id = %s and dagster_event_type = %s",
                (runs[0][0], "ASSET_MATERIALIZATION"),
            )
            assert cur.fetchone()[0] == 2
    finally:
        conn.close()
