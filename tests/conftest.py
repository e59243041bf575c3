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
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    yield home
    if previous is None:
        os.environ.pop("DAGSTER_HOME", None)
    else:
        os.environ["DAGSTER_HOME"] = previous


@pytest.fixture(scope="session")
def warehouse(run_dir: Path) -> Iterator:
    """One local ClickHouse endpoint for the whole run; CLICKHOUSE_* point every client at it."""
    from warehouse.lifecycle import start_background, stop

    data_dir = run_dir / "warehouse"
    info = start_background(data_dir=data_dir, host="127.0.0.1", http_port=0, tcp_port=0)
    overrides = {
        "CLICKHOUSE_HOST": info.host,
        "CLICKHOUSE_HTTP_PORT": str(info.http_port),
        "CLICKHOUSE_TCP_PORT": str(info.tcp_port),
        "CLICKHOUSE_USER": "default",
        "CLICKHOUSE_PASSWORD": "",
        "CLICKHOUSE_SECURE": "false",
    }
    previous = {key: os.environ.get(key) for key in overrides}
    os.environ.update(overrides)
    try:
        yield info
    finally:
        stop(data_dir=data_dir)
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


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
