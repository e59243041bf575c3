"""The workflow's pull-request dbt step, run for real: raw tables only on a fresh endpoint,
main's manifest as state, one changed mart → only it (and its parents) are built and tested."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from orchestration.defs.transform.project import prepare_manifest

from .conftest import ROOT, Project
from .gitrepo import uv_on_path
from .test_ci_workflow import load_workflow

pytestmark = pytest.mark.integration

STEP = "Pull request — dbt build of the changed models and their children"


def step_script() -> str:
    (step,) = [s for s in load_workflow()["jobs"]["dbt"]["steps"] if s.get("name") == STEP]
    return step["run"]


def tables(project: Project, database: str) -> set[str]:
    rows = (
        project.client()
        .query(
            "select name from system.tables where database = {db:String}",
            parameters={"db": database},
        )
        .result_rows
    )
    return {name for (name,) in rows}


def test_state_modified_build_against_mains_manifest(project: Project) -> None:
    # CI's steps before this one: endpoint + raw tables ingested through Dagster
    ingest = project.elt("demo", "--skip-dbt")
    assert ingest.returncode == 0, ingest.stdout[-6000:] + ingest.stderr[-3000:]
    assert tables(project, "marts") == set()
    assert "not needed (--skip-dbt)" in ingest.stdout  # no dbt manifest for raw tables alone
    # main's manifest (what main's run cached) = the manifest of the unchanged project
    main_state = project.root / "main-state"
    main_state.mkdir()
    assert prepare_manifest(project.dbt_project_dir, ROOT)
    manifest = project.dbt_project_dir / "target" / "manifest.json"
    shutil.copy(manifest, main_state / "manifest.json")
    # the pull request changes one mart
    mart = project.dbt_project_dir / "models" / "marts" / "products.sql"
    mart.write_text(mart.read_text() + "-- changed in this pull request\n")

    env = uv_on_path(
        {
            **project.env,
            "MAIN_STATE_DIR": str(main_state),
            "DBT_PROJECT_DIR": str(project.dbt_project_dir),
            "DBT_PROFILES_DIR": str(ROOT),
        }
    )
    result = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", step_script()],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-3000:]
    assert "Using main's manifest" in result.stdout
    build_log = result.stdout.split("Done.", 1)[1]  # the second command: dbt build
    assert "`marts`.`products`" in build_log  # the changed mart is built and tested
    assert "`marts`.`customers`" not in build_log  # unchanged models are not rebuilt
    rows = project.client().query("select count() from marts.products").result_rows[0][0]
    assert rows > 0
    assert "int_products_with_supply_costs" in tables(project, "intermediate")  # its parents
    assert "PASS=" in result.stdout and "ERROR=0" in result.stdout
