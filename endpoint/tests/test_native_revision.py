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
