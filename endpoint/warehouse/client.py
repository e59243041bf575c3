"""A clickhouse-connect client for the configured warehouse (CLICKHOUSE_* settings)."""

from __future__ import annotations

from typing import Any

import clickhouse_connect

from warehouse.settings import EndpointSettings


def get_client(**overrides: Any) -> Any:
    """`clickhouse_connect.get_client` with host/port/user/password/secure from the
    environment (`EndpointSettings`); keyword overrides win (e.g. database=, settings=)."""
    settings = EndpointSettings()
    kwargs: dict[str, Any] = {
        "host": settings.host,
        "port": settings.http_port,
        "username": settings.user,
        "password": settings.password,
        "secure": settings.secure,
    }
    kwargs.update(overrides)
    return clickhouse_connect.get_client(**kwargs)
