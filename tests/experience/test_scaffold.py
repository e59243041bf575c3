"""Staging-model scaffolding from a table spec (pure rendering; files in a temp project)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from elt.scaffold import column_group, render_staging_sql, render_staging_yaml, staging_paths
from ingestion.schema import TableSpec


def table(source, name, columns, primary_key, **fields) -> TableSpec:
    """A validated table spec; `columns` are (name, type, description) tuples, type and
    description optional."""
    keys = ("name", "type", "description")
    return TableSpec.model_validate(
        {
            "source": source,
            "name": name,
            "path": Path(source) / f"{name}.yml",
            "files": {"path": f"{source}/{name}/*.csv"},
            "columns": [{"type": "string", **dict(zip(keys, c, strict=False))} for c in columns],
            "primary_key": primary_key,
            **fields,
        }
    )


REVIEWS = table(
    "shop",
    "reviews",
    (
        ("id", "integer", "Review id"),
        ("product_sku", "string"),
        ("customer_id", "integer"),
        ("stars", "int8"),
        ("body", "string"),
        ("is_verified", "boolean"),
        ("review_date", "date"),
        ("reviewed_at", "timestamp(6, 'UTC')"),
    ),
    ("id",),
    description="Product reviews.",
)


def test_columns_are_grouped_like_the_style_guide() -> None:
    groups = {c.name: column_group(c, REVIEWS.primary_key) for c in REVIEWS.columns}
    assert groups == {
        "id": "ids",
        "product_sku": "text",
        "customer_id": "ids",
        "stars": "numerics",
        "body": "text",
        "is_verified": "booleans",
        "review_date": "dates",
        "reviewed_at": "timestamps",
    }


def test_sql_has_one_import_cte_on_the_source_read_final_then_grouped_columns() -> None:
    sql = render_staging_sql(REVIEWS)
    assert sql.startswith(
        "with\n\nsource as (\n\n    select * from {{ source('shop', 'reviews') }} {{ final() }}"
    )
    assert sql.rstrip().endswith("select * from final")
    body = sql.split("    select\n", 1)[1].split("    from source")[0]
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    assert lines == [
        "-- ids",
        "id,",
        "customer_id,",
        "-- text",
        "product_sku,",
        "body,",
        "-- numerics",
        "stars,",
        "-- booleans",
        "is_verified,",
        "-- dates",
        "review_date,",
        "-- timestamps",
        "reviewed_at,",
        "_ingested_at as loaded_at",
    ]


def test_append_only_tables_are_not_read_final() -> None:
    shape = table(
        "s",
        "events",
        (("id", "integer"),),
        ("id",),
        clickhouse={"engine": "MergeTree"},
        write_disposition="append",
    )
    assert "final()" not in render_staging_sql(shape)


def test_yaml_tests_a_single_primary_key_unique_and_not_null() -> None:
    doc = yaml.safe_load(render_staging_yaml(REVIEWS))
    (model,) = doc["models"]
    assert doc["version"] == 2
    assert model["name"] == "stg_shop__reviews"
    assert model["description"] == "Product reviews."
    columns = {c["name"]: c for c in model["columns"]}
    assert list(columns) == [c.name for c in REVIEWS.columns]
    assert columns["id"]["data_tests"] == ["unique", "not_null"]
    assert columns["id"]["description"] == "Review id"
    assert "data_tests" not in columns["body"]


def test_yaml_tests_a_composite_key_as_a_unique_combination() -> None:
    shape = table("s", "supplies", (("id",), ("sku",), ("cost", "integer")), ("id", "sku"))
    (model,) = yaml.safe_load(render_staging_yaml(shape))["models"]
    assert model["data_tests"] == [{"unique": {"arguments": {"column_name": "(id, sku)"}}}]
    columns = {c["name"]: c.get("data_tests") for c in model["columns"]}
    assert columns == {"id": ["not_null"], "sku": ["not_null"], "cost": None}


def test_what_the_scaffold_reads_from_a_spec() -> None:
    shape = table(
        "shop",
        "reviews",
        (("id", "integer"), ("body", "string")),
        "id",
        clickhouse={"engine": "MergeTree"},
        write_disposition="append",
    )
    assert shape.primary_key == ["id"]
    assert [c.name for c in shape.columns] == ["id", "body"]
    assert shape.deduplicated is False
    assert shape.staging_model == "stg_shop__reviews"


def test_bad_identifiers_are_refused_before_writing() -> None:
    with pytest.raises(ValueError, match="source"):
        table("shop; drop", "t", (("id",),), ())


def test_empty_tables_are_refused() -> None:
    empty = TableSpec.model_construct(source="s", name="t", columns=[], primary_key=[])
    with pytest.raises(ValueError, match="no columns"):
        render_staging_sql(empty)


def test_a_new_source_gets_its_folder_models_file(tmp_path: Path) -> None:
    sql, yml = staging_paths(REVIEWS, tmp_path)
    assert sql == tmp_path / "models/staging/shop/stg_shop__reviews.sql"
    assert yml == tmp_path / "models/staging/shop/stg_shop__reviews.yml"


def test_an_existing_source_folder_gets_a_yaml_per_new_model(tmp_path: Path) -> None:
    folder = tmp_path / "models/staging/shop"
    folder.mkdir(parents=True)
    (folder / "_shop__models.yml").write_text("version: 2\nmodels:\n  - name: stg_shop__x\n")
    _, yml = staging_paths(REVIEWS, tmp_path)
    assert yml == folder / "stg_shop__reviews.yml"


def test_a_model_gets_its_own_yaml_even_beside_a_folder_file(tmp_path: Path) -> None:
    folder = tmp_path / "models/staging/shop"
    folder.mkdir(parents=True)
    (folder / "stg_shop__reviews.sql").write_text("select 1\n")
    text = "version: 2\nmodels:\n  - name: stg_shop__reviews\n"
    (folder / "_shop__models.yml").write_text(text)
    _, yml = staging_paths(REVIEWS, tmp_path)
    assert yml == folder / "stg_shop__reviews.yml"
