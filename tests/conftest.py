"""Per-run isolation: a temporary DAGSTER_HOME, a local ClickHouse endpoint on free ports with its
own data directory, and a Postgres database of its own. Everything is removed at the end."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import pytest
from endpoint_support import local_endpoint, patched_environ

PG_ADMIN_DSN = os.environ.get(
    "ELT_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("elt-run")


@pytest.fixture(scope="session", autouse=True)
def dagster_home(run_dir: Path) -> Iterator[Path]:
    home = run_dir / "dagster_home"
    home.mkdir()
    with patched_environ({"DAGSTER_HOME": str(home)}):
        yield home


@pytest.fixture(scope="session")
def warehouse(run_dir: Path) -> Iterator:
    """One local ClickHouse endpoint for the whole run; CLICKHOUSE_* point every client at it."""
    with local_endpoint(run_dir / "warehouse") as info:
        yield info


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create a uniquely named Postgres database, yield its SQLAlchemy URL, drop it afterwards."""
    name = f"elt_test_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(PG_ADMIN_DSN)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh Postgres database shared by this run's tests that only add their own tables."""
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def dagster_postgres_url() -> Iterator[str]:
    """A Postgres database of the test's own, for tests counting what a Dagster instance stored."""
    with fresh_postgres_database() as url:
        yield url
