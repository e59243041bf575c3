"""The schema YAMLs' type vocabulary and its mappings to dlt column hints, ClickHouse and Arrow.

Vocabulary (case-insensitive):
  string                      text                             -> String
  integer | int8..int64       signed integers (integer = int64) -> Int8..Int64
  uint8..uint64               unsigned integers                 -> UInt8..UInt64
  float | float32 | float64   floating point (float = float64)  -> Float32 / Float64
  decimal(p, s)               exact decimal, 1 <= p <= 76       -> Decimal(p, s)
  boolean                     true/false/1/0                    -> Bool
  date                        calendar date                     -> Date32
  timestamp[(p[, tz])]        instant, precision 0..9 (6),      -> DateTime64(p, 'tz')
                              zone of naive values (UTC)
  uuid                        RFC 4122 text                     -> UUID
  json                        a JSON document kept as text      -> String
  low_cardinality(t)          t = string, an integer, float or  -> LowCardinality(T)
                              date with few distinct values (dictionary-encoded)
  enum('a', 'b', ...)         one of the listed labels          -> Enum8 / Enum16
Every column is `Nullable(...)` unless `nullable: false` (key columns are never nullable).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import re
import zoneinfo
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pyarrow loads only where rows are converted (keeps definitions loading fast)
    import pyarrow as pa

_INT_BITS = {"int8": 8, "int16": 16, "int32": 32, "int64": 64, "integer": 64}
_UINT_BITS = {"uint8": 8, "uint16": 16, "uint32": 32, "uint64": 64}
_SIMPLE = {"string", "float", "float32", "float64", "boolean", "date", "uuid", "json"}
_LOW_CARDINALITY = re.compile(r"^low_cardinality\(\s*([a-z0-9]+)\s*\)$")
_LOW_CARDINALITY_KINDS = {"string", "int", "uint", "float", "date"}
_ENUM = re.compile(r"^enum\(\s*('[^'\\]*'(?:\s*,\s*'[^'\\]*')*)\s*\)$", re.IGNORECASE)
_ENUM_LABEL = re.compile(r"'([^'\\]*)'")
_DECIMAL = re.compile(r"^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$")
_TIMESTAMP = re.compile(
    r"^timestamp(?:\(\s*(\d+)\s*(?:,\s*'?([A-Za-z0-9_+\-/]+)'?\s*)?\))?$", re.IGNORECASE
)

UUID_PATTERN = r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
_UUID_RE = re.compile(UUID_PATTERN)

TYPE_NAMES = sorted(
    [
        *_INT_BITS,
        *_UINT_BITS,
        *_SIMPLE,
        "decimal(p, s)",
        "timestamp(p, tz)",
        "low_cardinality(t)",
        "enum('a', 'b', ...)",
    ],
    key=str,
)
TYPE_PATTERN = (
    r"^(string|integer|u?int(8|16|32|64)|float(32|64)?|boolean|date|uuid|json"
    r"|decimal\(\s*\d+\s*,\s*\d+\s*\)"
    r"|timestamp(\(\s*\d\s*(,\s*'?[A-Za-z0-9_+\-/]+'?\s*)?\))?"
    r"|low_cardinality\(\s*(string|integer|u?int(8|16|32|64)|float(32|64)?|date)\s*\)"
    r"|enum\(\s*'[^'\\]*'(\s*,\s*'[^'\\]*')*\s*\))$"
)


class UnknownTypeError(ValueError):
    """A column type is not part of the vocabulary."""


@dataclass(frozen=True)
class ColumnType:
    """A parsed column type: `kind` plus its parameters."""

    kind: str  # string, int, uint, float, decimal, boolean, date, timestamp, uuid, json, enum
    bits: int | None = None
    precision: int | None = None
    scale: int | None = None
    timezone: str | None = None
    low_cardinality: bool = False  # dictionary-encoded in ClickHouse; values as `kind`
    labels: tuple[str, ...] = ()  # enum: the allowed values, numbered from 1

    def __str__(self) -> str:
        if self.low_cardinality:
            return f"low_cardinality({self._base_str()})"
        if self.kind == "enum":
            return "enum(" + ", ".join(f"'{label}'" for label in self.labels) + ")"
        return self._base_str()

    def _base_str(self) -> str:
        if self.kind in ("int", "uint"):
            return f"{self.kind}{self.bits}"
        if self.kind == "float":
            return f"float{self.bits}"
        if self.kind == "decimal":
            return f"decimal({self.precision}, {self.scale})"
        if self.kind == "timestamp":
            return f"timestamp({self.precision}, {self.timezone})"
        return self.kind


def parse_type(text: str) -> ColumnType:
    """Parse a type from the vocabulary, or raise UnknownTypeError listing the vocabulary."""
    raw = str(text).strip()
    value = raw.lower()
    if match := _LOW_CARDINALITY.match(value):
        inner = parse_type(match[1])
        if inner.kind not in _LOW_CARDINALITY_KINDS:
            raise UnknownTypeError(
                f"low_cardinality({match[1]}): only string, integer, float and date types"
            )
        return dataclasses.replace(inner, low_cardinality=True)
    if match := _ENUM.match(raw):
        labels = tuple(_ENUM_LABEL.findall(match[1]))
        if len(set(labels)) != len(labels):
            raise UnknownTypeError(f"{raw}: enum labels must be unique")
        if len(labels) > 32_767:
            raise UnknownTypeError(f"{raw}: at most 32767 enum labels")
        return ColumnType("enum", labels=labels)
    if value in _INT_BITS:
        return ColumnType("int", bits=_INT_BITS[value])
    if value in _UINT_BITS:
        return ColumnType("uint", bits=_UINT_BITS[value])
    if value in ("float", "float64"):
        return ColumnType("float", bits=64)
    if value == "float32":
        return ColumnType("float", bits=32)
    if value in _SIMPLE:
        return ColumnType(value)
    if match := _DECIMAL.match(value):
        precision, scale = int(match[1]), int(match[2])
        if not 1 <= precision <= 76 or scale > precision:
            raise UnknownTypeError(
                f"decimal({precision}, {scale}): need 1 <= precision <= 76 and scale <= precision"
            )
        return ColumnType("decimal", precision=precision, scale=scale)
    if match := _TIMESTAMP.match(raw):
        precision = int(match[1]) if match[1] is not None else 6
        if precision > 9:
            raise UnknownTypeError(f"timestamp precision {precision}: must be 0..9")
        timezone = match[2] or "UTC"
        if timezone.upper() == "UTC":
            timezone = "UTC"
        elif timezone not in zoneinfo.available_timezones():
            raise UnknownTypeError(f"timestamp timezone {timezone!r} is not an IANA zone name")
        return ColumnType("timestamp", precision=precision, timezone=timezone)
    raise UnknownTypeError(f"unknown type {raw!r}; expected one of: {', '.join(TYPE_NAMES)}")


def clickhouse_type(col_type: ColumnType, nullable: bool) -> str:
    """The ClickHouse column type (with `Nullable(...)` when nullable; LowCardinality wraps it)."""
    kind = col_type.kind
    if col_type.low_cardinality:
        inner = dataclasses.replace(col_type, low_cardinality=False)
        return f"LowCardinality({clickhouse_type(inner, nullable)})"
    if kind == "enum":
        width = 8 if len(col_type.labels) <= 127 else 16
        pairs = ", ".join(f"'{label}' = {n}" for n, label in enumerate(col_type.labels, 1))
        base = f"Enum{width}({pairs})"
        return f"Nullable({base})" if nullable else base
    if kind == "int":
        base = f"Int{col_type.bits}"
    elif kind == "uint":
        base = f"UInt{col_type.bits}"
    elif kind == "float":
        base = f"Float{col_type.bits}"
    elif kind == "decimal":
        base = f"Decimal({col_type.precision}, {col_type.scale})"
    elif kind == "timestamp":
        base = f"DateTime64({col_type.precision}, '{col_type.timezone}')"
    else:
        base = {
            "string": "String",
            "boolean": "Bool",
            "date": "Date32",
            "uuid": "UUID",
            "json": "String",
        }[kind]
    return f"Nullable({base})" if nullable else base


def dlt_column_hints(col_type: ColumnType) -> dict[str, Any]:
    """dlt column hints (data_type + precision/scale/timezone) for a type."""
    kind = col_type.kind
    if kind == "int":
        return {"data_type": "bigint", "precision": col_type.bits}
    if kind == "uint":
        # dlt has no unsigned integers: the next signed width holds every value (uint64 -> int64)
        return {"data_type": "bigint", "precision": min(64, col_type.bits * 2)}
    if kind == "float":
        return {"data_type": "double"}
    if kind == "decimal":
        return {"data_type": "decimal", "precision": col_type.precision, "scale": col_type.scale}
    if kind == "timestamp":
        return {
            "data_type": "timestamp",
            "precision": min(col_type.precision, 6),
            "timezone": True,
        }
    return {
        "string": {"data_type": "text"},
        "boolean": {"data_type": "bool"},
        "date": {"data_type": "date"},
        "uuid": {"data_type": "text"},
        "json": {"data_type": "text"},
        "enum": {"data_type": "text"},  # dlt has no enum: the labels travel as text
    }[kind]


def _timestamp_unit(precision: int) -> str:
    if precision == 0:
        return "s"
    if precision <= 3:
        return "ms"
    if precision <= 6:
        return "us"
    return "ns"


def arrow_type(col_type: ColumnType) -> pa.DataType:
    """The Arrow type rows are converted to before dlt sees them."""
    import pyarrow as pa  # only where rows are converted (see the TYPE_CHECKING import)

    kind = col_type.kind
    if kind == "int":
        return {8: pa.int8(), 16: pa.int16(), 32: pa.int32(), 64: pa.int64()}[col_type.bits]
    if kind == "uint":
        return {8: pa.uint8(), 16: pa.uint16(), 32: pa.uint32(), 64: pa.uint64()}[col_type.bits]
    if kind == "float":
        return pa.float32() if col_type.bits == 32 else pa.float64()
    if kind == "decimal":
        if col_type.precision <= 38:
            return pa.decimal128(col_type.precision, col_type.scale)
        return pa.decimal256(col_type.precision, col_type.scale)
    if kind == "timestamp":
        # values are stored as UTC instants; the zone only tells how naive input is read
        return pa.timestamp(_timestamp_unit(col_type.precision), tz="UTC")
    if kind == "boolean":
        return pa.bool_()
    if kind == "date":
        return pa.date32()
    return pa.string()  # string, uuid, json, enum (low_cardinality: its values' type)


def dbt_data_type(col_type: ColumnType, nullable: bool) -> str:
    """The data type written into the generated dbt sources (the ClickHouse type)."""
    return clickhouse_type(col_type, nullable)


def parse_scalar(value: Any, col_type: ColumnType) -> Any:
    """A YAML scalar (e.g. an incremental initial_value) as a Python value of the column type."""
    kind = col_type.kind
    try:
        if kind in ("int", "uint"):
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "decimal":
            return decimal.Decimal(str(value))
        if kind == "date":
            if isinstance(value, dt.datetime):
                return value.date()
            return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        if kind == "timestamp":
            if isinstance(value, dt.datetime):
                stamp = value
            elif isinstance(value, dt.date):
                stamp = dt.datetime(value.year, value.month, value.day)
            else:
                stamp = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=zoneinfo.ZoneInfo(col_type.timezone))
            return stamp.astimezone(dt.UTC)
        if kind == "uuid" and not _UUID_RE.match(str(value)):
            raise ValueError("not a uuid")
        if kind == "enum" and str(value) not in col_type.labels:
            raise ValueError("not one of the enum labels")
        return str(value)
    except (ValueError, decimal.InvalidOperation, TypeError):
        raise ValueError(f"{value!r} is not a valid {col_type}") from None
