"""Convert read batches to the declared column types, splitting off rows that do not fit.

A timestamp value with an offset (`Z`, `+02:00`) is converted to UTC exactly; a naive one is read in
the column's declared zone; one column may mix both.

Pure Arrow functions: a batch of raw values (strings for CSV, typed for Parquet/JSONL) becomes a
table with the declared Arrow types plus a list of rejected rows (row number, reason, raw values).
The fast path is one vectorised cast per column; only a column that fails is checked value by value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ingestion.schema import TableSpec
from ingestion.types import UUID_PATTERN, ColumnType, arrow_type

_OFFSET = r"(Z|[+-]\d{2}(:?\d{2})?)$"


class SchemaDriftError(ValueError):
    """Input columns differ from the declared ones in a way the contract forbids."""


@dataclass(frozen=True)
class RejectedRow:
    row: int  # 1-based data row in the file (or the SQL result)
    reason: str
    raw: str  # the row's raw values as JSON


@dataclass
class Conformed:
    table: pa.Table
    rejected: list[RejectedRow] = field(default_factory=list)
    new_columns: list[str] = field(default_factory=list)


def _as_utc(values: pa.Array, col_type: ColumnType) -> pa.Array:
    """Timestamp array (naive or aware) -> the declared unit in UTC; naive values are in the
    declared zone."""
    target = arrow_type(col_type)
    if values.type.tz is None:
        if col_type.timezone != "UTC":
            values = pc.assume_timezone(
                values, col_type.timezone, ambiguous="earliest", nonexistent="earliest"
            )
        else:
            values = values.cast(pa.timestamp(values.type.unit, tz="UTC"))
    return values.cast(target, safe=False)


def _convert_strict(values: pa.Array, col_type: ColumnType) -> pa.Array:
    """Vectorised conversion; raises (pa.ArrowInvalid, ValueError...) if any value does not fit."""
    target = arrow_type(col_type)
    kind = col_type.kind
    if kind == "timestamp":
        if pa.types.is_timestamp(values.type):
            return _as_utc(values, col_type)
        if pa.types.is_date(values.type):
            return _as_utc(values.cast(pa.timestamp("us")), col_type)
        unit = "ns" if col_type.precision > 6 else "us"
        text = values.cast(pa.string())
        try:
            return _as_utc(text.cast(pa.timestamp(unit)), col_type)
        except pa.ArrowInvalid:
            pass
        # values with an offset (Z, +02:00) are exact instants; naive ones are in the declared
        # zone: a column may mix both
        aware = pc.fill_null(pc.match_substring_regex(text, _OFFSET), False)
        if not pc.any(aware).as_py():
            raise ValueError("not a timestamp")
        naive_text = pc.if_else(aware, pa.nulls(len(text), pa.string()), text)
        aware_text = pc.if_else(aware, text, pa.nulls(len(text), pa.string()))
        naive = _as_utc(naive_text.cast(pa.timestamp(unit)), col_type)
        exact = aware_text.cast(pa.timestamp(unit, tz="UTC")).cast(target, safe=False)
        return pc.if_else(aware, exact, naive)
    if kind == "date" and pa.types.is_timestamp(values.type):
        raise ValueError("a timestamp is not a date")
    if kind == "uuid":
        text = values.cast(pa.string())
        if not pc.all(
            pc.match_substring_regex(text, UUID_PATTERN)
        ).as_py() and text.null_count < len(text):
            raise ValueError("not a uuid")
        return text
    if kind == "json":
        text = values.cast(pa.string())
        for value in text.to_pylist():
            if value is not None:
                json.loads(value)
        return text
    if kind == "enum":
        text = values.cast(pa.string())
        labels = pa.array(col_type.labels, pa.string())
        if not pc.all(pc.or_kleene(pc.is_in(text, value_set=labels), pc.is_null(text))).as_py():
            raise ValueError("not one of the enum's labels")
        return text
    if kind == "string" and pa.types.is_nested(values.type):
        raise ValueError("nested value for a string column")
    if kind == "boolean" and pa.types.is_string(values.type):
        return pc.utf8_trim_whitespace(values).cast(target)
    return values.cast(target)


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def convert_column(values: pa.Array, col_type: ColumnType) -> tuple[pa.Array, list[int]]:
    """Convert a column; returns the converted array (bad values -> null) and bad positions."""
    try:
        return _convert_strict(values, col_type), []
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError, TypeError):
        pass
    bad: list[int] = []
    for i in range(len(values)):
        one = values.slice(i, 1)
        if one.null_count:
            continue
        try:
            _convert_strict(one, col_type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError, TypeError):
            bad.append(i)
    mask = pa.array([False] * len(values))
    if bad:
        flags = [False] * len(values)
        for i in bad:
            flags[i] = True
        mask = pa.array(flags)
    cleaned = pc.if_else(mask, pa.nulls(len(values), values.type), values)
    return _convert_strict(cleaned, col_type), bad


def _raw_row(batch: pa.Table, index: int) -> str:
    row = {name: batch.column(name)[index].as_py() for name in batch.column_names}
    return json.dumps(row, default=str, ensure_ascii=False)


def conform(batch: pa.Table | pa.RecordBatch, spec: TableSpec, first_row: int = 1) -> Conformed:
    """Declared columns in declared order and types; other rows rejected with a reason.

    Columns not declared follow `contract.new_columns`: kept at the end (evolve) or a
    SchemaDriftError naming them (fail). A missing nullable column is filled with nulls; a missing
    non-nullable column is a SchemaDriftError.
    """
    table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
    declared = [c.name for c in spec.columns]
    new_columns = [n for n in table.column_names if n not in declared]
    if new_columns and spec.contract.new_columns == "fail":
        raise SchemaDriftError(
            f"{spec.source}.{spec.name}: column(s) {', '.join(map(repr, new_columns))} not "
            f"declared in {spec.path} (contract.new_columns: fail); declare them or set evolve"
        )
    reasons: dict[int, str] = {}
    arrays: list[pa.Array] = []
    fields: list[pa.Field] = []
    for column in spec.columns:
        col_type = column.parsed_type
        nullable = spec.is_nullable(column)
        if column.name not in table.column_names:
            if not nullable:
                raise SchemaDriftError(
                    f"{spec.source}.{spec.name}: non-nullable column {column.name!r} is missing "
                    "from the input"
                )
            arrays.append(pa.nulls(table.num_rows, arrow_type(col_type)))
        else:
            values = table.column(column.name).combine_chunks()
            converted, bad = convert_column(values, col_type)
            for i in bad:
                reasons.setdefault(
                    i,
                    f"column {column.name!r}: {_describe(values[i].as_py())} is not a valid "
                    f"{col_type}",
                )
            if not nullable and converted.null_count:
                for i in pc.indices_nonzero(converted.is_null()).to_pylist():
                    reasons.setdefault(i, f"column {column.name!r}: null in a non-nullable column")
            arrays.append(converted)
        fields.append(pa.field(column.name, arrow_type(col_type), nullable=nullable))
    for name in new_columns:
        values = table.column(name).combine_chunks()
        if pa.types.is_null(values.type):
            values = values.cast(pa.string())
        arrays.append(values)
        fields.append(pa.field(name, values.type))
    out = pa.Table.from_arrays(arrays, schema=pa.schema(fields)) if arrays else table
    if not reasons:
        return Conformed(out, [], new_columns)
    keep = [True] * table.num_rows
    for i in reasons:
        keep[i] = False
    rejected = [RejectedRow(first_row + i, reasons[i], _raw_row(table, i)) for i in sorted(reasons)]
    # rebuild with the schema's nullability (filter keeps it)
    good = out.filter(pa.array(keep))
    return Conformed(good, rejected, new_columns)
