"""The Dagster instance directory (DAGSTER_HOME) for development: SQLite storage by default."""

from __future__ import annotations

import json
from pathlib import Path

from core.settings import settings

DEV_INSTANCE_YAML = Path(__file__).with_name("dagster.yaml")

# the pooled SQLite storages (orchestration/storage.py) and their folders, Dagster's layout
STORAGE_DIRS = {
    "class: PooledSqliteRunStorage": ("history",),
    "class: PooledSqliteEventLogStorage": ("history", "runs"),
}


def instance_yaml(home: Path) -> str:
    """The dev dagster.yaml with the storages' folders under `home` spelled out (the `config:
    {}` line after each storage class), so the instance is the same whichever DAGSTER_HOME the
    process that opens it has."""
    lines = DEV_INSTANCE_YAML.read_text().splitlines(keepends=True)
    for index, line in enumerate(lines[:-1]):
        parts = STORAGE_DIRS.get(line.strip())
        if parts is not None:
            if not lines[index + 1].strip().startswith("config: {}"):
                raise ValueError(
                    f"{DEV_INSTANCE_YAML}: expected `config: {{}}` after `{line.strip()}`"
                )
            base_dir = json.dumps(str(home.joinpath(*parts)))
            lines[index + 1] = f"  config: {{base_dir: {base_dir}}}\n"
    return "".join(lines)


def ensure_dagster_home(home: Path | None = None) -> Path:
    """Create DAGSTER_HOME with the dev dagster.yaml unless one is already there."""
    home = Path(home or settings().paths.dagster_home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists():
        target.write_text(instance_yaml(home))
    return home
