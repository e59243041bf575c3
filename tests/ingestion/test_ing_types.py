"""The type vocabulary and its mappings (pure)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from ingestion.types import (
    ColumnType,
    UnknownTypeError,
    arrow_type,
    clickhouse_type,
    dbt_data_type,
    dlt_column_hints,
    parse_scalar,
    parse_type,
)


@pytest.mark.parametrize(
    ("text", "clickhouse", "dlt"),
    [
        ("string", "String", {"data_type": "text"}),
        ("integer", "Int64", {"data_type": "bigint", "precision": 64}),
        ("int8", "Int8", {"data_type": "bigint", "precision": 8}),
        ("INT32", "Int32", {"data_type": "bigint", "precision": 32}),
        ("uint16", "UInt16", {"data_type": "bigint", "precision": 32}),
        ("uint64", "UInt64", {"data_type": "bigint", "precision": 64}),
        ("float", "Float64", {"data_type": "double"}),
        ("float32", "Float32", {"data_type": "double"}),
        ("decimal(10, 2)", "Decimal(10, 2)", {"data_type": "decimal", "precision": 10, "scale": 2}),
        ("boolean", "Bool", {"data_type": "bool"}),
        ("date", "Date32", {"data_type": "date"}),
        (
            "timestamp",
            "DateTime64(6, 'UTC')",
            {"data_type": "timestamp", "precision": 6, "timezone": True},
        ),
        (
            "timestamp(3, 'Europe/Paris')",
            "DateTime64(3, 'Europe/Paris')",
            {"data_type": "timestamp", "precision": 3, "timezone": True},
        ),
        ("uuid", "UUID", {"data_type": "text"}),
        ("json", "String", {"data_type": "text"}),
    ],
)
def test_vocabulary_maps_to_clickhouse_and_dlt(text: str, clickhouse: str, dlt: dict) -> None:
    parsed = parse_type(text)
    assert clickhouse_type(parsed, nullable=False) == clickhouse
    assert clickhouse_type(parsed, nullable=True) == f"Nullable({clickhouse})"
    assert dlt_column_hints(parsed) == dlt


def test_timestamp_defaults_and_zone_case_is_kept() -> None:
    assert parse_type("timestamp") == ColumnType("timestamp", precision=6, timezone="UTC")
    assert parse_type("timestamp(0, utc)").timezone == "UTC"
    assert parse_type("timestamp(9, America/New_York)").timezone == "America/New_York"
    assert arrow_type(parse_type("timestamp(0)")) == pa.timestamp("s", tz="UTC")
    assert arrow_type(parse_type("timestamp(9)")) == pa.timestamp("ns", tz="UTC")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("money", "unknown type 'money'"),
        ("decimal(80, 2)", "precision <= 76"),
        ("decimal(5, 6)", "scale <= precision"),
        ("timestamp(6, Mars/Olympus)", "IANA"),
        ("int128", "unknown type"),
    ],
)
def test_unknown_or_invalid_types_are_rejected(text: str, message: str) -> None:
    with pytest.raises(UnknownTypeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_type(text)


def test_arrow_types() -> None:
    assert arrow_type(parse_type("decimal(6, 4)")) == pa.decimal128(6, 4)
    assert arrow_type(parse_type("decimal(50, 4)")) == pa.decimal256(50, 4)
    assert arrow_type(parse_type("uint8")) == pa.uint8()
    assert arrow_type(parse_type("uuid")) == pa.string()
    assert arrow_type(parse_type("date")) == pa.date32()


@pytest.mark.parametrize(
    ("text", "clickhouse", "nullable", "dlt", "arrow"),
    [
        (
            "low_cardinality(string)",
            "LowCardinality(String)",
            "LowCardinality(Nullable(String))",
            {"data_type": "text"},
            pa.string(),
        ),
        (
            "low_cardinality(int16)",
            "LowCardinality(Int16)",
            "LowCardinality(Nullable(Int16))",
            {"data_type": "bigint", "precision": 16},
            pa.int16(),
        ),
        (
            "enum('open', 'closed')",
            "Enum8('open' = 1, 'closed' = 2)",
            "Nullable(Enum8('open' = 1, 'closed' = 2))",
            {"data_type": "text"},
            pa.string(),
        ),
    ],
)
def test_low_cardinality_and_enum_map_to_every_layer(
    text: str, clickhouse: str, nullable: str, dlt: dict, arrow: pa.DataType
) -> None:
    parsed = parse_type(text)
    assert str(parsed) == text
    assert clickhouse_type(parsed, nullable=False) == clickhouse
    assert clickhouse_type(parsed, nullable=True) == nullable
    assert dbt_data_type(parsed, nullable=True) == nullable
    assert dlt_column_hints(parsed) == dlt
    assert arrow_type(parsed) == arrow


def test_enum_of_many_labels_is_enum16_and_labels_are_checked() -> None:
    labels = ", ".join(f"'v{i}'" for i in range(200))
    assert clickhouse_type(parse_type(f"enum({labels})"), False).startswith("Enum16('v0' = 1")
    assert parse_scalar("closed", parse_type("enum('open', 'closed')")) == "closed"
    with pytest.raises(ValueError, match="not a valid enum"):
        parse_scalar("lost", parse_type("enum('open', 'closed')"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("low_cardinality(uuid)", "only string, integer, float and date"),
        ("low_cardinality(money)", "unknown type 'money'"),
        ("enum('a', 'a')", "labels must be unique"),
    ],
)
def test_bad_low_cardinality_or_enum_is_rejected(text: str, message: str) -> None:
    with pytest.raises(UnknownTypeError, match=message.replace("(", r"\(")):
        parse_type(text)
