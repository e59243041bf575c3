"""Removing the Jaffle Shop example is one step (`elt example remove`) that leaves a working,
green project: in a temporary copy, after the step, no example file is left, the schemas
validate, dbt parses, the code location loads, `elt demo` says there is nothing to run, and the
framework's tests pass there (the unit suite and integration tests on fixture sources)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from elt.example import DATA, PATHS, TESTS

from .project_copy import ROOT, copy_project, runner

# integration tests of the framework on fixture sources of their own, run in the copy too
FRAMEWORK_INTEGRATION = [
    "tests/experience/test_materialize.py",
    "tests/ingestion/test_ing_row_faults.py",
    "tests/orchestration/test_orch_loaded.py",
]
MODULE_MARK = re.compile(r"^pytestmark = .*\bpytest\.mark\.example\b", re.M)


def test_the_example_list_is_what_the_repository_holds() -> None:
    """The listed paths are all there (or, once removed, none is), and the test modules marked
    `example` are exactly the listed ones."""
    present = [p for p in PATHS if (ROOT / p).exists()]
    assert present in ([], list(PATHS))
    marked = {
        str(p.relative_to(ROOT))
        for p in (ROOT / "tests").rglob("test_*.py")
        if MODULE_MARK.search(p.read_text())
    }
    listed = {t for t in TESTS if Path(t).name.startswith("test_")}
    assert marked == (listed if present else set())


@pytest.mark.integration
def test_removing_the_example_leaves_a_green_project(tmp_path: Path) -> None:
    copy = copy_project(tmp_path / "project")
    run, elt = runner(copy, tmp_path / "home")
    for git in (["init", "-q"], ["add", "-A"]):  # tests that ask git about the project
        subprocess.run(["git", *git], cwd=copy, check=True, capture_output=True)

    removed = elt("example", "remove", "--yes")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert [p for p in PATHS if (copy / p).exists()] == []
    assert f"removed {DATA[0]}" in removed.stdout
    again = elt("example", "remove", "--yes")
    assert again.returncode == 0 and "nothing to remove" in again.stdout

    validate = elt("schema", "validate")
    assert validate.returncode == 0, validate.stdout + validate.stderr
    dbt = "from dbt.cli.main import cli; cli()"
    parse = run("-c", dbt, "parse", "--project-dir", "dbt_project", "--profiles-dir", ".")
    assert parse.returncode == 0, parse.stdout[-3000:] + parse.stderr[-3000:]
    loads = run(
        "-c",
        "from orchestration.definitions import defs; r = defs().get_repository_def(); "
        "print(len(r.asset_graph.get_all_asset_keys()), sorted(j.name for j in r.get_all_jobs()))",
    )
    assert loads.returncode == 0, loads.stdout + loads.stderr[-3000:]
    assert loads.stdout.splitlines()[-1].split()[0] == "0"  # no source, no model: no asset

    demo = elt("demo")
    assert demo.returncode == 2 and "elt example remove" in demo.stdout

    for suite in (["-m", "not integration"], FRAMEWORK_INTEGRATION):
        tests = run("-m", "pytest", "-q", "-p", "no:cacheprovider", *suite, timeout=1200)
        assert tests.returncode == 0, tests.stdout[-6000:] + tests.stderr[-2000:]
        assert " passed" in tests.stdout and not re.search(r"\d+ failed", tests.stdout)
