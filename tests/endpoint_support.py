"""A local ClickHouse endpoint for tests: started on free ports in its own data directory, with
CLICKHOUSE_* pointing every client at it while it runs (importable as `endpoint_support`)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from warehouse.lifecycle import client_environment, temporary_endpoint


@contextmanager
def patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the block; restore the previous values after it."""
    previous = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def local_endpoint(data_dir: Path) -> Iterator[Any]:
    """Start an endpoint on `data_dir` (free ports), export its CLICKHOUSE_*, stop it after."""
    with temporary_endpoint(data_dir) as info, patched_environ(client_environment(info)):
        yield info
