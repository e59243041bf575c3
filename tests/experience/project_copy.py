"""A temporary copy of the project, and running its own code there (not the checkout's)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

Run = Callable[..., subprocess.CompletedProcess[str]]


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


def runner(copy: Path, home: Path) -> tuple[Run, Run]:
    """`run(*python_args)` and `elt(*args)` in the copy, with an environment of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELT_", "CLICKHOUSE_"))}
    env.update({"PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "ELT_HOME": str(home)})

    def run(*argv: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        # cwd = the copy, so `-m`/`-c` import the copy's packages, not the checkout's
        return subprocess.run(
            [sys.executable, *argv], cwd=copy, env=env, capture_output=True, text=True,
            timeout=timeout, stdin=subprocess.DEVNULL,
        )  # fmt: skip

    def elt(*args: str) -> subprocess.CompletedProcess[str]:
        return run("-c", "from elt.cli import app; app()", *args)

    return run, elt
