"""Native output as clickhouse-server writes it for a client's protocol revision (the native
protocol's, or HTTP's `client_protocol_version`): BlockInfo before each block (revision > 0) and
`DateTime('tz')` labels (revision 54337 or newer).

chDB writes Native as clickhouse-server does for a client at revision 0: a column of type
`DateTime('tz')` is labelled plain `DateTime` (same values, timezone dropped), so a client shows
it in the server's timezone. A server answering a newer client (the native protocol; HTTP with
`client_protocol_version`) keeps the label. `Labels` puts it back in each block's header.

    labels = Labels.of(emitted_columns, described_columns)   # None: nothing to relabel
    block = labels.apply(block)
    stream = NativeStream(engine_stream, revision, describe)  # HTTP: the whole result

Where a label goes is found without walking the column data: the column's header bytes
(name, `DateTime`) are searched for and accepted only where the next column's header (or the
block's end) follows its data; where no such place is found the block is walked (and the
column left unlabelled if a type on the way cannot be walked)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from warehouse.native.blocks import BLOCK_INFO, FixedSkip, UnsupportedTypeError, skipper
from warehouse.native.pumps import split_blocks
from warehouse.native.wire import BytesSource, read_str, read_varint, string, varint

Describe = Callable[[], "list[tuple[str, str]] | None"]

REVISION_WITH_TIMEZONE = 54337  # DBMS_MIN_REVISION_WITH_TIME_ZONE_PARAMETER_IN_DATETIME_DATA_TYPE
BARE = "DateTime"
_BARE_TYPE = string(BARE)
_DATETIME_SIZE = 4


def may_need_labels(block: bytes | memoryview) -> bool:
    """Cheap pre-check: could a column of this block be a relabelled `DateTime`?"""
    return _BARE_TYPE in (block if isinstance(block, bytes) else bytes(block))


@dataclass
class Labels:
    columns: list[tuple[str, str]]  # as chDB emits them
    types: dict[int, str]  # column index -> the type to label it with

    def __post_init__(self) -> None:
        # per column: its header bytes, and its bytes per row if fixed-width (else None)
        self._heads = [string(n) + string(t) for n, t in self.columns]
        self._widths = [_fixed_width(t) for _, t in self.columns]

    @classmethod
    def of(
        cls, emitted: list[tuple[str, str]], described: list[tuple[str, str]] | None
    ) -> Labels | None:
        if not described or len(described) != len(emitted):
            return None
        types = {
            i: true_type
            for i, ((_, emitted_type), (_, true_type)) in enumerate(
                zip(emitted, described, strict=True)
            )
            if emitted_type == BARE and true_type.startswith(BARE + "(")
        }
        return cls(emitted, types) if types else None

    def header(self) -> list[tuple[str, str]]:
        return [(n, self.types.get(i, t)) for i, (n, t) in enumerate(self.columns)]

    def apply(self, block: bytes | memoryview) -> bytes:
        """The block (Native, without BlockInfo) with the labels in its header."""
        return b"".join(self.pieces(block))

    def pieces(self, block: bytes | memoryview) -> list[bytes | memoryview]:
        """The relabelled block as buffers (views of `block` and the new type strings)."""
        data = block if isinstance(block, bytes) else bytes(block)
        view = memoryview(data)
        src = BytesSource(data)
        _, pos = read_varint(src, 0)
        rows, pos = read_varint(src, pos)
        parts: list[bytes | memoryview] = []
        done = 0
        for index in sorted(self.types):
            try:
                at = self._find(data, index, rows, pos)
            except UnsupportedTypeError:  # not found, and a column on the way we cannot walk
                continue
            parts += [view[done:at], string(self.types[index])]
            done = at + len(_BARE_TYPE)
            pos = done + _DATETIME_SIZE * rows
        parts.append(view[done:])
        return parts

    def _find(self, data: bytes, index: int, rows: int, start: int) -> int:
        """Position of column `index`'s type string: counted from the block's start or end
        when only fixed-width columns are in between, else searched for, else walked to."""
        name = string(self.columns[index][0])
        target = name + _BARE_TYPE
        exact = self._counted(index, rows, len(data), start)
        if exact is not None and data.startswith(target, exact - len(name)):
            return exact
        after = len(target) + _DATETIME_SIZE * rows
        following = self._heads[index + 1] if index + 1 < len(self.columns) else b""
        at = data.find(target, start)
        while at >= 0:
            end = at + after
            if data.startswith(following, end) if following else end == len(data):
                return at + len(name)
            at = data.find(target, at + 1)
        return _walk_to_type(data, index, rows)  # raises UnsupportedTypeError for unknown types

    def _counted(self, index: int, rows: int, size: int, start: int) -> int | None:
        after = self._span(index + 1, len(self.columns), rows)
        if after is not None:  # fixed-width columns only behind it: count back from the end
            return size - after - _DATETIME_SIZE * rows - len(_BARE_TYPE)
        before = self._span(0, index, rows)
        if before is not None and start == len(varint(len(self.columns))) + len(varint(rows)):
            return start + before + len(string(self.columns[index][0]))
        return None

    def _span(self, first: int, end: int, rows: int) -> int | None:
        """Bytes taken by columns first..end-1 (headers and data) if all are fixed-width."""
        total = 0
        for head, width in zip(self._heads[first:end], self._widths[first:end], strict=True):
            if width is None:
                return None
            total += len(head) + width * rows
        return total


def _fixed_width(type_name: str) -> int | None:
    try:
        walker = skipper(type_name)
    except UnsupportedTypeError:
        return None
    return walker.size if isinstance(walker, FixedSkip) else None


def _walk_to_type(data: bytes, index: int, rows: int) -> int:
    src = BytesSource(data)
    _, pos = read_varint(src, 0)
    _, pos = read_varint(src, pos)
    for _ in range(index):
        _, pos = read_str(src, pos)
        type_name, pos = read_str(src, pos)
        walker = skipper(type_name)
        pos = walker.data(src, walker.prefix(src, pos), rows)
    _, pos = read_str(src, pos)
    return pos


class NativeStream:
    """An engine's Native result stream (chunks of whole blocks, `stats`, `close`) as written
    for a client at `revision`; `describe()` gives the result's true column types (called only
    when a block holds a `DateTime` column)."""

    def __init__(self, stream: Any, revision: int, describe: Describe) -> None:
        self._stream = stream
        self._revision = revision
        self._describe = describe
        self._labels: Labels | None = None
        self._first = True
        self._rows = 0

    @property
    def stats(self) -> Any:
        return self._stream.stats

    def close(self) -> None:
        self._stream.close()

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        chunk = next(self._stream)
        rows = self.stats.result_rows
        try:
            blocks = split_blocks(chunk, rows - self._rows)
        except UnsupportedTypeError:  # a type we cannot walk: chDB's chunk is one block
            blocks = [chunk]
        self._rows = rows
        if self._first and blocks:
            self._first = False
            if self._revision >= REVISION_WITH_TIMEZONE and may_need_labels(blocks[0]):
                self._labels = self._find_labels()
        labels = self._labels
        return b"".join(
            BLOCK_INFO + (labels.apply(block) if labels else bytes(block)) for block in blocks
        )

    def _find_labels(self) -> Labels | None:
        """From the engine's description: chDB emits the same names and types, except for
        `DateTime('tz')`, emitted as `DateTime`."""
        described = self._describe()
        if not described:
            return None
        emitted = [(n, BARE if t.startswith(BARE + "(") else t) for n, t in described]
        return Labels.of(emitted, described)
