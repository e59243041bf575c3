"""A team adds its first own source beside the example: the project's own tests stay green.

In a temporary copy of the project: `elt schema new` drafts a second source's YAML from a sample,
`elt schema scaffold-dbt` writes its staging model and dbt sources, `elt schema validate`
accepts it, and the tests that look at the schemas, the generated dbt sources and the code
location's definitions pass there unchanged.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import BIN, ROOT

pytestmark = pytest.mark.integration

# the tests that read ingestion/schemas/ and dbt_project/ as a whole
SUITE = [
    "tests/ingestion/test_ing_schema.py",
    "tests/ingestion/test_ing_landing_dbt.py",
    "tests/dbt/test_dbt_sources.py",
    "tests/orchestration/test_orch_definitions.py",
]
SAMPLE = """widget_id,region,updated_at
1,north,2024-01-01T08:00:00
2,south,2024-01-01T09:00:00
3,north,2024-01-02T10:00:00
"""


def _project_files() -> list[str]:
    """The project's files as git sees them (tracked and new, not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    return [name for name in listed.decode().split("\0") if name and (ROOT / name).is_file()]


def copy_project(target: Path) -> Path:
    for name in _project_files():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target / name)
    return target


@pytest.fixture(scope="module")
def with_second_source(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("second-source")
    copy = copy_project(base / "project")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELT_", "CLICKHOUSE_"))}
    env.update({"PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "ELT_HOME": str(base / "home")})

    def run(*argv: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        # cwd = the copy, so `-m`/`-c` import the copy's packages, not the checkout's
        return subprocess.run(
            [sys.executable, *argv], cwd=copy, env=env, capture_output=True, text=True,
            timeout=timeout, stdin=subprocess.DEVNULL,
        )  # fmt: skip

    def elt(*args: str) -> subprocess.CompletedProcess[str]:
        return run("-c", "from elt.cli import app; app()", *args)

    sample = base / "widgets.csv"
    sample.write_text(SAMPLE)
    for step in (
        elt("schema", "new", "acme", "widgets", "--from", str(sample)),
        elt("schema", "scaffold-dbt", "acme", "widgets"),
    ):
        assert step.returncode == 0, step.stdout + step.stderr
    return copy, run, elt


def test_the_second_source_is_drafted_scaffolded_and_valid(with_second_source) -> None:
    copy, _, elt = with_second_source
    assert (copy / "ingestion/schemas/acme/widgets.yml").exists()
    staging = copy / "dbt_project/models/staging/acme"
    assert sorted(p.name for p in staging.iterdir()) == [
        "_acme__sources.yml",
        "stg_acme__widgets.sql",
        "stg_acme__widgets.yml",
    ]
    validate = elt("schema", "validate")
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert "in 2 source(s)" in validate.stdout


def test_the_projects_schema_dbt_and_definitions_tests_pass_with_it(with_second_source) -> None:
    _, run, _ = with_second_source
    # the landing-publishing tests of test_ing_landing_dbt do not read the schemas: left out
    args = ["-q", "-x", "-p", "no:cacheprovider", "-k", "not publish", "--durations=5"]
    result = run("-m", "pytest", *args, *SUITE)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
