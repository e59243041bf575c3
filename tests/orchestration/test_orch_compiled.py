"""`elt dev` / `elt demo` prepare the manifest with `dbt compile` against the running warehouse:
the dbt assets' descriptions then show the SQL dbt runs, not the Jinja as written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from orchestration.defs.transform.project import ManifestPreparation, prepare_manifest
from orchestration.factory import build_definitions
from orchestration.inputs import ProjectPaths

pytestmark = [pytest.mark.integration, pytest.mark.example]  # the shipped dbt project

ROOT = Path(__file__).resolve().parents[2]


def test_a_compiled_manifest_gives_compiled_sql_descriptions(
    warehouse: Any, tmp_path: Path
) -> None:
    dbt = tmp_path / "dbt"
    shutil.copytree(ROOT / "dbt_project", dbt, ignore=shutil.ignore_patterns("target", "logs"))
    assert prepare_manifest(dbt, ROOT, compile_sql=True)
    assert not prepare_manifest(dbt, ROOT, compile_sql=True)  # fresh: not compiled again

    repo = build_definitions(ProjectPaths(dbt_project_dir=dbt)).get_repository_def()
    descriptions = {
        key.to_user_string(): repo.asset_graph.get(key).description or ""
        for key in repo.asset_graph.get_all_asset_keys()
        if key.path[0] in ("staging", "intermediate", "marts")
    }
    assert descriptions
    for name, text in descriptions.items():
        assert "#### Compiled SQL" in text, name
        assert "{{" not in text and "{%" not in text, name
    # a ref() resolved to the ClickHouse relation it reads
    assert "`staging`.`stg_jaffle_shop__stores`" in descriptions["marts/locations"]


def test_a_broken_model_fails_the_preparation_with_dbt_s_error(tmp_path: Path) -> None:
    dbt = tmp_path / "dbt"
    shutil.copytree(ROOT / "dbt_project", dbt, ignore=shutil.ignore_patterns("target", "logs"))
    (dbt / "models" / "marts" / "broken.sql").write_text("select {{ ref('no_such_model') }}\n")
    with pytest.raises(RuntimeError, match=r"dbt parse failed:(.|\n)*no_such_model"):
        prepare_manifest(dbt, ROOT)
    assert not (dbt / "target" / "manifest.json").exists()


def test_a_background_preparation_builds_the_manifest_or_fails_with_dbt_s_error(
    tmp_path: Path,
) -> None:
    dbt = tmp_path / "dbt"
    shutil.copytree(ROOT / "dbt_project", dbt, ignore=shutil.ignore_patterns("target", "logs"))
    preparation = ManifestPreparation(dbt, ROOT)
    assert preparation.rebuilding  # no manifest yet: a dbt process parses
    assert preparation.wait()
    assert preparation.wait()  # asked again: the same answer, dbt is not run twice
    manifest = json.loads((dbt / "target" / "manifest.json").read_text())
    assert "model.clickhouse_elt.customers" in manifest["nodes"]
    assert not ManifestPreparation(dbt, ROOT).rebuilding  # fresh: nothing runs

    (dbt / "models" / "marts" / "broken.sql").write_text("select {{ ref('no_such_model') }}\n")
    broken = ManifestPreparation(dbt, ROOT)
    assert broken.rebuilding
    with pytest.raises(RuntimeError, match=r"dbt parse failed:(.|\n)*no_such_model"):
        broken.wait()
