"""A clickhouse-connect client for the configured warehouse (CLICKHOUSE_* settings)."""

from __future__ import annotations

from typing import Any


def get_client(**overrides: Any) -> Any:
    """`clickhouse_connect.get_client` with host/port/user/password/secure from
    `core.settings`; keyword overrides win (e.g. database=, settings=)."""
    import clickhouse_connect

    from core.settings import settings

    s = settings().warehouse
    kwargs: dict[str, Any] = {
        "host": s.host,
        "port": s.http_port,
        "username": s.user,
        "password": s.password,
        "secure": s.secure,
    }
    kwargs.update(overrides)
    return clickhouse_connect.get_client(**kwargs)
