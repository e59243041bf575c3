"""The ClickHouse client the platform uses outside Dagster (clickhouse-connect, HTTP)."""

from __future__ import annotations

from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from core.settings import settings


def clickhouse_client(*, loader: bool = False, **overrides: Any) -> Client:
    """A client for the configured warehouse (CLICKHOUSE_* settings); `loader=True` logs in as the
    loader user. Keyword overrides win (e.g. database=, settings=, send_receive_timeout=)."""
    warehouse = settings().warehouse
    user, password = (
        warehouse.loader_credentials if loader else (warehouse.user, warehouse.password)
    )
    kwargs: dict[str, Any] = {
        "host": warehouse.host,
        "port": warehouse.http_port,
        "username": user,
        "password": password,
        "secure": warehouse.secure,
    }
    kwargs.update(overrides)
    return clickhouse_connect.get_client(**kwargs)
