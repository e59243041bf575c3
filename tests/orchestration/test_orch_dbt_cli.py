"""The `dbt` resource (orchestration/defs/transform/cli.py) and dbt's partial parsing across
invocations: the project's parse state follows the last invocation, so a new environment (another
warehouse port) re-parses once, a new partition window not at all. A fixture dbt project of its
own, with the project's window macro; `dbt parse` needs no warehouse."""

from __future__ import annotations

import importlib.metadata
import json
import os
import sys
from pathlib import Path

import pytest
from dagster_dbt import DbtCliResource
from endpoint_support import patched_environ
from packaging.version import Version

from orchestration.defs.transform.assets import PARTIAL_PARSE, keep_partial_parse
from orchestration.defs.transform.cli import EltDbtCliResource, dbt_version
from orchestration.defs.transform.project import dbt_executable

ROOT = Path(__file__).resolve().parents[2]

DBT_PROJECT = """
name: fx_cli
version: "1.0.0"
config-version: 2
profile: clickhouse_elt
model-paths: ["models"]
macro-paths: ["macros"]
"""
WINDOWED = """{{ config(materialized='table') }}
select toDateTime('2024-01-01') as happened_at where {{ incremental_window('happened_at') }}
"""
WINDOW_MACRO = ROOT / "dbt_project" / "macros" / "incremental_window.sql"


def test_the_overridden_members_still_exist_in_dagster_dbt() -> None:
    # a dagster-dbt upgrade that renames them would silently bring the costs back
    for name in ("_cli_version", "_initialize_dbt_core_adapter"):
        assert name in vars(DbtCliResource), name
        assert name in vars(EltDbtCliResource), name


def test_the_dbt_version_of_this_environment_comes_without_a_subprocess() -> None:
    own = str(Path(sys.executable).parent / "dbt")
    assert dbt_version(own) == Version(importlib.metadata.version("dbt-core"))
    resource = EltDbtCliResource(project_dir=str(ROOT / "dbt_project"), profiles_dir=str(ROOT))
    assert resource._cli_version == dbt_version(resource.dbt_executable)
    assert resource._initialize_dbt_core_adapter(["build"]) is None


def test_another_executable_is_asked_once(tmp_path: Path) -> None:
    fake = tmp_path / "dbt"
    fake.write_text("#!/bin/sh\necho 'Core:'; echo '  - installed: 1.11.3'\n")
    fake.chmod(0o755)
    assert dbt_version(str(fake)) == Version("1.11.3")
    fake.write_text("#!/bin/sh\nexit 1\n")  # not asked again in this process
    assert dbt_version(str(fake)) == Version("1.11.3")


def test_unreadable_version_output_names_the_executable(tmp_path: Path) -> None:
    fake = tmp_path / "dbt"
    fake.write_text("#!/bin/sh\necho 'no version here'\n")
    fake.chmod(0o755)
    with pytest.raises(ValueError, match="cannot read the dbt version from"):
        dbt_version(str(fake))


def _parse(resource: EltDbtCliResource) -> tuple[list[str], Path]:
    """dbt's messages of one `dbt parse`, debug level included (its dbt.log, JSON lines)."""
    invocation = resource.cli(["parse"], raise_on_error=True)
    invocation.wait()
    log = (invocation.target_path / "dbt.log").read_text().splitlines()
    return [str(json.loads(line)["info"]["msg"]) for line in log], invocation.target_path


def _reparsed(messages: list[str]) -> bool:
    return any("Unable to do partial parsing" in m for m in messages)


def _unchanged(messages: list[str]) -> bool:
    return any("Nothing changed, skipping partial parsing" in m for m in messages)


@pytest.mark.timeout(300)
def test_the_next_invocation_parses_partially_in_a_new_environment_and_window(
    tmp_path: Path,
) -> None:
    project = tmp_path / "dbt"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(DBT_PROJECT)
    (project / "models" / "windowed.sql").write_text(WINDOWED)
    (project / "macros").mkdir()
    (project / "macros" / WINDOW_MACRO.name).write_text(WINDOW_MACRO.read_text())
    resource = EltDbtCliResource(
        project_dir=str(project), profiles_dir=str(ROOT), dbt_executable=dbt_executable()
    )
    # prepared elsewhere (the image build, another port) ...
    with patched_environ({"CLICKHOUSE_HTTP_PORT": "18123", "ELT_WINDOW_START": "2024-01-01"}):
        messages, target = _parse(resource)
        keep_partial_parse(target, project)
    assert (project / "target" / PARTIAL_PARSE).is_file()
    # ... run here: the first invocation re-parses (dbt's profile check), the next ones do not
    with patched_environ({"CLICKHOUSE_HTTP_PORT": "28123", "ELT_WINDOW_START": "2024-01-01"}):
        messages, target = _parse(resource)
        assert _reparsed(messages)
        keep_partial_parse(target, project)
        messages, target = _parse(resource)
        assert not _reparsed(messages), messages
        assert _unchanged(messages), messages
        keep_partial_parse(target, project)
    # the window is read when a model runs, never while parsing: a new one re-parses nothing
    with patched_environ({"CLICKHOUSE_HTTP_PORT": "28123", "ELT_WINDOW_START": "2024-01-02"}):
        messages, _ = _parse(resource)
    assert _unchanged(messages), messages


def test_keeping_the_parse_state_replaces_it_whole(tmp_path: Path) -> None:
    project, invocation = tmp_path / "project", tmp_path / "invocation"
    (project / "target").mkdir(parents=True)
    invocation.mkdir()
    (project / "target" / PARTIAL_PARSE).write_bytes(b"old")
    keep_partial_parse(invocation, project)  # nothing written by this invocation: kept
    assert (project / "target" / PARTIAL_PARSE).read_bytes() == b"old"
    (invocation / PARTIAL_PARSE).write_bytes(b"new state")
    keep_partial_parse(invocation, project)
    assert (project / "target" / PARTIAL_PARSE).read_bytes() == b"new state"
    assert sorted(os.listdir(project / "target")) == [PARTIAL_PARSE]  # no temporary left
