"""Helpers of the ingestion tests."""

from __future__ import annotations

import shutil
from pathlib import Path

from ingestion.schema import SCHEMAS_DIR


def write_yaml(root: Path, source: str, table: str, text: str) -> Path:
    path = root / source / f"{table}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


JAFFLE_UNTIL = "2018-09-14"  # two weeks of daily files keep the integration tests quick


def copy_schemas(origin: Path, target: Path, source: str) -> Path:
    """The YAMLs of the source folder `origin` under another source name (its own raw tables)."""
    folder = target / source
    folder.mkdir(parents=True, exist_ok=True)
    for path in origin.glob("*.yml"):
        shutil.copy(path, folder / path.name)
    return target


def copy_jaffle_schemas(target: Path, source: str) -> Path:
    """The shipped Jaffle Shop YAMLs under another source name."""
    return copy_schemas(SCHEMAS_DIR / "jaffle_shop", target, source)


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FIXTURE_SCHEMAS = FIXTURES / "schemas"  # the framework's own fixture sources (see its README)
FIXTURE_LANDING = FIXTURES / "landing"


def copy_fixture_schemas(target: Path, source: str) -> Path:
    """The framework's fixture source (tests/fixtures/schemas/fixture_shop) under another name."""
    return copy_schemas(FIXTURE_SCHEMAS / "fixture_shop", target, source)
