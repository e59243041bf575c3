"""Native blocks: BlockInfo, header blocks, and finding where a block ends.

chDB reads and writes `FORMAT Native`, which is the TCP block body without BlockInfo
(protocol revision 54429: no per-column serialization byte). The TCP stream has no length
prefix for a block, so to find the end of an uncompressed block (or to split several blocks)
we walk its columns: fixed-width data is skipped arithmetically, only String-like data needs
a walk over its length prefixes. No values are decoded.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from functools import lru_cache

from warehouse.native.wire import ProtocolError, Source, read_str, read_varint, string, varint

# BlockInfo: field 1 is_overflows=0, field 2 bucket_num=-1, end marker 0
BLOCK_INFO = b"\x01\x00\x02\xff\xff\xff\xff\x00"
_U64 = struct.Struct("<Q")
MAX_COLUMNS = 1 << 20
MAX_ROWS = 1 << 40

_FIXED = {
    **dict.fromkeys(("UInt8", "Int8", "Bool", "Enum8", "Nothing"), 1),
    **dict.fromkeys(("UInt16", "Int16", "Date", "Enum16", "BFloat16"), 2),
    **dict.fromkeys(
        ("UInt32", "Int32", "Float32", "Date32", "DateTime", "IPv4", "Decimal32", "Time"), 4
    ),
    **dict.fromkeys(("UInt64", "Int64", "Float64", "DateTime64", "Decimal64", "Time64"), 8),
    **dict.fromkeys(("UInt128", "Int128", "UUID", "IPv6", "Decimal128"), 16),
    **dict.fromkeys(("UInt256", "Int256", "Decimal256"), 32),
}
_ALIASES = {
    "Point": "Tuple(Float64, Float64)",
    "Ring": "Array(Point)",
    "LineString": "Array(Point)",
    "MultiLineString": "Array(Ring)",
    "Polygon": "Array(Ring)",
    "MultiPolygon": "Array(Polygon)",
}
_NAME_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*$", re.DOTALL)
_ELEMENT_NAME_RE = re.compile(r"^\s*(?:`(?:[^`\\]|\\.)*`|[A-Za-z_][A-Za-z0-9_]*)\s+(?=\S)")


class UnsupportedTypeError(ProtocolError):
    """A column type whose binary layout this server does not walk."""


def split_args(text: str) -> list[str]:
    """Split a type's argument list at top-level commas (quotes and parentheses aware)."""
    args: list[str] = []
    depth = 0
    start = 0
    i = 0
    quote = ""
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'`\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(text[start:i].strip())
            start = i + 1
        i += 1
    tail = text[start:].strip()
    if tail or args:
        args.append(tail)
    return args


def parse_type(type_name: str) -> tuple[str, list[str]]:
    """'Map(String, UInt8)' -> ('Map', ['String', 'UInt8'])."""
    match = _NAME_RE.match(type_name)
    if match is None:
        raise UnsupportedTypeError(f"cannot parse type {type_name!r}")
    name, args = match.group(1), match.group(2)
    return name, split_args(args) if args is not None else []


def _element_type(arg: str) -> str:
    """Strip the element name of a named Tuple/Nested element: 'a UInt8' -> 'UInt8'."""
    match = _ELEMENT_NAME_RE.match(arg)
    return arg[match.end() :] if match else arg


def _decimal_size(precision: int) -> int:
    for limit, size in ((9, 4), (18, 8), (38, 16)):
        if precision <= limit:
            return size
    return 32


class Skip:
    """How to walk the serialized data of one type."""

    def prefix(self, src: Source, pos: int) -> int:
        return pos

    def data(self, src: Source, pos: int, rows: int) -> int:  # pragma: no cover
        raise NotImplementedError


class FixedSkip(Skip):
    def __init__(self, size: int) -> None:
        self.size = size

    def data(self, src: Source, pos: int, rows: int) -> int:
        end = pos + self.size * rows
        src.ensure(end)
        return end


