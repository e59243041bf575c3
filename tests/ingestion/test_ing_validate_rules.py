"""Names and key expressions checked up front: each rule rejects its bad case with file:line and
accepts the good one (framework fixtures only, built here)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from dlt.common.normalizers.naming.snake_case import NamingConvention
from ingestion_helpers import write_yaml
from typer.testing import CliRunner

from elt.cli import app
from ingestion.dlt_names import _STABLE, dlt_name
from ingestion.schema import SchemaError, parse_table_file, validate_dir

BASE = """\
name: {table}
files:
  path: src/{table}/*.csv
columns:
  - name: id
    type: int64
  - name: region
    type: string
    nullable: false
  - name: created_at
    type: timestamp
primary_key: [id, region]
"""


def _error(root: Path, text: str, table: str = "t", source: str = "src") -> SchemaError:
    path = write_yaml(root, source, table, text)
    with pytest.raises(SchemaError) as info:
        parse_table_file(path)
    assert str(info.value).startswith(f"{path}:{info.value.line}: "), str(info.value)
    return info.value


def _ok(root: Path, text: str, table: str = "t") -> None:
    parse_table_file(write_yaml(root, "src", table, text))


def test_the_base_fixture_is_valid(tmp_path: Path) -> None:
    _ok(tmp_path, BASE.format(table="t"))


@pytest.mark.parametrize(
    ("bad", "good", "line", "field", "message"),
    [
        ("  - name: name_", "  - name: namex", 7, "columns[1].name", "loaded as 'namex'"),
        ("  - name: region__code", "  - name: region_code", 7, "columns[1].name", "'region_code'"),
    ],
)
def test_a_column_name_dlt_would_rename_is_rejected_with_its_dlt_name(
    tmp_path: Path, bad: str, good: str, line: int, field: str, message: str
) -> None:
    text = BASE.format(table="t").replace("primary_key: [id, region]", "primary_key: [id]")
    error = _error(tmp_path, text.replace("  - name: region", bad))
    assert (error.line, error.field) == (line, field), str(error)
    assert message in error.message
    _ok(tmp_path, text.replace("  - name: region", good))


def test_a_table_or_source_name_dlt_would_rename_is_rejected(tmp_path: Path) -> None:
    error = _error(tmp_path, BASE.format(table="orders_"), table="orders_")
    assert (error.line, error.field) == (1, "name")
    assert "'ordersx'" in error.message
    error = _error(tmp_path, BASE.format(table="t"), source="jaffle_shop_")
    assert error.line == 1 and "'jaffle_shopx'" in error.message, str(error)


def test_names_taken_as_stable_are_kept_by_dlt() -> None:
    parts = ["", "_", "a", "z9", "x1y", "_b", "_2", "order", "__", "A", "-", "é"]
    names = {"".join(p) for p in itertools.product(parts, repeat=3)} - {""}
    naming = NamingConvention()
    stable = [n for n in names if _STABLE.fullmatch(n)]
    assert len(stable) > 100
    for name in names:
        if _STABLE.fullmatch(name):
            assert naming.normalize_identifier(name) == name
        assert dlt_name(name) == naming.normalize_identifier(name)


def test_dlt_name_is_dlts_own_normalization() -> None:
    for name in ("name_", "a__b", "Order Id", "_x_"):
        assert dlt_name(name) == NamingConvention().normalize_identifier(name)


def test_raw_table_names_are_unique_across_sources(tmp_path: Path) -> None:
    schemas = tmp_path / "schemas"
    write_yaml(schemas, "shop", "orders", BASE.format(table="orders"))
    # dlt's merge staging copy of shop.orders is raw.shop_staging___orders
    clash = write_yaml(schemas, "shop_staging", "orders", BASE.format(table="orders"))
    specs, errors = validate_dir(schemas)
    assert len(specs) == 2
    assert [(e.path, e.line, e.field) for e in errors] == [(clash, 1, "name")]
    assert "'shop_staging___orders'" in errors[0].message
    assert "source 'shop'" in errors[0].message
    # the rejected-rows and dlt tables of a source count too
    assert "shop____rejected_rows" in specs[0].raw_tables
    assert "shop____dlt_loads" in specs[0].raw_tables
    (clash.parent / "orders.yml").rename(clash.parent / "returns.yml")
    (clash.parent / "returns.yml").write_text(BASE.format(table="returns"))
    assert validate_dir(schemas)[1] == []


PK_TEXT = BASE.format(table="t") + "clickhouse:\n  order_by: [{order_by}]\n"


def test_replacing_merge_tree_order_by_must_hold_the_primary_key(tmp_path: Path) -> None:
    error = _error(tmp_path, PK_TEXT.format(order_by="id"))
    assert (error.line, error.field) == (14, "clickhouse.order_by"), str(error)
    assert "leaves out primary key column(s) 'region'" in error.message
    _ok(tmp_path, PK_TEXT.format(order_by="region, id, created_at"))
    merge_tree = PK_TEXT.format(order_by="id") + "  engine: MergeTree\nwrite_disposition: append\n"
    _ok(tmp_path, merge_tree)  # a MergeTree does not collapse rows


PARTITION = BASE.format(table="t") + "clickhouse:\n  partition_by: {expression}\n"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("\"file('/etc/passwd', 'CSV')\"", "file() reads outside the row"),
        ("\"url('http://x/', 'CSV')\"", "url() reads outside the row"),
        ("\"remote('h', db.t)\"", "remote() reads outside the row"),
        ("toYYYYMM(now())", "now() is not deterministic"),
        ("rand() % 4", "rand() is not deterministic"),
        ("'(select max(id) from other)'", "sub-queries are not allowed"),
        ("toYYYYMM(other.created_at)", "refers to another table"),
        ("\"dictGet('d', 'x', id)\"", "dictGet() reads outside the row"),
        ("toYYYYMM(updated_at)", "'updated_at' is not a declared column"),
        ("someUdf(id)", "function someUdf() is not allowed"),
    ],
)
def test_partition_by_rejects_what_is_not_a_deterministic_row_expression(
    tmp_path: Path, expression: str, message: str
) -> None:
    error = _error(tmp_path, PARTITION.format(expression=expression))
    assert (error.line, error.field) == (14, "clickhouse.partition_by"), str(error)
    assert message in error.message, str(error)


@pytest.mark.parametrize(
    "expression",
    [
        "toYYYYMM(created_at)",
        "'(cityHash64(region) % 10, toYYYYMM(created_at))'",
        "toDate(created_at)",
    ],
)
def test_partition_by_accepts_deterministic_expressions_over_declared_columns(
    tmp_path: Path, expression: str
) -> None:
    _ok(tmp_path, PARTITION.format(expression=expression))


def test_elt_schema_validate_reports_file_and_line(tmp_path: Path) -> None:
    schemas = tmp_path / "schemas"
    bad = write_yaml(schemas, "src", "t", PARTITION.format(expression="\"file('/etc/passwd')\""))
    write_yaml(schemas, "src", "u", BASE.format(table="u"))
    result = CliRunner().invoke(app, ["schema", "validate", "--schemas-dir", str(schemas)])
    assert result.exit_code == 1
    assert f"{bad}:14: clickhouse.partition_by: file() reads outside the row" in result.output
    bad.write_text(PARTITION.format(expression="toYYYYMM(created_at)"))
    result = CliRunner().invoke(app, ["schema", "validate", "--schemas-dir", str(schemas)])
    assert result.exit_code == 0, result.output
    assert "ok: 2 table(s) in 1 source(s)" in result.output
