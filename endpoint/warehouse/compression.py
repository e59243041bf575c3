"""HTTP body codecs: streaming request decompression (Content-Encoding) and response
compression (Accept-Encoding + enable_http_compression=1)."""

from __future__ import annotations

import bz2
import itertools
import lzma
import zlib
from collections.abc import Callable, Iterable, Iterator

import lz4.frame
import zstandard

try:  # optional
    import brotli  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    brotli = None


class UnsupportedEncodingError(ValueError):
    pass


def _zlib(wbits: int) -> Callable[[], object]:
    return lambda: zlib.decompressobj(wbits)


# name -> factory of an object with .decompress(data), .eof, .unused_data (a single frame)
_DECOMPRESSORS: dict[str, Callable[[], object]] = {
    "gzip": _zlib(16 + zlib.MAX_WBITS),
    "x-gzip": _zlib(16 + zlib.MAX_WBITS),
    "gz": _zlib(16 + zlib.MAX_WBITS),
    "deflate": _zlib(zlib.MAX_WBITS),
    "lz4": lz4.frame.LZ4FrameDecompressor,
    "zstd": lambda: zstandard.ZstdDecompressor().decompressobj(),
    "xz": lzma.LZMADecompressor,
    "lzma": lzma.LZMADecompressor,
    "bz2": bz2.BZ2Decompressor,
    "bzip2": bz2.BZ2Decompressor,
}
if brotli is not None:  # pragma: no cover
    _DECOMPRESSORS["br"] = brotli.Decompressor


class CorruptBodyError(ValueError):
    pass


def decompressing(encoding: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Decompress a stream of body chunks; concatenated frames/members are all decoded.
    Raises UnsupportedEncodingError at once; CorruptBodyError while iterating."""
    name = encoding.strip().lower()
    if name in ("", "identity", "none"):
        return iter(chunks)
    if name == "auto":
        return _sniffing(iter(chunks))
    factory = _DECOMPRESSORS.get(name)
    if factory is None:
        raise UnsupportedEncodingError(f"Unknown Content-Encoding: {encoding}")
    return _decompress(name, factory, chunks)


_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\x04\x22\x4d\x18", "lz4"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"BZh", "bz2"),
)


def _sniffing(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """`Content-Encoding: auto` (clickhouse-connect's insert_file): detect the codec from the
    first bytes (as clickhouse-server does for files), else the body is not compressed."""
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= 6:
            break
    body = itertools.chain([head], chunks) if head else chunks
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return (yield from _decompress(name, _DECOMPRESSORS[name], body))
    yield from body


def _decompress(
    name: str, factory: Callable[[], object], chunks: Iterable[bytes]
) -> Iterator[bytes]:
    try:
        yield from _decompress_frames(name, factory, chunks)
    except (zlib.error, lzma.LZMAError, zstandard.ZstdError, RuntimeError) as exc:
        raise CorruptBodyError(f"Cannot decompress request body ({name}): {exc}") from None


def _decompress_frames(
    name: str, factory: Callable[[], object], chunks: Iterable[bytes]
) -> Iterator[bytes]:
    decoder = None
    for chunk in chunks:
        data = chunk
        while data:
            if decoder is None:
                decoder = factory()
            out = decoder.decompress(data)  # type: ignore[attr-defined]
            if out:
                yield out
            if getattr(decoder, "eof", False):
                data = getattr(decoder, "unused_data", b"")
                decoder = None
            else:
                data = b""
    if decoder is not None and not getattr(decoder, "eof", True):
        flush = getattr(decoder, "flush", None)
        tail = flush() if flush is not None and name not in ("lz4", "zstd") else b""
        if tail:
            yield tail


class _Compressor:
    def __init__(self, compress: Callable[[bytes], bytes], flush: Callable[[], bytes]) -> None:
        self.compress = compress
        self.flush = flush


def _gzip(wbits: int, level: int) -> _Compressor:
    obj = zlib.compressobj(level, zlib.DEFLATED, wbits)
    return _Compressor(obj.compress, obj.flush)


def _lz4() -> _Compressor:
    obj = lz4.frame.LZ4FrameCompressor(block_linked=False)
    started = False

    def compress(data: bytes) -> bytes:
        nonlocal started
        if not started:
            started = True
            return obj.begin() + obj.compress(data)
        return obj.compress(data)

    def flush() -> bytes:
        return (b"" if started else obj.begin()) + obj.flush()

    return _Compressor(compress, flush)


def _zstd() -> _Compressor:
    obj = zstandard.ZstdCompressor(level=1).compressobj()
    return _Compressor(obj.compress, obj.flush)


_COMPRESSORS: dict[str, Callable[[], _Compressor]] = {
    "lz4": _lz4,
    "zstd": _zstd,
    "gzip": lambda: _gzip(16 + zlib.MAX_WBITS, 3),
    "deflate": lambda: _gzip(zlib.MAX_WBITS, 3),
}


def choose_encoding(accept_encoding: str) -> str | None:
    """The first encoding of the client's Accept-Encoding list that we can produce."""
    for item in accept_encoding.split(","):
        name = item.split(";")[0].strip().lower()
        if name in _COMPRESSORS:
            return name
    return None


def compressor(encoding: str) -> _Compressor:
    return _COMPRESSORS[encoding]()
