"""The GitHub Actions workflow: valid against the published workflow schema, its commands real."""

from __future__ import annotations

import json
import re
import shlex
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer.main
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def load_workflow(path: Path = WORKFLOW) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the bare key `on` as boolean True; GitHub reads it as the string "on".
    if True in data:
        data["on"] = data.pop(True)
    return data


def workflow_schema() -> dict[str, Any]:
    """schemastore's github-workflow.json, as vendored (offline) by the check-jsonschema package."""
    vendor = resources.files("check_jsonschema") / "builtin_schemas" / "vendor"
    return json.loads((vendor / "github-workflows.json").read_text())


def run_scripts(workflow: dict[str, Any], job: str | None = None) -> list[str]:
    jobs = workflow["jobs"] if job is None else {job: workflow["jobs"][job]}
    return [step["run"] for j in jobs.values() for step in j["steps"] if "run" in step]


def commands(scripts: list[str], program: str) -> list[list[str]]:
    """Every command line (as argv) that starts with `program` or `uv run --locked program`."""
    found = []
    for script in scripts:
        for raw in script.replace("\\\n", " ").splitlines():
            line = raw.strip().split(" || ")[0]
            if not line or line.startswith("#"):
                continue
            try:
                argv = shlex.split(line)
            except ValueError:
                continue
            if argv[:3] == ["uv", "run", "--locked"]:
                argv = argv[3:]
            if argv and argv[0] == program:
                found.append(argv[1:])
    return found


def test_workflow_is_valid_against_the_published_schema() -> None:
    jsonschema.Draft7Validator(workflow_schema()).validate(load_workflow())


def test_schema_rejects_a_broken_workflow() -> None:
    broken = load_workflow()
    broken["jobs"]["tests"].pop("runs-on")
    broken["jobs"]["tests"]["steps"][0]["uses-typo"] = "actions/checkout@v4"
    errors = list(jsonschema.Draft7Validator(workflow_schema()).iter_errors(broken))
    assert errors


def test_triggers_pull_requests_and_main() -> None:
    on = load_workflow()["on"]
    assert "pull_request" in on
    assert on["push"]["branches"] == ["main"]


def ci_make_targets() -> list[str]:
    """The `make` targets .ci/run calls, in order."""
    return re.findall(r"^\s*make\s+([\w-]+)\s*$", (ROOT / ".ci" / "run").read_text(), re.M)


def test_tests_job_runs_the_same_commands_as_ci_run() -> None:
    targets = ci_make_targets()
    assert {"lint", "test"} <= set(targets)
    job_make = [argv for argv in commands(run_scripts(load_workflow(), "tests"), "make")]
    assert [argv[0] for argv in job_make] == targets


def makefile_targets() -> set[str]:
    return set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))


def test_every_make_target_in_the_workflow_exists() -> None:
    used = {argv[0] for argv in commands(run_scripts(load_workflow()), "make")}
    assert used and used <= makefile_targets()


def test_every_elt_command_in_the_workflow_parses() -> None:
    """Each `elt …` line resolves to a real command whose options parse (nothing is invoked)."""
    from elt.cli import app

    root = typer.main.get_command(app)
    lines = commands(run_scripts(load_workflow()), "elt")
    assert {tuple(argv[:1]) for argv in lines} >= {("demo",), ("warehouse",)}
    for argv in lines:
        cmd, args, name = root, list(argv), "elt"
        while hasattr(cmd, "get_command") and args:
            parent = cmd.make_context(name, [], resilient_parsing=True)
            name, args = args[0], args[1:]
            cmd = cmd.get_command(parent, name)
            assert cmd is not None, f"unknown command in the workflow: elt {' '.join(argv)}"
        cmd.make_context(name, args)  # raises on an unknown option or a bad value


def test_pull_request_dbt_build_uses_state_and_defer() -> None:
    scripts = run_scripts(load_workflow(), "dbt")
    dbt = [" ".join(argv) for argv in commands(scripts, "dbt")]
    assert any("--select state:modified+" in c and "--defer" in c and "--state" in c for c in dbt)
    assert "build" in dbt  # the full build when main has no manifest yet


def test_main_saves_the_manifest_the_pull_requests_restore() -> None:
    steps = load_workflow()["jobs"]["dbt"]["steps"]
    uses = {s.get("uses", "").split("@")[0]: s for s in steps if "uses" in s}
    restore, save = uses["actions/cache/restore"], uses["actions/cache/save"]
    assert restore["with"]["path"] == save["with"]["path"]
    prefix = save["with"]["key"].split("${{")[0]
    assert restore["with"]["restore-keys"].strip() == prefix
    assert "manifest.json" in uses["actions/upload-artifact"]["with"]["path"]


@pytest.mark.parametrize("job", ["sql-lint", "tests", "dbt"])
def test_jobs_install_the_locked_environment(job: str) -> None:
    assert ["setup"] in commands(run_scripts(load_workflow(), job), "make")
