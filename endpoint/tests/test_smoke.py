"""The endpoint answers the basics every other suite relies on."""

from __future__ import annotations

import urllib.request

import pytest

pytestmark = pytest.mark.integration


def test_ping_and_root(warehouse) -> None:
    for path in ("/ping", "/"):
        with urllib.request.urlopen(f"http://{warehouse.host}:{warehouse.http_port}{path}") as r:
            assert r.read() == b"Ok.\n"


def test_version_and_utc(ch) -> None:
    version, tz = ch.query("SELECT version(), timezone()").result_rows[0]
    assert version.startswith("26.")
    assert tz == "UTC"


def test_roundtrip(ch, db) -> None:
    ch.command(f"CREATE TABLE {db}.t (id UInt32, name String) ENGINE = MergeTree ORDER BY id")
    ch.insert(f"{db}.t", [[1, "a"], [2, "b"]], column_names=["id", "name"])
    assert ch.query(f"SELECT id, name FROM {db}.t ORDER BY id").result_rows == [(1, "a"), (2, "b")]