class StringSkip(Skip):
    def data(self, src: Source, pos: int, rows: int) -> int:
        buf = src.buf
        limit = len(buf)
        for _ in range(rows):
            if pos >= limit:
                src.more(pos + 1)
                limit = len(buf)
            byte = buf[pos]
            if byte < 0x80:
                pos += byte + 1
            else:
                size, pos = read_varint(src, pos)
                pos += size
                limit = len(buf)
        src.ensure(pos)
        return pos


class NullableSkip(Skip):
    def __init__(self, nested: Skip) -> None:
        self.nested = nested

    def prefix(self, src: Source, pos: int) -> int:
        return self.nested.prefix(src, pos)

    def data(self, src: Source, pos: int, rows: int) -> int:
        pos += rows
        src.ensure(pos)
        return self.nested.data(src, pos, rows)


class ArraySkip(Skip):
    def __init__(self, nested: Skip) -> None:
        self.nested = nested

    def prefix(self, src: Source, pos: int) -> int:
        return self.nested.prefix(src, pos)

    def data(self, src: Source, pos: int, rows: int) -> int:
        if rows == 0:
            return pos
        end = pos + 8 * rows
        src.ensure(end)
        total = _U64.unpack_from(src.buf, end - 8)[0]
        if total > MAX_ROWS:
            raise ProtocolError("array offsets are out of range")
        if total == 0:
            return end
        return self.nested.data(src, end, total)


class TupleSkip(Skip):
    def __init__(self, elements: list[Skip]) -> None:
        self.elements = elements

    def prefix(self, src: Source, pos: int) -> int:
        for element in self.elements:
            pos = element.prefix(src, pos)
        return pos

    def data(self, src: Source, pos: int, rows: int) -> int:
        for element in self.elements:
            pos = element.data(src, pos, rows)
        return pos


class LowCardinalitySkip(Skip):
    """Prefix: UInt64 keys version. Data: (UInt64 flags, [dictionary], UInt64 n, indexes)+."""

    _INDEX_SIZES = (1, 2, 4, 8)
    _GLOBAL = 1 << 8
    _ADDITIONAL = 1 << 9
    _UPDATE = 1 << 10

    def __init__(self, dictionary: Skip) -> None:
        self.dictionary = dictionary

    def prefix(self, src: Source, pos: int) -> int:
        src.ensure(pos + 8)
        return pos + 8

    def data(self, src: Source, pos: int, rows: int) -> int:
        while rows > 0:
            src.ensure(pos + 8)
            flags = _U64.unpack_from(src.buf, pos)[0]
            pos += 8
            key_type = flags & 0xFF
            if key_type > 3:
                raise ProtocolError("bad LowCardinality index type")
            for bit in (self._GLOBAL, self._ADDITIONAL):
                if flags & bit and (bit == self._ADDITIONAL or flags & self._UPDATE):
                    src.ensure(pos + 8)
                    keys = _U64.unpack_from(src.buf, pos)[0]
                    if keys > MAX_ROWS:
                        raise ProtocolError("bad LowCardinality dictionary size")
                    pos = self.dictionary.data(src, pos + 8, keys)
            src.ensure(pos + 8)
            count = _U64.unpack_from(src.buf, pos)[0]
            if count == 0 or count > rows:
                raise ProtocolError("bad LowCardinality index count")
            pos += 8 + count * self._INDEX_SIZES[key_type]
            src.ensure(pos)
            rows -= count
        return pos


