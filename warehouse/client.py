"""A clickhouse-connect client for the configured warehouse (CLICKHOUSE_* settings)."""

from __future__ import annotations

from typing import Any


def get_client(**overrides: Any) -> Any:
    """`clickhouse_connect.get_client` with host/port/user/password/secure from
    `elt.config.warehouse_settings()`; keyword overrides win (e.g. database=, settings=)."""
    import clickhouse_connect

    from elt.config import warehouse_settings

    s = warehouse_settings()
    kwargs: dict[str, Any] = {
        "host": s.host,
        "port": s.http_port,
        "username": s.user,
        "password": s.password,
        "secure": s.secure,
    }
    kwargs.update(overrides)
    return clickhouse_connect.get_client(**kwargs)
