"""README "Add a source table", followed literally in an isolated copy of the project.

New sample file → `elt schema new` (the YAML) → review → `elt schema scaffold-dbt` (staging
model + dbt sources) → files land →
materialize the new assets through Dagster → rows in ClickHouse and the staging model built.
No Python is edited: the new table exists only as YAML, SQL and a landing file.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from .conftest import make_project

pytestmark = [pytest.mark.integration, pytest.mark.example]  # the shipped Jaffle Shop example

SAMPLE = """id,order_id,rating,comment,reviewed_at
rv-1,o-1,5,Great jaffle,2018-09-01T10:00:00
rv-2,o-2,3,Fine,2018-09-02T11:30:00
rv-3,o-3,4,Good coffee,2018-09-03T08:15:00
rv-4,o-4,1,Cold,2018-09-03T09:00:00
"""
SELECTION = 'key:"raw/jaffle_shop/reviews"+'


@pytest.fixture(scope="module")
def walked(tmp_path_factory: pytest.TempPathFactory, jafgen_cache: Path):
    base = tmp_path_factory.mktemp("walkthrough")
    project = make_project(base, jafgen_cache)
    steps: dict[str, str] = {}
    try:
        # 1. a sample of the new table's files
        sample = base / "reviews.csv"
        sample.write_text(SAMPLE)
        # 2. draft the schema YAML from it (key, types and cursor inferred)
        new = project.elt("schema", "new", "jaffle_shop", "reviews", "--from", str(sample))
        assert new.returncode == 0, new.stdout + new.stderr
        steps["new"] = new.stdout
        # 3. review: validate the folder, then generate the staging model and the dbt sources
        validate = project.elt("schema", "validate")
        assert validate.returncode == 0, validate.stdout + validate.stderr
        scaffold = project.elt("schema", "scaffold-dbt", "jaffle_shop", "reviews")
        assert scaffold.returncode == 0, scaffold.stdout + scaffold.stderr
        steps["scaffold"] = scaffold.stdout
        # 4. the files arrive where the YAML's files.path points
        spec = yaml.safe_load((project.schemas_dir / "jaffle_shop" / "reviews.yml").read_text())
        landing = project.home / "landing" / Path(spec["files"]["path"]).parent
        landing.mkdir(parents=True, exist_ok=True)
        (landing / "reviews-2018-09-03.csv").write_text(SAMPLE)
        # 5. materialize the new assets (and everything downstream) through Dagster
        run = project.elt("demo", "--select", SELECTION)
        steps["materialize"] = run.stdout + run.stderr
        assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-4000:]
        yield project, steps
    finally:
        from warehouse.lifecycle import stop

        stop(project.home / "warehouse")


def sample_rows() -> list[dict[str, str]]:
    return list(csv.DictReader(SAMPLE.splitlines()))


def test_new_table_lands_in_clickhouse(walked) -> None:
    project, _ = walked
    client = project.client()
    rows = client.query(
        "select id, rating from raw.jaffle_shop___reviews final order by id"
    ).result_rows
    assert rows == [(r["id"], int(r["rating"])) for r in sample_rows()]


def test_new_staging_model_is_built_and_tested(walked) -> None:
    project, steps = walked
    client = project.client()
    engine = client.query(
        "select engine from system.tables where database = 'staging'"
        " and name = 'stg_jaffle_shop__reviews'"
    ).result_rows
    assert engine == [("View",)]
    count = client.query("select count() from staging.stg_jaffle_shop__reviews").result_rows
    assert count == [(len(sample_rows()),)]
    out = steps["materialize"]
    assert "staging/stg_jaffle_shop__reviews" in out
    assert "elt demo: OK" in out


def test_dagster_recorded_the_new_assets_and_their_checks(walked) -> None:
    import dagster as dg

    project, _ = walked
    instance = dg.DagsterInstance.from_config(str(project.dagster_home))
    try:
        for path in (["raw", "jaffle_shop", "reviews"], ["staging", "stg_jaffle_shop__reviews"]):
            assert instance.get_latest_materialization_event(dg.AssetKey(path)) is not None
        results = {}
        for run in instance.get_runs():
            records = instance.get_records_for_run(
                run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
            ).records
            for record in records:
                data = record.event_log_entry.dagster_event.event_specific_data
                results[(data.asset_key.to_user_string(), data.check_name)] = data.passed
    finally:
        instance.dispose()
    staging_checks = {k: v for k, v in results.items() if k[0].endswith("stg_jaffle_shop__reviews")}
    assert staging_checks, "the scaffolded unique/not_null tests did not run as asset checks"
    assert all(results.values()), results


def test_scaffold_wrote_the_model_and_regenerated_the_sources(walked) -> None:
    project, steps = walked
    folder = project.dbt_project_dir / "models" / "staging" / "jaffle_shop"
    drafted = [line for line in steps["new"].splitlines() if line.startswith("wrote ")]
    assert drafted == [f"wrote {project.schemas_dir / 'jaffle_shop' / 'reviews.yml'}"]
    written = {
        line.removeprefix("wrote ").strip()
        for line in steps["scaffold"].splitlines()
        if line.startswith("wrote ")
    }
    assert written == {
        str(folder / "stg_jaffle_shop__reviews.sql"),
        str(folder / "stg_jaffle_shop__reviews.yml"),  # the folder's models file is hand-written
        str(folder / "_jaffle_shop__sources.yml"),
    }
    sources = yaml.safe_load((folder / "_jaffle_shop__sources.yml").read_text())
    tables = {t["name"] for t in sources["sources"][0]["tables"]}
    assert "reviews" in tables