@lru_cache(maxsize=1024)
def skipper(type_name: str) -> Skip:
    """The walker for a ClickHouse type name (raises UnsupportedTypeError)."""
    name, args = parse_type(type_name)
    if name in _ALIASES and not args:
        return skipper(_ALIASES[name])
    if name == "Decimal":
        if not args or not args[0].isdigit():
            raise UnsupportedTypeError(f"bad Decimal type {type_name!r}")
        return FixedSkip(_decimal_size(int(args[0])))
    if name in _FIXED:
        return FixedSkip(_FIXED[name])
    if name == "String":
        return StringSkip()
    if name.startswith("Interval"):
        return FixedSkip(8)
    if name == "FixedString" and len(args) == 1 and args[0].isdigit():
        return FixedSkip(int(args[0]))
    if name == "Nullable" and len(args) == 1:
        return NullableSkip(skipper(args[0]))
    if name == "Array" and len(args) == 1:
        return ArraySkip(skipper(args[0]))
    if name == "Tuple" and args:
        return TupleSkip([skipper(_element_type(arg)) for arg in args])
    if name == "Nested" and args:
        return ArraySkip(TupleSkip([skipper(_element_type(arg)) for arg in args]))
    if name == "Map" and len(args) == 2:
        return ArraySkip(TupleSkip([skipper(args[0]), skipper(args[1])]))
    if name == "LowCardinality" and len(args) == 1:
        inner_name, inner_args = parse_type(args[0])
        inner = inner_args[0] if inner_name == "Nullable" and len(inner_args) == 1 else args[0]
        return LowCardinalitySkip(skipper(inner))
    if name == "SimpleAggregateFunction" and len(args) >= 2:
        return skipper(args[-1])
    raise UnsupportedTypeError(f"column type {type_name} is not supported by the native endpoint")


def skip_block_info(src: Source, pos: int) -> int:
    """Skip the BlockInfo fields (1: is_overflows, 2: bucket_num, 0: end)."""
    while True:
        field, pos = read_varint(src, pos)
        if field == 0:
            return pos
        if field == 1:
            pos += 1
        elif field == 2:
            pos += 4
        else:
            raise ProtocolError(f"unknown BlockInfo field {field}")
        src.ensure(pos)


@dataclass
class BlockShape:
    """Where a Native block (without BlockInfo) ends, and what it holds."""

    end: int
    rows: int
    columns: list[tuple[str, str]]


def scan_block(src: Source, pos: int) -> BlockShape:
    """Walk one Native block starting at `pos` (after BlockInfo)."""
    n_columns, pos = read_varint(src, pos)
    n_rows, pos = read_varint(src, pos)
    if n_columns > MAX_COLUMNS or n_rows > MAX_ROWS:
        raise ProtocolError(f"implausible block size ({n_columns} columns, {n_rows} rows)")
    columns = []
    for _ in range(n_columns):
        name, pos = read_str(src, pos)
        type_name, pos = read_str(src, pos)
        columns.append((name, type_name))
        if n_rows:
            walker = skipper(type_name)
            pos = walker.prefix(src, pos)
            pos = walker.data(src, pos, n_rows)
    return BlockShape(pos, n_rows, columns)


def leading_columns(src: Source) -> list[tuple[str, str]] | None:
    """Names and types of a block whose only unwalkable column is the last one, else None."""
    n_columns, pos = read_varint(src, 0)
    n_rows, pos = read_varint(src, pos)
    columns = []
    for i in range(n_columns):
        name, pos = read_str(src, pos)
        type_name, pos = read_str(src, pos)
        columns.append((name, type_name))
        if n_rows and i < n_columns - 1:
            try:
                walker = skipper(type_name)
            except UnsupportedTypeError:
                return None
            pos = walker.data(src, walker.prefix(src, pos), n_rows)
    return columns


def block_rows(data: bytes) -> int:
    """Number of rows of the Native block at the start of `data` (reads two varints)."""
    pos = 0
    for shift_round in range(2):
        value = 0
        shift = 0
        while True:
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
        if shift_round == 1:
            return value
    return 0  # pragma: no cover


def header_block(columns: list[tuple[str, str]]) -> bytes:
    """A 0-row Native block (without BlockInfo) naming the columns and their types."""
    parts = [varint(len(columns)), b"\x00"]
    for name, type_name in columns:
        parts.append(string(name))
        parts.append(string(type_name))
    return b"".join(parts)


EMPTY_BLOCK = b"\x00\x00"
