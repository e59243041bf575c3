"""ClickHouse compressed-block framing (what `compression=True` clients send and expect), with
clickhouse-driver's own compressor and decompressors.

A frame is: CityHash128 checksum (16 bytes: high, low uint64 little-endian) of the rest,
method byte (0x82 LZ4, 0x90 ZSTD, 0x02 none), uint32 size of method+sizes+payload,
uint32 uncompressed size, payload. A Data packet's block may span several frames.
"""

from __future__ import annotations

import io
import struct

from clickhouse_cityhash.cityhash import CityHash128
from clickhouse_driver import errors as driver_errors
from clickhouse_driver.compression import get_decompressor_cls
from clickhouse_driver.compression.lz4 import Compressor as Lz4Compressor
from clickhouse_driver.protocol import CompressionMethodByte

from warehouse.native.wire import ProtocolError, SocketReader, Source

# ClickHouse's max_compress_block_size: writers cut frames at this uncompressed size
FRAME_SIZE = 1 << 20
MAX_FRAME = 1 << 30
_HEAD = struct.Struct("<BII")
_HASH = struct.Struct("<QQ")
_MASK = (1 << 64) - 1
_METHOD = bytes((CompressionMethodByte.LZ4,))
METHOD_NONE = 0x02  # a frame stored uncompressed (the driver has no class for it)


class ChecksumError(ProtocolError):
    """A compressed frame's checksum does not match its contents."""


def compress_frames(data: bytes | memoryview, out: list[bytes]) -> None:
    """Append LZ4 frames holding `data` (cut every FRAME_SIZE bytes) to `out`."""
    view = memoryview(data)
    compressor = Lz4Compressor()
    for start in range(0, max(len(view), 1), FRAME_SIZE):
        compressor.write(view[start : start + FRAME_SIZE])
        body = _METHOD + compressor.get_compressed_data(extra_header_size=1)
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
    if method == METHOD_NONE:
        if CityHash128(bytes(reader.buf[start + 16 : end])) != (high << 64) | low:
            raise ChecksumError("checksum of a compressed frame does not match")
        data = bytes(reader.buf[start + 25 : end])
    else:
        data = _decompress(method, (high << 64) | low, bytes(reader.buf[start + 17 : end]))
    if len(data) != raw_size:
        raise ProtocolError("compressed frame decompressed to a wrong size")
    reader.pos = end
    return data


def _decompress(method: int, checksum: int, sized_payload: bytes) -> bytes:
    """Check and decompress one frame (`sized_payload`: the frame after its method byte)."""
    try:
        decompressor = get_decompressor_cls(method)(io.BytesIO(sized_payload))
    except driver_errors.UnknownCompressionMethod:
        raise ProtocolError(f"unknown compression method 0x{method:02x}") from None
    try:
        return decompressor.get_decompressed_data(method, checksum, extra_header_size=1)
    except driver_errors.ChecksumDoesntMatchError:
        raise ChecksumError("checksum of a compressed frame does not match") from None
    except Exception as exc:  # lz4 / zstd decoding errors
        raise ProtocolError(f"cannot decompress frame: {exc}") from None


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
