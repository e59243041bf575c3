"""The schema YAML format: strict validation, errors with file:line: field (framework fixtures and
every shipped YAML; the one test marked `example` is about the Jaffle Shop example only)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from ingestion_helpers import FIXTURE_SCHEMAS, write_yaml
from ruamel.yaml import YAML

from ingestion.schema import (
    SCHEMAS_DIR,
    SchemaError,
    SchemaErrors,
    json_schema,
    load_schemas,
    parse_table_file,
    validate_dir,
)

BASE = """\
name: {table}
files:
  path: src/{table}/*.csv
columns:
  - name: id
    type: int64
  - name: amount
    type: decimal(10, 2)
  - name: created_at
    type: timestamp
primary_key: [id]
"""


def test_every_shipped_yaml_points_editors_at_the_json_schema() -> None:
    for path in SCHEMAS_DIR.glob("*/*.yml"):
        first = path.read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=../table.schema.json", path


def test_published_json_schema_is_current_and_accepts_the_yamls() -> None:
    published = json.loads((SCHEMAS_DIR / "table.schema.json").read_text())
    assert published == json_schema()
    for path in [*SCHEMAS_DIR.glob("*/*.yml"), *FIXTURE_SCHEMAS.glob("*/*.yml")]:
        document = YAML(typ="safe").load(path.read_text())
        document = json.loads(json.dumps(document, default=str))
        jsonschema.validate(document, published)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"name": "x", "files": {"path": "a.csv"}, "colums": []}, published)


def _error(root: Path, table: str, text: str) -> SchemaError:
    path = write_yaml(root, "src", table, text)
    with pytest.raises(SchemaError) as info:
        parse_table_file(path)
    return info.value


@pytest.mark.parametrize(
    ("table", "edit", "line", "field", "message"),
    [
        (
            "t",
            lambda t: t.replace("type: decimal(10, 2)", "type: money"),
            8,
            "columns[1].type",
            "unknown type 'money'",
        ),
        (
            "t",
            lambda t: t.replace("primary_key: [id]", "primary_key: [idx]"),
            11,
            "primary_key[0]",
            "'idx' is not a declared column",
        ),
        ("t", lambda t: t + "colour: blue\n", 12, "colour", "unknown key"),
        (
            "t",
            lambda t: t.replace("  - name: amount", "  - name: 2amount"),
            7,
            "columns[1].name",
            "not a valid identifier",
        ),
        (
            "t",
            lambda t: t.replace("  - name: amount", "  - name: id"),
            7,
            "columns[1].name",
            "duplicate column 'id'",
        ),
        (
            "t",
            lambda t: t.replace("name: t\n", "name: other\n"),
            1,
            "name",
            "must equal the file name",
        ),
        (
            "t",
            lambda t: t + "incremental:\n  cursor: nope\n",
            13,
            "incremental.cursor",
            "'nope' is not a declared column",
        ),
        (
            "t",
            lambda t: t + "clickhouse:\n  partition_by: toYYYYMM(missing)\n",
            13,
            "clickhouse.partition_by",
            "'missing' is not a declared column",
        ),
        (
            "t",
            lambda t: t + "clickhouse:\n  partition_by: 'x; drop table y'\n",
            13,
            "clickhouse.partition_by",
            "",
        ),
        (
            "t",
            lambda t: t.replace("primary_key: [id]\n", "write_disposition: merge\n"),
            11,
            "write_disposition",
            "merge needs a primary_key",
        ),
        ("t", lambda t: t + "schedule: every day\n", 12, "schedule", "not a valid cron"),
        (
            "t",
            lambda t: t + "merge_strategy: engine\nclickhouse:\n  engine: MergeTree\n",
            12,
            "merge_strategy",
            "needs clickhouse.engine ReplacingMergeTree",
        ),
        (
            "t",
            lambda t: t + "freshness:\n  max_lag: soon\n",
            13,
            "freshness.max_lag",
            "not a duration",
        ),
        (
            "t",
            lambda t: t + "freshness:\n  max_lag: 12h\n  warn_after: 1d\n",
            12,
            "freshness",
            "less than max_lag",
        ),
        (
            "t",
            lambda t: t.replace("files:\n  path: src/t/*.csv\n", ""),
            1,
            "",
            "exactly one of `files` or `sql`",
        ),
        (
            "t",
            lambda t: t.replace("    type: int64", "    type: int64\n    nullable: true"),
            12,
            "primary_key[0]",
            "key column 'id' cannot be nullable",
        ),
        (
            "t",
            lambda t: t + "sql:\n  url_env: lower-case\n  table: x\n",
            13,
            "sql.url_env",
            "not an environment variable name",
        ),
        (
            "t",
            lambda t: t.replace("path: src/t/*.csv", "path: ../outside/*.csv"),
            3,
            "files.path",
            "'..' is not allowed",
        ),
        (
            "t",
            lambda t: t.replace("path: src/t/*.csv", "path: src/t/*.txt"),
            2,
            "files",
            "cannot tell the format",
        ),
        (
            "t",
            lambda t: t.replace("*.csv", "*.jsonl\n  max_field_bytes: 1000"),
            2,
            "files",
            "applies to CSV files only, not jsonl",
        ),
        (
            "t",
            lambda t: t + "incremental:\n  cursor: created_at\n  initial_value: yesterday\n",
            14,
            "incremental.initial_value",
            "not a valid timestamp",
        ),
    ],
)
def test_problems_name_file_line_and_field(
    tmp_path: Path, table: str, edit, line: int, field: str, message: str
) -> None:
    error = _error(tmp_path, table, edit(BASE.format(table=table)))
    assert error.line == line, str(error)
    assert error.field == field, str(error)
    assert message in error.message, str(error)
    assert str(error).startswith(f"{tmp_path / 'src' / 't.yml'}:{line}: ")


