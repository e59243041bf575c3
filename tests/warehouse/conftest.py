"""Fixtures for the endpoint compatibility suite (`warehouse` itself is in tests/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest


@pytest.fixture
def ch(warehouse) -> Iterator:
    """A clickhouse-connect client on the session's endpoint."""
    from warehouse.client import get_client

    client = get_client()
    yield client
    client.close()


@pytest.fixture
def db(ch) -> Iterator[str]:
    """A fresh Atomic database for one test (dropped afterwards)."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    ch.command(f"CREATE DATABASE {name}")
    yield name
    ch.command(f"DROP DATABASE IF EXISTS {name} SYNC")
