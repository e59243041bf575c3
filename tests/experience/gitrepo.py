"""A throw-away git repository for workflow and pre-commit tests (never the project's own)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A self-contained sqlfluff config close to the project's: ClickHouse dialect, jinja templater.
SQLFLUFF_CFG = """[sqlfluff]
dialect = clickhouse
templater = jinja
max_line_length = 100

[sqlfluff:rules:capitalisation.keywords]
capitalisation_policy = lower
"""


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    out = subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
    return out.stdout.decode()


def write(repo: Path, rel: str, text: str) -> Path:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def new_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    write(path, ".sqlfluff", SQLFLUFF_CFG)
    return path


def uv_on_path(env: dict[str, str]) -> dict[str, str]:
    """`env` with uv on PATH, as the workflow's setup-uv step and a developer's shell have it
    (a fresh machine may only have the copy scripts/ensure-uv.sh installed)."""
    uv = subprocess.run(
        [str(ROOT / "scripts" / "ensure-uv.sh")], capture_output=True, text=True, check=True
    ).stdout.strip()
    return {**env, "PATH": f"{Path(uv).parent}{os.pathsep}{env.get('PATH', '')}"}


def uv_env(**extra: str) -> dict[str, str]:
    """Environment in which `uv run --locked …` inside the temp repo uses the project's venv."""
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env.update({"UV_PROJECT": str(ROOT), **extra})
    return uv_on_path(env)
