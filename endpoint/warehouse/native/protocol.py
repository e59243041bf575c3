"""Packets of ClickHouse's native protocol at revision 54429 (server side).

What the client sends (see clickhouse_driver/connection.py, clientinfo.py) and what the server
answers. Revision 54429 keeps it small: settings travel as strings, blocks carry no custom
serialization byte, there is no addendum after Hello and no parameters after the query.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from warehouse.native.wire import ProtocolError, SocketReader, i32, string, u8, varint

REVISION = 54429
MIN_CLIENT_REVISION = 54429
REVISION_WITH_CLIENT_INFO = 54032
REVISION_WITH_QUOTA_KEY_IN_CLIENT_INFO = 54060
REVISION_WITH_VERSION_PATCH = 54401


class Client:
    HELLO = 0
    QUERY = 1
    DATA = 2
    CANCEL = 3
    PING = 4
    TABLES_STATUS_REQUEST = 5


class Server:
    HELLO = 0
    DATA = 1
    EXCEPTION = 2
    PROGRESS = 3
    PONG = 4
    END_OF_STREAM = 5
    PROFILE_INFO = 6
    TABLES_STATUS_RESPONSE = 9


class Stage:
    COMPLETE = 2


@dataclass
class Hello:
    client_name: str
    version_major: int
    version_minor: int
    revision: int
    database: str
    user: str
    password: str


@dataclass
class Query:
    query_id: str
    query: str
    settings: dict[str, str] = field(default_factory=dict)
    stage: int = Stage.COMPLETE
    compression: bool = False
    client_name: str = ""
    os_user: str = ""
    client_hostname: str = ""


def read_hello(reader: SocketReader) -> Hello:
    """Read the body of a client Hello (the packet type is already consumed)."""
    return Hello(
        client_name=reader.string(),
        version_major=reader.varint(),
        version_minor=reader.varint(),
        revision=reader.varint(),
        database=reader.string(),
        user=reader.string(),
        password=reader.string(),
    )


def read_query(reader: SocketReader, revision: int) -> Query:
    """Read the body of a Query packet sent with protocol `revision`."""
    query_id = reader.string()
    client_name = os_user = hostname = ""
    if revision >= REVISION_WITH_CLIENT_INFO:
        kind = reader.uint8()
        if kind != 0:
            reader.string()  # initial_user
            reader.string()  # initial_query_id
            reader.string()  # initial_address
            interface = reader.uint8()
            if interface != 1:
                raise ProtocolError(f"client interface {interface} is not TCP")
            os_user = reader.string()
            hostname = reader.string()
            client_name = reader.string()
            reader.varint()  # version major
            reader.varint()  # version minor
            reader.varint()  # client revision
            if revision >= REVISION_WITH_QUOTA_KEY_IN_CLIENT_INFO:
                reader.string()  # quota_key
            if revision >= REVISION_WITH_VERSION_PATCH:
                reader.varint()  # version patch
    settings: dict[str, str] = {}
    while True:
        name = reader.string()
        if not name:
            break
        reader.varint()  # flags (important / custom)
        settings[name] = reader.string()
    stage = reader.varint()
    compression = reader.varint()
    query = reader.sql()
    return Query(
        query_id=query_id,
        query=query,
        settings=settings,
        stage=stage,
        compression=bool(compression),
        client_name=client_name,
        os_user=os_user,
        client_hostname=hostname,
    )


def read_tables_status_request(reader: SocketReader) -> list[tuple[str, str]]:
    count = reader.varint()
    if count > 1 << 16:
        raise ProtocolError("too many tables in TablesStatusRequest")
    return [(reader.string(), reader.string()) for _ in range(count)]


# --- server packets ------------------------------------------------------------------------


def hello(
    version: tuple[int, int, int], timezone: str, display_name: str, name: str = "ClickHouse"
) -> bytes:
    major, minor, patch = version
    return b"".join(
        (
            varint(Server.HELLO),
            string(name),
            varint(major),
            varint(minor),
            varint(REVISION),
            string(timezone),
            string(display_name),
            varint(patch),
        )
    )


def exception(code: int, message: str, name: str = "DB::Exception") -> bytes:
    """An Exception packet; `message` is the text after 'DB::Exception: '."""
    return b"".join(
        (varint(Server.EXCEPTION), i32(code), string(name), string(message), string(""), u8(0))
    )


def progress(
    rows: int, bytes_: int, total_rows: int = 0, written_rows: int = 0, written_bytes: int = 0
) -> bytes:
    return b"".join(
        (
            varint(Server.PROGRESS),
            varint(rows),
            varint(bytes_),
            varint(total_rows),
            varint(written_rows),
            varint(written_bytes),
        )
    )


def profile_info(rows: int, blocks: int, bytes_: int) -> bytes:
    return b"".join(
        (
            varint(Server.PROFILE_INFO),
            varint(rows),
            varint(blocks),
            varint(bytes_),
            u8(0),  # applied_limit
            varint(0),  # rows_before_limit
            u8(0),  # calculated_rows_before_limit
        )
    )


def tables_status_response(tables: list[tuple[str, str]]) -> bytes:
    parts = [varint(Server.TABLES_STATUS_RESPONSE), varint(len(tables))]
    for database, table in tables:
        parts += [string(database), string(table), u8(0)]  # not replicated
    return b"".join(parts)


PONG = varint(Server.PONG)
END_OF_STREAM = varint(Server.END_OF_STREAM)
# packet type + empty temporary-table name, then the block
DATA_PREFIX = varint(Server.DATA) + string("")
