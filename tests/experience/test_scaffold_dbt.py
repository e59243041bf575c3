"""`elt schema new` (the YAML) then, after review, `elt schema scaffold-dbt` (the staging model) in
a project copy: lint-clean SQL, dbt parses, untouched output regenerated, edits kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from .conftest import BIN, ROOT, Project, make_project

pytestmark = [pytest.mark.integration, pytest.mark.example]  # uses the shipped Jaffle Shop example

SAMPLE = """id,product_sku,customer_id,stars,body,reviewed_at
r1,JAF-001,c1,5,Great jaffle,2018-09-01T10:00:00
r2,JAF-002,c2,3,Fine,2018-09-02T11:30:00
r3,BEV-001,c1,4,Good coffee,2018-09-03T08:15:00
"""


SUMMARY = "description: Product reviews, one row per review."


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory: pytest.TempPathFactory, jafgen_cache: Path) -> Project:
    base = tmp_path_factory.mktemp("scaffold")
    project = make_project(base, jafgen_cache)
    sample = base / "reviews.csv"
    sample.write_text(SAMPLE)
    # `schema new` drafts only the YAML (ELT_SCHEMAS_DIR / ELT_DBT_PROJECT_DIR point at the copy)
    new = project.elt("schema", "new", "shop", "reviews", "--from", str(sample))
    assert new.returncode == 0, new.stdout + new.stderr
    assert not staging_dir(project).exists()
    assert "elt schema scaffold-dbt shop reviews" in new.stdout
    # the review, then the staging model from the reviewed YAML
    yml = project.schemas_dir / "shop" / "reviews.yml"
    yml.write_text(yml.read_text().replace("description: TODO describe shop.reviews", SUMMARY))
    scaffold = project.elt("schema", "scaffold-dbt", "shop", "reviews")
    assert scaffold.returncode == 0, scaffold.stdout + scaffold.stderr
    project.env["SCAFFOLD_OUTPUT"] = new.stdout + scaffold.stdout
    return project


def staging_dir(project: Project) -> Path:
    return project.dbt_project_dir / "models" / "staging" / "shop"


def test_files_are_written_where_the_conventions_say(scaffolded: Project) -> None:
    folder = staging_dir(scaffolded)
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["_shop__sources.yml", "stg_shop__reviews.sql", "stg_shop__reviews.yml"]
    out = scaffolded.env["SCAFFOLD_OUTPUT"]
    assert f"wrote {scaffolded.schemas_dir / 'shop' / 'reviews.yml'}" in out
    assert all(f"wrote {folder / name}" in out for name in names)


def test_the_model_follows_the_reviewed_yaml(scaffolded: Project) -> None:
    model = yaml.safe_load((staging_dir(scaffolded) / "stg_shop__reviews.yml").read_text())
    assert model["models"][0]["description"] == "Product reviews, one row per review."
    assert "{{ final() }}" in (staging_dir(scaffolded) / "stg_shop__reviews.sql").read_text()


def test_untouched_output_is_regenerated_and_edits_are_kept(scaffolded: Project) -> None:
    sql = staging_dir(scaffolded) / "stg_shop__reviews.sql"
    model_yml = staging_dir(scaffolded) / "stg_shop__reviews.yml"
    again = scaffolded.elt("schema", "scaffold-dbt", "shop", "reviews")
    assert again.returncode == 0 and "up to date" in again.stdout
    # the analyst edits the SQL, then the YAML changes: the YAML model is regenerated, the SQL kept
    edited = sql.read_text().replace("        body,", "        trim(body) as body,")
    sql.write_text(edited)
    yml = scaffolded.schemas_dir / "shop" / "reviews.yml"
    yml.write_text(yml.read_text().replace("one row per review", "one row per review id"))
    again = scaffolded.elt("schema", "scaffold-dbt", "shop", "reviews")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"wrote {model_yml}" in again.stdout
    assert f"kept {sql}: edited since it was generated" in again.stdout
    assert sql.read_text() == edited
    assert "one row per review id" in model_yml.read_text()
    forced = scaffolded.elt("schema", "scaffold-dbt", "shop", "reviews", "--force")
    assert forced.returncode == 0 and f"wrote {sql}" in forced.stdout
    assert "trim(body)" not in sql.read_text()


def test_generated_sql_passes_the_projects_sqlfluff(scaffolded: Project) -> None:
    sql = staging_dir(scaffolded) / "stg_shop__reviews.sql"
    result = scaffolded.run(
        str(BIN / "sqlfluff"), "lint", "--config", str(ROOT / ".sqlfluff"), str(sql)
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dbt_parses_the_model_with_key_tests_on_the_new_source(scaffolded: Project) -> None:
    parsed = scaffolded.run(
        str(BIN / "dbt"),
        "parse",
        "--project-dir",
        str(scaffolded.dbt_project_dir),
        "--profiles-dir",
        str(ROOT),
    )
    assert parsed.returncode == 0, parsed.stdout + parsed.stderr
    manifest = json.loads((scaffolded.dbt_project_dir / "target" / "manifest.json").read_text())
    model = manifest["nodes"]["model.clickhouse_elt.stg_shop__reviews"]
    assert model["depends_on"]["nodes"] == ["source.clickhouse_elt.shop.reviews"]
    assert model["schema"] == "staging"
    tests = {
        (n["test_metadata"]["name"], n.get("column_name"))
        for n in manifest["nodes"].values()
        if n["resource_type"] == "test" and n.get("attached_node") == model["unique_id"]
    }
    assert {("unique", "id"), ("not_null", "id")} <= tests
    source = manifest["sources"]["source.clickhouse_elt.shop.reviews"]
    assert source["meta"]["dagster"]["asset_key"] == ["raw", "shop", "reviews"]
