"""ClickHouse native TCP protocol for the local endpoint (clickhouse-driver, dlt, dbt native)."""

from warehouse.native.server import NativeServer

__all__ = ["NativeServer"]
