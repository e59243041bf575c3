"""`elt schema new`'s inference from a sample (pure, fixture samples built here)."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
from ingestion_helpers import write_yaml

from ingestion.infer import draft_yaml, infer_cursor, infer_key, infer_type, narrowest_integer
from ingestion.schema import parse_table_file


def _sample(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_integers_get_the_narrowest_type_holding_the_sample() -> None:
    assert narrowest_integer(pa.array([1, -128, 127])) == "int8"
    assert narrowest_integer(pa.array([1, 200])) == "int16"
    assert narrowest_integer(pa.array([70_000])) == "int32"
    assert narrowest_integer(pa.array([2**40])) == "int64"
    assert infer_type(pa.array(["1", "-40000", None])) == "int32"


def test_low_cardinality_text_is_detected_and_varied_text_is_not() -> None:
    assert infer_type(pa.array(["open", "closed", "pending"] * 50)) == "low_cardinality(string)"
    assert infer_type(pa.array([f"note {i}" for i in range(150)])) == "string"
    assert infer_type(pa.array(["a", "b"] * 10)) == "string"  # too few rows to tell


def test_a_composite_key_is_found_when_no_single_column_is_unique(tmp_path: Path) -> None:
    rows = [[s, f"2024-01-{d:02d}", s * d % 7] for s in range(1, 6) for d in range(1, 6)]
    sample = _sample(tmp_path / "stock.csv", ["store_id", "day", "level"], rows)
    text = draft_yaml("shop", "stock", sample)
    spec = parse_table_file(write_yaml(tmp_path / "schemas", "shop", "stock", text))
    assert spec.primary_key == ["store_id", "day"]
    assert spec.clickhouse.engine == "ReplacingMergeTree"
    assert spec.order_by == ["store_id", "day"] and spec.clickhouse.order_by == ["store_id", "day"]
    assert spec.column("store_id").type == "int8"


def test_no_unique_columns_means_append_without_a_key(tmp_path: Path) -> None:
    sample = _sample(tmp_path / "log.csv", ["level", "message"], [["x", "a"], ["x", "a"]])
    text = draft_yaml("app", "log", sample)
    spec = parse_table_file(write_yaml(tmp_path / "schemas", "app", "log", text))
    assert spec.primary_key == [] and spec.resolved_write_disposition == "append"
    assert spec.clickhouse.engine == "MergeTree" and spec.order_by == ["level"]


def test_a_cursor_only_when_it_never_decreases() -> None:
    monotone = pa.table({"id": ["a", "b", "c"], "at": ["2024-01-01T00:00:00"] * 2 + ["2024-01-02"]})
    types = {"id": "string", "at": "timestamp(6, UTC)"}
    assert infer_cursor(monotone, ["id", "at"], types) == "at"
    shuffled = pa.table({"id": ["a", "b"], "at": ["2024-01-02T00:00:00", "2024-01-01T00:00:00"]})
    assert infer_cursor(shuffled, ["id", "at"], types) is None
    counters = pa.table({"seq": pa.array([1, 2, 2, 5])})
    assert infer_cursor(counters, ["seq"], {"seq": "int8"}) == "seq"


def test_an_id_like_unique_column_is_preferred_as_key() -> None:
    data = pa.table({"amount": [3, 1, 2], "order_id": ["o1", "o2", "o3"]})
    assert infer_key(data, ["amount", "order_id"], {"amount": "int8", "order_id": "string"}) == [
        "order_id"
    ]
