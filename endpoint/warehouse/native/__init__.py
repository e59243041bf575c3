"""ClickHouse native TCP protocol for the local endpoint (clickhouse-driver: dlt, dbt native).

Modules: `wire` (varints, strings, buffered socket reader), `protocol` (packets at revision
54429), `blocks` (BlockInfo, header blocks, walking a Native block to find its end),
`compression` (LZ4 frames with CityHash128 checksums), `statements` (routing INSERTs),
`pumps` (engine worker threads), `session` (one connection), `server` (`NativeServer`).

Block bytes are never decoded: chDB's `FORMAT Native` is the TCP block body without BlockInfo,
so results go out as chDB produced them and inserts go into chDB as the client sent them.
"""

from warehouse.native.server import NativeServer

__all__ = ["NativeServer"]
