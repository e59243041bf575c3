"""Wire primitives of ClickHouse's native protocol: varints, strings, a buffered socket reader.

Varints are written with clickhouse-driver's encoder; they are read here, by position in a
growing buffer, because the block scanners look ahead without consuming (the driver's decoder
reads from its own stream objects).

Readers work on a `Source`: a growing bytearray `buf` plus `more(end)`, which makes
`len(buf) >= end` (reading from the socket, or decompressing the next frame) or raises
`EOFError`. Positions are absolute indexes into `buf`, so scanners can look ahead freely.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable

from clickhouse_driver.varint import make_varint

_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U64 = struct.Struct("<Q")

RECV_SIZE = 1 << 20
# a varint longer than this, or a string longer than this, is a malformed packet
MAX_STRING = 1 << 30


class ProtocolError(Exception):
    """The peer sent something this server cannot parse; the connection must be closed."""


class Source:
    """Base: a growing buffer of bytes read so far; subclasses implement `more`."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def more(self, end: int) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def ensure(self, end: int) -> None:
        if end > len(self.buf):
            self.more(end)


class BytesSource(Source):
    """A fixed byte string (not copied): nothing more will come."""

    def __init__(self, data: bytes | bytearray) -> None:
        super().__init__()
        self.buf = data  # type: ignore[assignment]  # read-only use

    def more(self, end: int) -> None:
        raise EOFError(f"need {end} bytes, have {len(self.buf)}")


class SocketReader(Source):
    """Reads from a socket into `buf`; `pos` is where the next packet starts."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self.sock = sock
        self.pos = 0
        # called before waiting for more bytes (the insert path streams what it has)
        self.on_more: Callable[[], None] | None = None

    def more(self, end: int) -> None:
        if self.on_more is not None:
            self.on_more()
        buf = self.buf
        while len(buf) < end:
            chunk = self.sock.recv(max(RECV_SIZE, end - len(buf)))
            if not chunk:
                raise EOFError("client closed the connection")
            buf += chunk

    def compact(self) -> None:
        """Drop consumed bytes (call only between packets)."""
        if self.pos:
            del self.buf[: self.pos]
            self.pos = 0

    def has_buffered(self) -> bool:
        return self.pos < len(self.buf)

    # sequential helpers (advance self.pos)
    def varint(self) -> int:
        value, self.pos = read_varint(self, self.pos)
        return value

    def string(self) -> str:
        value, self.pos = read_str(self, self.pos)
        return value

    def sql(self) -> str:
        """A string holding SQL: its bytes kept exactly, UTF-8 or not (see engine.wire)."""
        data, self.pos = read_bytes(self, self.pos)
        return data.decode("utf-8", "surrogateescape")

    def raw(self, size: int) -> bytes:
        end = self.pos + size
        self.ensure(end)
        data = bytes(self.buf[self.pos : end])
        self.pos = end
        return data

    def uint8(self) -> int:
        self.ensure(self.pos + 1)
        value = self.buf[self.pos]
        self.pos += 1
        return value


def read_varint(src: Source, pos: int) -> tuple[int, int]:
    """Decode an unsigned LEB128 varint at `pos`; return (value, next position)."""
    buf = src.buf
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            src.more(pos + 1)
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ProtocolError("varint is too long")


def read_bytes(src: Source, pos: int) -> tuple[bytes, int]:
    size, pos = read_varint(src, pos)
    if size > MAX_STRING:
        raise ProtocolError(f"string of {size} bytes is too long")
    end = pos + size
    src.ensure(end)
    return bytes(src.buf[pos:end]), end


def read_str(src: Source, pos: int) -> tuple[str, int]:
    data, pos = read_bytes(src, pos)
    try:
        return data.decode(), pos
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"invalid UTF-8 in string: {exc}") from None


def read_u64(src: Source, pos: int) -> tuple[int, int]:
    end = pos + 8
    src.ensure(end)
    return _U64.unpack_from(src.buf, pos)[0], end


varint = make_varint  # unsigned LEB128, clickhouse-driver's encoder


def string(value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return varint(len(data)) + data


def u8(value: int) -> bytes:
    return bytes((value & 0xFF,))


def i32(value: int) -> bytes:
    return _I32.pack(value)


def u32(value: int) -> bytes:
    return _U32.pack(value)


def u64(value: int) -> bytes:
    return _U64.pack(value)
