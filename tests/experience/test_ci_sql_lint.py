"""The workflow's "lint the changed SQL" step, run for real in a temp git repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .gitrepo import git, new_repo, uv_env, write
from .test_ci_workflow import load_workflow

BAD_SQL = "SELECT A,B FROM T\n"
GOOD_SQL = "select a from t\n"


def lint_step_script() -> str:
    steps = load_workflow()["jobs"]["sql-lint"]["steps"]
    (step,) = [s for s in steps if "sqlfluff lint" in s.get("run", "")]
    return step["run"]


def run_step(repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-eo", "pipefail", "-c", lint_step_script()],
        cwd=repo,
        env=uv_env(BASE_REF="main"),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = new_repo(tmp_path / "repo")
    write(repo, "dbt_project/models/untouched_bad.sql", BAD_SQL)
    write(repo, "dbt_project/models/edited.sql", GOOD_SQL)
    write(repo, "README.md", "hello\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "main")
    # What actions/checkout with fetch-depth 0 leaves: the base branch as a remote-tracking ref.
    git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    git(repo, "switch", "-qc", "feature")
    return repo


@pytest.mark.integration
def test_only_changed_sql_is_linted_with_annotations(repo: Path) -> None:
    write(repo, "dbt_project/models/edited.sql", BAD_SQL)
    write(repo, "dbt_project/models/staging/new_model.sql", GOOD_SQL)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "change")
    result = run_step(repo)
    assert result.returncode != 0
    annotations = [
        line
        for line in result.stdout.splitlines()
        if line.startswith("::") and not line.startswith(("::group::", "::endgroup::"))
    ]
    assert annotations, result.stdout + result.stderr
    assert all(line.startswith("::error ") for line in annotations)  # --annotation-level error
    assert any("file=dbt_project/models/edited.sql" in line for line in annotations)
    assert "untouched_bad.sql" not in result.stdout
    assert "new_model.sql" in result.stdout  # linted (listed) but clean: no annotation
    assert not any("new_model.sql" in line for line in annotations)


@pytest.mark.integration
def test_no_sql_change_passes_without_running_sqlfluff(repo: Path) -> None:
    write(repo, "README.md", "changed\n")
    git(repo, "rm", "-q", "dbt_project/models/untouched_bad.sql")  # deletions are not linted
    git(repo, "commit", "-qam", "docs")
    result = run_step(repo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No SQL files changed." in result.stdout
