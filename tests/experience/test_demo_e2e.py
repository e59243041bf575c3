"""`elt demo` end to end on a fresh endpoint, asserted from the warehouse and the Dagster instance.

Runs the real command as a subprocess (as `make demo` does) in an isolated copy of the project:
its own ELT_HOME, DAGSTER_HOME and endpoint on free ports, with a small demo window.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from .conftest import BIN, DEMO_UNTIL, ROOT, Project, free_ports

pytestmark = [pytest.mark.integration, pytest.mark.example]  # the shipped Jaffle Shop example


def mart_relations(project: Project) -> list[str]:
    """`database.table` of every model in dbt's marts folder (from the run's manifest)."""
    manifest = json.loads((project.dbt_project_dir / "target" / "manifest.json").read_text())
    return sorted(
        f"{node['schema']}.{node.get('alias') or node['name']}"
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["fqn"][1] == "marts"
    )


def warehouse_counts(project: Project) -> dict[str, int]:
    """Rows of every raw table and every mart, straight from ClickHouse (FINAL where it dedups)."""
    client = project.client()
    marts = mart_relations(project)
    tables = client.query(
        "select database, name, engine from system.tables"
        " where (database = 'raw' and name not like '%\\_dlt\\_%'"
        " and name not like '%\\_staging\\_\\_\\_%') or database = 'marts'"
    ).result_rows
    engines = {f"{db}.{name}": engine for db, name, engine in tables}
    assert set(marts) <= set(engines), f"marts missing in ClickHouse: {set(marts) - set(engines)}"
    counts = {}
    for relation, engine in engines.items():
        db, table = relation.split(".")
        final = " final" if "Replacing" in engine else ""
        query = f"select count() from `{db}`.`{table}`{final}"
        counts[relation] = client.query(query).result_rows[0][0]
    return counts


def landed_rows(project: Project) -> dict[str, int]:
    """Data rows in the landing CSVs per table (what the raw tables must hold)."""
    out: dict[str, int] = {}
    for folder in sorted((project.home / "landing" / "jaffle_shop").iterdir()):
        rows = 0
        for path in folder.glob("*.csv"):
            with path.open(newline="") as handle:
                rows += sum(1 for _ in csv.reader(handle)) - 1
        out[f"raw.jaffle_shop___{folder.name}"] = rows
    return out


def instance_facts(project: Project) -> dict[str, Any]:
    """Runs, materializations and check results recorded in the demo's DAGSTER_HOME."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(project.dagster_home))
    try:
        runs = instance.get_runs()
        planned, evaluations = set(), {}
        for run in reversed(runs):  # oldest first: later evaluations win
            for kind, target in (
                (dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED, "planned"),
                (dg.DagsterEventType.ASSET_CHECK_EVALUATION, "evaluated"),
            ):
                for record in instance.get_records_for_run(run.run_id, of_type=kind).records:
                    data = record.event_log_entry.dagster_event.event_specific_data
                    key = (data.asset_key.to_user_string(), data.check_name)
                    if target == "planned":
                        planned.add(key)
                    else:
                        evaluations[key] = data.passed
        return {
            "runs": runs,
            "planned": planned,
            "evaluations": evaluations,
            "materialized": {
                k.to_user_string()
                for k in instance.get_asset_keys()
                if instance.get_latest_materialization_event(k) is not None
            },
        }
    finally:
        instance.dispose()


def all_asset_keys_and_checks(project: Project) -> tuple[set[str], set[tuple[str, str]]]:
    """Every materializable asset and every asset check of the project's definitions."""
    from orchestration.defs.transform.project import prepare_manifest
    from orchestration.factory import build_definitions
    from orchestration.inputs import ProjectPaths

    paths = ProjectPaths(
        dbt_project_dir=project.dbt_project_dir,
        dbt_profiles_dir=Path(project.env["DBT_PROFILES_DIR"]),
        schemas_dir=project.schemas_dir,
    )
    prepare_manifest(paths.dbt_project_dir, paths.dbt_profiles_dir)
    defs = build_definitions(paths)
    graph = defs.resolve_asset_graph()
    assets = {k.to_user_string() for k in graph.materializable_asset_keys}
    checks = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    return assets, checks


