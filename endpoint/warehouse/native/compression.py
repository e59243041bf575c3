"""ClickHouse compressed-block framing (what `compression=True` clients send and expect).

A frame is: CityHash128 checksum (16 bytes: high, low uint64 little-endian) of the rest,
method byte (0x82 LZ4, 0x90 ZSTD, 0x02 none), uint32 size of method+sizes+payload,
uint32 uncompressed size, payload. A Data packet's block may span several frames.
"""

from __future__ import annotations

import struct

import lz4.block
from clickhouse_cityhash.cityhash import CityHash128

from warehouse.native.wire import ProtocolError, SocketReader, Source

METHOD_NONE = 0x02
METHOD_LZ4 = 0x82
METHOD_ZSTD = 0x90
# ClickHouse's max_compress_block_size: writers cut frames at this uncompressed size
FRAME_SIZE = 1 << 20
MAX_FRAME = 1 << 30
_HEAD = struct.Struct("<BII")
_HASH = struct.Struct("<QQ")
_MASK = (1 << 64) - 1


class ChecksumError(ProtocolError):
    """A compressed frame's checksum does not match its contents."""


def compress_frames(data: bytes | memoryview, out: list[bytes]) -> None:
    """Append LZ4 frames holding `data` (cut every FRAME_SIZE bytes) to `out`."""
    view = memoryview(data)
    for start in range(0, max(len(view), 1), FRAME_SIZE):
        piece = view[start : start + FRAME_SIZE]
        payload = lz4.block.compress(piece, store_size=False)
        body = _HEAD.pack(METHOD_LZ4, 9 + len(payload), len(piece)) + payload
        digest = CityHash128(body)
        out.append(_HASH.pack(digest >> 64, digest & _MASK) + body)


def read_frame(reader: SocketReader) -> bytes:
    """Read one frame at `reader.pos`, verify it and return its uncompressed bytes."""
    start = reader.pos
    reader.ensure(start + 25)
    high, low = _HASH.unpack_from(reader.buf, start)
    method, size, raw_size = _HEAD.unpack_from(reader.buf, start + 16)
    if size < 9 or size > MAX_FRAME or raw_size > MAX_FRAME:
        raise ProtocolError(f"bad compressed frame sizes ({size}, {raw_size})")
    end = start + 16 + size
    reader.ensure(end)
    body = bytes(reader.buf[start + 16 : end])
    if CityHash128(body) != (high << 64) | low:
        raise ChecksumError("checksum of a compressed frame does not match")
    payload = memoryview(body)[9:]
    try:
        if method == METHOD_LZ4:
            data = lz4.block.decompress(payload, uncompressed_size=raw_size)
        elif method == METHOD_ZSTD:
            import zstandard

            data = zstandard.ZstdDecompressor().decompress(payload, max_output_size=raw_size)
        elif method == METHOD_NONE:
            data = bytes(payload)
        else:
            raise ProtocolError(f"unknown compression method 0x{method:02x}")
    except ProtocolError:
        raise
    except Exception as exc:  # lz4 / zstd decoding errors
        raise ProtocolError(f"cannot decompress frame: {exc}") from None
    if len(data) != raw_size:
        raise ProtocolError("compressed frame decompressed to a wrong size")
    reader.pos = end
    return data


class FrameSource(Source):
    """Decompressed bytes of consecutive frames read from a socket, fetched on demand."""

    def __init__(self, reader: SocketReader) -> None:
        super().__init__()
        self.reader = reader
        self.last_frame_size = 0

    def next_frame(self) -> None:
        data = read_frame(self.reader)
        self.last_frame_size = len(data)
        self.buf += data

    def more(self, end: int) -> None:
        while len(self.buf) < end:
            self.next_frame()
