"""Keep dbt's manifest (dbt_project/target/manifest.json) in step with the project's files.

Dagster builds the dbt assets from the manifest. It is reused while nothing it depends on changed
(fast re-runs) and re-parsed (`dbt parse`, partial parsing) when a model, YAML, macro or the
profile is newer than it: the "stale manifest" case, where a new model would be missing from the
asset graph.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from core.settings import settings

WATCHED_SUFFIXES = {".sql", ".yml", ".yaml", ".csv", ".md", ".py"}
WATCHED_DIRS = ("models", "macros", "seeds", "snapshots", "tests", "analyses")


def dbt_project_dir() -> Path:
    return settings().project.dbt_project_dir


def dbt_profiles_dir() -> Path:
    return settings().project.dbt_profiles_dir


def dbt_executable() -> str:
    """The dbt of this environment (next to the running Python), else the one on PATH."""
    local = Path(sys.executable).parent / "dbt"
    return str(local) if local.exists() else (shutil.which("dbt") or "dbt")


def manifest_path(project_dir: Path | None = None) -> Path:
    return (project_dir or dbt_project_dir()) / "target" / "manifest.json"


def _inputs(project_dir: Path, profiles_dir: Path) -> Iterator[Path]:
    yield project_dir / "dbt_project.yml"
    yield profiles_dir / "profiles.yml"
    for name in WATCHED_DIRS:
        folder = project_dir / name
        if folder.is_dir():
            for path in folder.rglob("*"):
                if path.suffix in WATCHED_SUFFIXES and path.is_file():
                    yield path


def stale_inputs(project_dir: Path | None = None, profiles_dir: Path | None = None) -> list[Path]:
    """Project files newer than the manifest (all of them when there is no manifest)."""
    project_dir = project_dir or dbt_project_dir()
    profiles_dir = profiles_dir or dbt_profiles_dir()
    manifest = manifest_path(project_dir)
    built = manifest.stat().st_mtime if manifest.exists() else float("-inf")
    return [
        p for p in _inputs(project_dir, profiles_dir) if p.exists() and p.stat().st_mtime > built
    ]


def ensure_manifest(project_dir: Path | None = None, profiles_dir: Path | None = None) -> bool:
    """Run `dbt parse` if the manifest is missing or stale; True if it was (re)built."""
    project_dir = project_dir or dbt_project_dir()
    profiles_dir = profiles_dir or dbt_profiles_dir()
    if not stale_inputs(project_dir, profiles_dir):
        return False
    command = [
        dbt_executable(),
        "parse",
        "--quiet",
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(profiles_dir),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"dbt parse failed:\n{done.stdout}{done.stderr}")
    manifest_path(project_dir).touch()  # partial parse may leave the file's time unchanged
    return True