@pytest.fixture(scope="module")
def first_run(project: Project) -> dict[str, Any]:
    result = project.elt("demo")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-6000:]
    return {
        "output": result.stdout,
        "counts": warehouse_counts(project),
        "instance": instance_facts(project),
    }


def test_every_mart_has_rows(project: Project, first_run: dict[str, Any]) -> None:
    marts = mart_relations(project)
    assert marts, "the dbt project declares no marts"
    empty = [m for m in marts if first_run["counts"][m] == 0]
    assert not empty, f"empty marts: {empty}"


def test_raw_tables_hold_exactly_the_landed_rows(project: Project, first_run: dict) -> None:
    landed = landed_rows(project)
    assert set(landed) == {
        f"raw.jaffle_shop___{t}"
        for t in ("customers", "orders", "items", "products", "stores", "supplies", "tweets")
    }
    assert {t: first_run["counts"][t] for t in landed} == landed
    # the demo window: nothing after DEMO_UNTIL was published
    newest = (
        project.client()
        .query("select toDate(max(ordered_at)) from raw.jaffle_shop___orders final")
        .result_rows[0][0]
    )
    assert newest.isoformat() <= DEMO_UNTIL


def test_every_asset_materialized_and_every_check_passed(
    project: Project, first_run: dict[str, Any]
) -> None:
    facts = first_run["instance"]
    assets, checks = all_asset_keys_and_checks(project)
    assert assets - facts["materialized"] == set()
    assert facts["runs"] and all(r.is_success for r in facts["runs"])
    assert checks, "the project defines no asset checks"
    assert checks - set(facts["evaluations"]) == set(), "checks that never ran"
    assert facts["planned"] <= set(facts["evaluations"])
    failed = sorted(k for k, passed in facts["evaluations"].items() if not passed)
    assert failed == []


def test_output_shows_progress_and_a_summary(first_run: dict[str, Any]) -> None:
    out = first_run["output"]
    for text in (
        "==> local ClickHouse endpoint",
        "==> landing files",
        "dbt compile runs in the background, beside the ingestion",  # a fresh checkout
        "asset ",
        "checks ",
        "elt demo: OK",
        "rows per mart",
        "time per stage",
        "make dev",
    ):
        assert text in out


def test_second_run_is_idempotent(project: Project, first_run: dict[str, Any]) -> None:
    result = project.elt("demo")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-6000:]
    assert "up to date (reused)" in result.stdout  # the manifest was reused
    assert "partitions up to date" in result.stdout  # nothing new: no partition re-run
    assert warehouse_counts(project) == first_run["counts"]
    facts = instance_facts(project)
    assert len(facts["runs"]) > len(first_run["instance"]["runs"])
    assert all(r.is_success for r in facts["runs"])
    assert not [k for k, passed in facts["evaluations"].items() if not passed]


RUNS_QUERY = "{ runsOrError { ... on Runs { results { runId status } } } }"


def graphql(port: int, query: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_dev_shows_the_demo_runs_and_ctrl_c_leaves_the_endpoint_running(
    project: Project, first_run: dict[str, Any]
) -> None:
    (port,) = free_ports(1)
    process = subprocess.Popen(
        [str(BIN / "elt"), "dev", "--port", str(port)],
        cwd=ROOT,
        env=project.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, like a terminal's foreground job
    )
    try:
        deadline = time.monotonic() + 480
        runs = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                answer = graphql(port, RUNS_QUERY)
                runs = answer["data"]["runsOrError"]["results"]
                break
            except (OSError, KeyError, ValueError):
                time.sleep(2)
        assert runs is not None, "dagster dev did not answer"
        demo_runs = {r.run_id for r in first_run["instance"]["runs"]}
        assert demo_runs <= {r["runId"] for r in runs}
        assert all(r["status"] == "SUCCESS" for r in runs if r["runId"] in demo_runs)
    finally:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        output, _ = process.communicate(timeout=120)
    assert f"Dagster UI: http://127.0.0.1:{port}" in output
    assert "Dagster stopped." in output
    assert "stop it with `uv run elt warehouse stop`" in output
    http_port = project.env["CLICKHOUSE_HTTP_PORT"]
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/ping", timeout=10) as ping:
        assert ping.read().strip() == b"Ok."  # the endpoint is still running
