"""Converting batches to the declared types; rows that do not fit are kept with a reason."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from pathlib import Path

import pyarrow as pa
import pytest
from ingestion_helpers import write_yaml

from ingestion.conform import SchemaDriftError, conform
from ingestion.schema import TableSpec, parse_table_file
from ingestion.types import parse_scalar, parse_type

SPEC = """\
name: t
files:
  path: src/t/*.csv
columns:
  - name: id
    type: uuid
  - name: qty
    type: int32
  - name: price
    type: decimal(6, 2)
  - name: ok
    type: boolean
  - name: at
    type: timestamp(6, UTC)
  - name: local_at
    type: timestamp(3, Europe/Paris)
  - name: day
    type: date
  - name: doc
    type: json
primary_key: [id]
contract:
  new_columns: {contract}
"""
UUID1 = "7a12d89b-3213-4130-86a1-126face65b8e"
UUID2 = "c3b8406d-72cb-4790-b1e9-913d16484fd4"


def _spec(tmp_path: Path, contract: str = "evolve") -> TableSpec:
    return parse_table_file(write_yaml(tmp_path, "src", "t", SPEC.format(contract=contract)))


def _batch(**overrides: list) -> pa.Table:
    data = {
        "id": [UUID1, UUID2],
        "qty": ["1", "2"],
        "price": ["1.50", "2"],
        "ok": ["True", "false"],
        "at": ["2018-09-01T09:10:00", "2018-09-01 10:00:00.123456"],
        "local_at": ["2018-09-01T12:00:00", None],
        "day": ["2018-09-01", "2018-09-02"],
        "doc": ['{"a": 1}', None],
    }
    data.update(overrides)
    return pa.table({k: pa.array(v, pa.string()) for k, v in data.items()})


def test_good_rows_get_the_declared_types(tmp_path: Path) -> None:
    result = conform(_batch(), _spec(tmp_path))
    assert result.rejected == [] and result.new_columns == []
    table = result.table
    assert table.schema.field("qty").type == pa.int32()
    assert table.schema.field("price").type == pa.decimal128(6, 2)
    assert table.schema.field("id").nullable is False
    row = table.to_pylist()[0]
    assert row["price"] == decimal.Decimal("1.50")
    assert row["ok"] is True
    assert row["at"] == dt.datetime(2018, 9, 1, 9, 10, tzinfo=dt.UTC)
    # naive values of a zoned column are read in that zone: 12:00 Paris = 10:00 UTC
    assert row["local_at"] == dt.datetime(2018, 9, 1, 10, 0, tzinfo=dt.UTC)
    assert row["day"] == dt.date(2018, 9, 1)
    assert table.to_pylist()[1]["at"].microsecond == 123456


def test_bad_rows_are_rejected_with_row_number_reason_and_raw_values(tmp_path: Path) -> None:
    batch = _batch(
        id=[UUID1, "not-a-uuid", UUID2, None],
        qty=["1", "2", "x3", "4"],
        price=["1.50", "2", "3", "12345.678"],
        ok=["True", "false", "yes", "true"],
        at=["2018-09-01T09:10:00"] * 4,
        local_at=[None] * 4,
        day=["2018-09-01"] * 4,
        doc=[None, None, "{broken", None],
    )
    result = conform(batch, _spec(tmp_path), first_row=101)
    assert result.table.num_rows == 1
    assert result.table.column("id").to_pylist() == [UUID1]
    rows = {r.row: r for r in result.rejected}
    assert sorted(rows) == [102, 103, 104]
    assert "column 'id'" in rows[102].reason and "uuid" in rows[102].reason
    assert "column 'qty'" in rows[103].reason and "'x3'" in rows[103].reason
    assert rows[104].reason == "column 'id': null in a non-nullable column"
    assert json.loads(rows[103].raw)["qty"] == "x3"


def test_decimal_out_of_range_is_rejected(tmp_path: Path) -> None:
    result = conform(_batch(price=["1.5", "12345.678"]), _spec(tmp_path))
    assert [r.row for r in result.rejected] == [2]
    assert "column 'price'" in result.rejected[0].reason


def test_timestamps_with_offsets_and_mixed_forms(tmp_path: Path) -> None:
    batch = _batch(at=["2018-09-01T09:10:00Z", "2018-09-01T11:10:00+02:00"])
    result = conform(batch, _spec(tmp_path))
    assert result.rejected == []
    assert (
        result.table.column("at").to_pylist() == [dt.datetime(2018, 9, 1, 9, 10, tzinfo=dt.UTC)] * 2
    )


def test_typed_input_is_cast(tmp_path: Path) -> None:
    batch = pa.table(
        {
            "id": pa.array([UUID1, UUID2]),
            "qty": pa.array([1, 2**40], pa.int64()),  # the second one overflows int32
            "at": pa.array([dt.datetime(2018, 9, 1), dt.datetime(2018, 9, 2)], pa.timestamp("us")),
        }
    )
    result = conform(batch, _spec(tmp_path))
    assert result.table.num_rows == 1
    assert [r.row for r in result.rejected] == [2]
    assert result.table.column("price").null_count == 1  # missing nullable column -> nulls


def test_new_column_evolves_or_fails_naming_it(tmp_path: Path) -> None:
    batch = _batch().append_column("colour", pa.array(["red", "blue"]))
    result = conform(batch, _spec(tmp_path))
    assert result.new_columns == ["colour"]
    assert result.table.column_names[-1] == "colour"
    strict = _spec(tmp_path / "strict", contract="fail")
    with pytest.raises(SchemaDriftError, match="'colour'"):
        conform(batch, strict)


def test_missing_key_column_is_drift(tmp_path: Path) -> None:
    with pytest.raises(SchemaDriftError, match="'id' is missing"):
        conform(_batch().drop_columns(["id"]), _spec(tmp_path))


def test_parse_scalar() -> None:
    assert parse_scalar("2018-09-01", parse_type("timestamp")) == dt.datetime(
        2018, 9, 1, tzinfo=dt.UTC
    )
    assert parse_scalar(dt.date(2018, 9, 1), parse_type("date")) == dt.date(2018, 9, 1)
    assert parse_scalar("12", parse_type("int64")) == 12
    assert parse_scalar("1.5", parse_type("decimal(4,2)")) == decimal.Decimal("1.5")
    with pytest.raises(ValueError, match="not a valid int64"):
        parse_scalar("x", parse_type("int64"))


def test_a_value_outside_the_enum_labels_rejects_its_row_only(tmp_path: Path) -> None:
    text = (
        "name: e\nfiles: {path: src/e/*.csv}\n"
        "columns:\n  - {name: id, type: int64}\n"
        "  - {name: state, type: \"enum('open', 'closed')\"}\n"
        "primary_key: [id]\n"
    )
    spec = parse_table_file(write_yaml(tmp_path, "src", "e", text))
    batch = pa.table({"id": ["1", "2", "3"], "state": ["open", "lost", "closed"]})
    result = conform(batch, spec, first_row=2)
    assert result.table.column("state").to_pylist() == ["open", "closed"]
    assert [r.row for r in result.rejected] == [3]
    assert (
        result.rejected[0].reason == "column 'state': 'lost' is not a valid enum('open', 'closed')"
    )
