"""Fixtures of the orchestration tests: the code location's Definitions, published Jaffle Shop
landing data (jafgen 1 year, first week only) and an isolated dlt working directory."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from orch_support import PUBLISHED_UNTIL

from orchestration.defs.transform.project import prepare_manifest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def orch_env(run_dir: Path) -> Iterator[dict[str, str]]:
    """Landing, dlt and Dagster state of these tests in the session's temp dir; sensors and
    schedules stay stopped (no daemon surprises in `dg dev`); daily partitions end after
    the last published day (a replay of 2018 data, see orchestration/defs/partitions.py).

    The dbt project is a snapshot copy: other work on dbt_project/ (parses into its target/,
    new models) cannot change the manifest under a run of these tests."""
    dbt_copy = run_dir / "dbt_project"
    if not dbt_copy.exists():
        shutil.copytree(
            ROOT / "dbt_project",
            dbt_copy,
            ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"),
        )
    prepare_manifest(dbt_copy, ROOT)  # once, as `elt dev` does: definitions only read it
    values = {
        "ELT_DBT_PROJECT_DIR": str(dbt_copy),
        "ELT_LANDING_DIR": str(run_dir / "landing"),
        "ELT_DLT_DIR": str(run_dir / "dlt"),
        "ELT_DAGSTER_AUTOSTART": "0",
        "ELT_PARTITIONS_END_DATE": (PUBLISHED_UNTIL + dt.timedelta(days=1)).isoformat(),
    }
    previous = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    yield values
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def defs(orch_env: dict[str, str]) -> dg.Definitions:
    from orchestration.factory import build_definitions

    return build_definitions()


@pytest.fixture(scope="session")
def repo(defs: dg.Definitions) -> dg.RepositoryDefinition:
    return defs.get_repository_def()


@pytest.fixture(scope="session")
def landing(orch_env: dict[str, str]) -> Path:
    """Jaffle Shop landing files published up to PUBLISHED_UNTIL (jafgen output is cached)."""
    from ingestion.landing import landing_jaffle

    landing_dir = Path(orch_env["ELT_LANDING_DIR"])
    landing_jaffle(years=1, until=PUBLISHED_UNTIL, landing_dir=landing_dir)
    return landing_dir
