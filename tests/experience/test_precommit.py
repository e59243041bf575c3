"""`.pre-commit-config.yaml`: valid for pre-commit, and its hooks really run ruff and sqlfluff."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from .gitrepo import ROOT, git, new_repo, uv_env, write

CONFIG = ROOT / ".pre-commit-config.yaml"


def pre_commit(*args: str, cwd: Path, env: dict[str, str] | None = None):
    return subprocess.run(
        ["pre-commit", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def test_config_passes_pre_commit_validate_config() -> None:
    result = pre_commit("validate-config", str(CONFIG), cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hooks_cover_ruff_lint_format_and_sqlfluff_with_jinja() -> None:
    hooks = {
        h["id"]: h for repo in yaml.safe_load(CONFIG.read_text())["repos"] for h in repo["hooks"]
    }
    assert {"ruff-check", "ruff-format", "sqlfluff-lint"} <= hooks.keys()
    assert "--templater jinja" in hooks["sqlfluff-lint"]["entry"]
    assert all("uv run --locked" in h["entry"] for h in hooks.values())


@pytest.mark.integration
def test_hooks_fix_python_and_block_bad_sql(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    (repo / ".pre-commit-config.yaml").write_text(CONFIG.read_text())
    write(repo, "pyproject.toml", (ROOT / "pyproject.toml").read_text())
    py = write(repo, "pkg/mod.py", "import os\nx = {'a':1}\n")
    write(repo, "dbt_project/models/bad.sql", "SELECT A FROM T\n")
    write(repo, "dbt_project/models/good.sql", "select a from t\n")
    git(repo, "add", "-A")
    env = uv_env(PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"))

    first = pre_commit("run", "--all-files", cwd=repo, env=env)
    assert first.returncode != 0
    out = first.stdout
    assert "ruff check" in out and "sqlfluff lint" in out
    assert py.read_text() == 'x = {"a": 1}\n'  # unused import removed, then formatted
    assert "bad.sql" in out and "good.sql" not in out

    write(repo, "dbt_project/models/bad.sql", "select a from t\n")
    git(repo, "add", "-A")
    second = pre_commit("run", "--all-files", cwd=repo, env=env)
    assert second.returncode == 0, second.stdout + second.stderr
