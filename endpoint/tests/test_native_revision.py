"""Unit tests of the DateTime('tz') relabelling of Native blocks (pure functions)."""

from __future__ import annotations

from warehouse.native.revision import Labels
from warehouse.native.wire import string, varint

LABEL = "DateTime('Asia/Tokyo')"


def _block(value: bytes, label: str = "DateTime") -> bytes:
    head = (varint(2), varint(1), string("s"), string("String"), string(value))
    return b"".join((*head, string("t"), string(label), b"\x01\x02\x03\x04"))


def test_label_goes_into_the_header_only() -> None:
    decoy = string("t") + string("DateTime")  # a String value that looks like the header
    labels = Labels.of([("s", "String"), ("t", "DateTime")], [("s", "String"), ("t", LABEL)])
    assert labels is not None
    out = labels.apply(_block(decoy))
    assert out == _block(decoy, LABEL)
    assert labels.header() == [("s", "String"), ("t", LABEL)]


def test_nothing_to_relabel() -> None:
    columns = [("s", "String"), ("t", "DateTime")]
    assert Labels.of(columns, columns) is None  # the engine's type has no timezone either
    assert Labels.of(columns, None) is None
    assert Labels.of(columns, [("s", "String")]) is None  # descriptions that do not match


def _native(columns: list[tuple[str, str, bytes]], rows: int) -> bytes:
    parts = [varint(len(columns)), varint(rows)]
    for name, type_name, data in columns:
        parts += [string(name), string(type_name), data]
    return b"".join(parts)


def test_every_way_of_finding_the_label() -> None:
    # String before and after (searched), fixed-width only after (counted from the end),
    # fixed-width only before (counted from the start), two labels in one block
    s = ("s", "String", string(string("t") + string("DateTime")) + string("c"))  # 2 rows, a decoy
    i = ("i", "UInt32", bytes(8))
    t = ("t", "DateTime", b"\x01\x00\x00\x00\x02\x00\x00\x00")
    u = ("u", "DateTime", b"\x03\x00\x00\x00\x04\x00\x00\x00")
    shapes = [[s, t, s], [s, t, i], [i, t, s], [t, s, u], [s, u, s, t]]
    for shape in shapes:
        emitted = [(n, ty) for n, ty, _ in shape]
        described = [(n, LABEL if ty == "DateTime" else ty) for n, ty in emitted]
        labels = Labels.of(emitted, described)
        assert labels is not None
        expected = _native(
            [(n, dt, d) for (n, _, d), (_, dt) in zip(shape, described, strict=True)], 2
        )
        assert labels.apply(_native(shape, 2)) == expected, shape
