"""Unit tests: request decompression and response compression codecs."""

from __future__ import annotations

import gzip
import zlib

import lz4.frame
import pytest
import zstandard

from warehouse.compression import (
    CorruptBodyError,
    UnsupportedEncodingError,
    choose_encoding,
    compressor,
    decompressing,
)

DATA = b"".join(f"{i},value {i}\n".encode() for i in range(20000))


def _split(blob: bytes, size: int = 777) -> list[bytes]:
    return [blob[i : i + size] for i in range(0, len(blob), size)]


@pytest.mark.parametrize(
    ("encoding", "pack"),
    [
        ("gzip", gzip.compress),
        ("gz", gzip.compress),
        ("deflate", zlib.compress),
        ("lz4", lz4.frame.compress),
        ("zstd", zstandard.ZstdCompressor().compress),
        ("identity", lambda b: b),
    ],
)
def test_decompress_split_anywhere_and_multi_frame(encoding, pack) -> None:
    blob = pack(DATA[:100000]) + pack(DATA[100000:])
    if encoding == "deflate":  # one zlib stream only
        blob = pack(DATA)
    assert b"".join(decompressing(encoding, _split(blob))) == DATA


def test_unknown_and_corrupt() -> None:
    with pytest.raises(UnsupportedEncodingError):
        decompressing("snappy-ish", [b"x"])
    with pytest.raises(CorruptBodyError):
        b"".join(decompressing("gzip", [b"definitely not gzip"]))


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "lz4", "zstd"])
def test_streaming_compressors(encoding) -> None:
    comp = compressor(encoding)
    out = b"".join(comp.compress(chunk) for chunk in _split(DATA, 50000)) + comp.flush()
    assert b"".join(decompressing(encoding, [out])) == DATA


def test_choose_encoding() -> None:
    assert choose_encoding("br, lz4;q=0.9, gzip") == "lz4"
    assert choose_encoding("gzip, deflate") == "gzip"
    assert choose_encoding("br") is None
    assert choose_encoding("") is None


@pytest.mark.parametrize(
    "pack",
    [gzip.compress, lz4.frame.compress, zstandard.ZstdCompressor().compress, lambda b: b],
)
def test_auto_detects_the_codec(pack) -> None:
    # clickhouse-connect's insert_file (used by dlt) sends `Content-Encoding: auto`
    assert b"".join(decompressing("auto", _split(pack(DATA), 3))) == DATA
    assert b"".join(decompressing("none", [DATA])) == DATA
