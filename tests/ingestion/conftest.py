"""Fixtures of the ingestion tests: schema dirs, a small cached Jaffle Shop landing, helpers."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from ingestion_helpers import JAFFLE_UNTIL


@pytest.fixture
def schemas_dir(tmp_path: Path) -> Path:
    return tmp_path / "schemas"


@pytest.fixture(scope="session")
def jaffle_raw_dir() -> Path:
    """jafgen 1 year, generated once and cached across test sessions (~15 s the first time)."""
    from ingestion.landing import generate

    cache = Path(os.environ.get("ELT_TEST_JAFGEN_CACHE", Path(tempfile.gettempdir()) / "elt-tests"))
    return generate(1, cache / "jafgen")


@pytest.fixture
def jaffle_landing(jaffle_raw_dir: Path, tmp_path: Path) -> Iterator[Path]:
    """A fresh landing dir with the Jaffle Shop published up to JAFFLE_UNTIL."""
    import datetime as dt

    from ingestion.landing import publish

    landing = tmp_path / "landing"
    publish(jaffle_raw_dir, landing, dt.date.fromisoformat(JAFFLE_UNTIL))
    yield landing
