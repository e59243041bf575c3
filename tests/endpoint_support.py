"""A local ClickHouse endpoint for tests: started on free ports in its own data directory, with
CLICKHOUSE_* pointing every client at it while it runs (importable as `endpoint_support`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.environ import patched_environ
from warehouse.lifecycle import client_environment, temporary_endpoint


@contextmanager
def local_endpoint(data_dir: Path) -> Iterator[Any]:
    """Start an endpoint on `data_dir` (free ports), export its CLICKHOUSE_*, stop it after."""
    with temporary_endpoint(data_dir) as info, patched_environ(client_environment(info)):
        yield info
