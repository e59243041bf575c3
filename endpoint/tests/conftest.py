"""Fixtures for the endpoint compatibility suite: one endpoint per run on free ports in a
temporary data directory, CLICKHOUSE_* pointing every client at it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import clickhouse_connect
import pytest

from warehouse.client import get_client
from warehouse.lifecycle import ServerInfo, client_environment, temporary_endpoint


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerInfo]:
    """One local endpoint for the whole run; CLICKHOUSE_* point every client at it."""
    data_dir = tmp_path_factory.mktemp("endpoint") / "warehouse"
    with temporary_endpoint(data_dir) as info, pytest.MonkeyPatch.context() as env:
        for key, value in client_environment(info).items():
            env.setenv(key, value)
        yield info


@pytest.fixture
def run_async(warehouse) -> Callable[[Callable[[Any], Awaitable[Any]]], Any]:
    """`run_async(work)`: the result of `await work(client)` with a clickhouse-connect async
    client on the session's endpoint."""

    def run(work: Callable[[Any], Awaitable[Any]]) -> Any:
        async def main() -> Any:
            client = await clickhouse_connect.create_async_client(
                host=warehouse.host, port=warehouse.http_port
            )
            try:
                return await work(client)
            finally:
                await client.close()

        return asyncio.run(main())

    return run


@pytest.fixture
def ch(warehouse) -> Iterator:
    """A clickhouse-connect client on the session's endpoint."""
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
