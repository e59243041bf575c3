"""dbt sources can never drift from the ingestion schema YAMLs (tables or columns, either side)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ingestion.schema import TableSpec, load_schemas

REPO = Path(__file__).resolve().parents[2]
STAGING = REPO / "dbt_project" / "models" / "staging"
# columns ingestion adds to every raw table; they may appear in dbt sources only
BOOKKEEPING = {"_ingested_at", "_dlt_load_id", "_dlt_id"}

Columns = dict[str, set[str]]


def schema_tables(specs: list[TableSpec], source: str) -> Columns:
    """table -> declared column names, from ingestion/schemas/<source>/*.yml."""
    return {s.name: {c.name for c in s.columns} for s in specs if s.source == source}


def dbt_source(source: str) -> dict:
    path = STAGING / source / f"_{source}__sources.yml"
    document = yaml.safe_load(path.read_text())
    (entry,) = [s for s in document["sources"] if s["name"] == source]
    return entry


def dbt_tables(source: str) -> Columns:
    """table -> column names, from dbt_project/models/staging/<source>/_<source>__sources.yml."""
    return {
        t["name"]: {c["name"] for c in t.get("columns", [])} - BOOKKEEPING
        for t in dbt_source(source)["tables"]
    }


def drift(schemas: Columns, sources: Columns) -> list[str]:
    """Human-readable differences between schema YAMLs and dbt sources; empty when in sync."""
    problems = [f"table {t}: in schema YAMLs, not in dbt sources" for t in schemas.keys() - sources]
    problems += [
        f"table {t}: in dbt sources, not in schema YAMLs" for t in sources.keys() - schemas
    ]
    for table in sorted(schemas.keys() & sources.keys()):
        for column in sorted(schemas[table] - sources[table]):
            problems.append(f"{table}.{column}: in schema YAML, not in dbt source")
        for column in sorted(sources[table] - schemas[table]):
            problems.append(f"{table}.{column}: in dbt source, not in schema YAML")
    return sorted(problems)


@pytest.fixture(scope="module")
def specs() -> list[TableSpec]:
    return load_schemas()


def source_names(specs: list[TableSpec]) -> list[str]:
    return sorted({s.source for s in specs})


def test_every_schema_source_has_dbt_sources(specs: list[TableSpec]) -> None:
    for source in source_names(specs):
        assert (STAGING / source / f"_{source}__sources.yml").exists(), source


def test_dbt_sources_match_ingestion_schemas(specs: list[TableSpec]) -> None:
    for source in source_names(specs):
        assert drift(schema_tables(specs, source), dbt_tables(source)) == []


def test_drift_check_reports_each_side() -> None:
    schemas = {"orders": {"id", "ordered_at"}, "items": {"id"}}
    sources = {"orders": {"id", "customer"}, "stores": {"id"}}
    assert drift(schemas, sources) == sorted(
        [
            "table items: in schema YAMLs, not in dbt sources",
            "table stores: in dbt sources, not in schema YAMLs",
            "orders.ordered_at: in schema YAML, not in dbt source",
            "orders.customer: in dbt source, not in schema YAML",
        ]
    )


def test_generated_sources_file_is_current(specs: list[TableSpec]) -> None:
    """The committed sources YAML is exactly what `elt schema dbt-sources` generates."""
    from ingestion import dbt_sources

    assert dbt_sources.check(specs) == []


def test_sources_point_at_raw_tables_and_dlt_assets(specs: list[TableSpec]) -> None:
    for source in source_names(specs):
        for table in dbt_source(source)["tables"]:
            assert table["identifier"] == f"{source}___{table['name']}"
            assert table["meta"]["dagster"]["asset_key"] == ["raw", source, table["name"]]


def test_every_source_table_has_a_staging_model(specs: list[TableSpec]) -> None:
    for source in source_names(specs):
        for table in schema_tables(specs, source):
            model = STAGING / source / f"stg_{source}__{table}.sql"
            assert model.exists(), f"missing staging model {model.name}"
            assert f"source('{source}', '{table}')" in model.read_text()