def test_invalid_yaml_is_reported_with_its_line(tmp_path: Path) -> None:
    error = _error(tmp_path, "t", "name: t\nfiles: {path: x.csv\ncolumns: []\n")
    assert error.line == 3
    assert "invalid YAML" in error.message


def test_duplicate_yaml_keys_are_an_error(tmp_path: Path) -> None:
    error = _error(tmp_path, "t", BASE.format(table="t") + "primary_key: [amount]\n")
    assert "invalid YAML" in error.message
    assert error.line == 12


def test_validate_dir_reports_every_bad_file_and_duplicates(schemas_dir: Path) -> None:
    write_yaml(schemas_dir, "src", "good", BASE.format(table="good"))
    write_yaml(schemas_dir, "src", "bad1", BASE.format(table="bad1").replace("int64", "int65"))
    write_yaml(schemas_dir, "src", "bad2", BASE.format(table="bad2") + "extra: 1\n")
    duplicate = schemas_dir / "src" / "good.yaml"
    duplicate.write_text(BASE.format(table="good"))
    specs, errors = validate_dir(schemas_dir)
    assert [s.name for s in specs] == ["good"]
    messages = sorted(str(e) for e in errors)
    assert len(messages) == 3
    assert any("bad1.yml:6: columns[0].type: unknown type 'int65'" in m for m in messages)
    assert any("bad2.yml:12: extra: unknown key" in m for m in messages)
    assert any("duplicate table src.good" in m for m in messages)
    with pytest.raises(SchemaErrors) as info:
        load_schemas(schemas_dir)
    assert len(info.value.errors) == 3


def test_tables_of_a_source_share_one_schedule(schemas_dir: Path) -> None:
    write_yaml(schemas_dir, "src", "a", BASE.format(table="a") + 'schedule: "0 6 * * *"\n')
    write_yaml(schemas_dir, "src", "b", BASE.format(table="b") + 'schedule: "0 7 * * *"\n')
    _, errors = validate_dir(schemas_dir)
    assert len(errors) == 1 and "share one schedule" in str(errors[0])


def test_defaults_and_derived_values(schemas_dir: Path) -> None:
    path = write_yaml(schemas_dir, "src", "t", BASE.format(table="t"))
    spec = parse_table_file(path)
    assert spec.source == "src"
    assert spec.files.format == "csv"
    assert spec.files.csv.delimiter == ","
    assert spec.resolved_write_disposition == "merge"
    assert spec.clickhouse.engine == "ReplacingMergeTree"
    assert spec.order_by == ["id"]
    assert spec.version_column == "_ingested_at"
    assert spec.contract.new_columns == "evolve"
    assert spec.resolved_merge_strategy == "engine" and spec.dlt_write_disposition == "append"
    no_key = BASE.format(table="u").replace(
        "primary_key: [id]\n", "clickhouse:\n  engine: MergeTree\n"
    )
    spec = parse_table_file(write_yaml(schemas_dir, "src", "u", no_key))
    assert spec.resolved_write_disposition == "append"
    assert spec.order_by == []


def test_sql_origin(schemas_dir: Path) -> None:
    text = BASE.format(table="t").replace(
        "files:\n  path: src/t/*.csv\n",
        "sql:\n  url_env: SHOP_DB_URL\n  schema: public\n  table: t\n",
    )
    spec = parse_table_file(write_yaml(schemas_dir, "src", "t", text))
    assert spec.sql.url_env == "SHOP_DB_URL"
    assert spec.sql.schema_name == "public"
    assert spec.files is None
