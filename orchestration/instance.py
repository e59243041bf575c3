"""The Dagster instance directory (DAGSTER_HOME) for development: SQLite storage by default."""

from __future__ import annotations

import shutil
from pathlib import Path

from core.settings import settings

DEV_INSTANCE_YAML = Path(__file__).with_name("dagster.yaml")


def ensure_dagster_home(home: Path | None = None) -> Path:
    """Create DAGSTER_HOME with the dev dagster.yaml unless one is already there."""
    home = Path(home or settings().paths.dagster_home)
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists():
        shutil.copyfile(DEV_INSTANCE_YAML, target)
    return home
