"""Partitions belong to their table: a second fixture source with its own daily partitions leaves
the first source's partition keys (and those of the incremental model it feeds) unchanged.

Fixture project of its own (schema YAMLs and a two-model dbt project), not the Jaffle example."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest
from endpoint_support import patched_environ

from orchestration.defs.transform.project import prepare_manifest
from orchestration.factory import build_definitions
from orchestration.inputs import ProjectPaths

ROOT = Path(__file__).resolve().parents[2]
EVENTS = dg.AssetKey(["raw", "fx_a", "events"])
LEGACY = dg.AssetKey(["raw", "fx_b", "legacy"])
FCT = dg.AssetKey(["marts", "fct_events"])


def table_yaml(name: str, source: str, start: str) -> str:
    return f"""
name: {name}
files:
  path: {source}/{name}/*.csv
columns:
  - name: id
    type: int64
  - name: happened_at
    type: timestamp(6, UTC)
primary_key: [id]
partitioning:
  column: happened_at
  start: {start}
"""


DBT_PROJECT = """
name: fx
version: "1.0.0"
config-version: 2
profile: clickhouse_elt
model-paths: ["models"]
models:
  fx:
    staging:
      +schema: staging
      +materialized: view
    marts:
      +schema: marts
"""

SOURCES = """
version: 2
sources:
  - name: fx_a
    schema: raw
    tables:
      - name: events
        identifier: fx_a___events
        config:
          meta:
            dagster:
              asset_key: ["raw", "fx_a", "events"]
"""

STG = "select id, happened_at from {{ source('fx_a', 'events') }}\n"
FCT_SQL = """{{ config(materialized='incremental', unique_key='id') }}
select id, happened_at from {{ ref('stg_fx_a__events') }}
{% if is_incremental() %}
where happened_at >= '{{ env_var("ELT_WINDOW_START") }}'
  and happened_at < '{{ env_var("ELT_WINDOW_END") }}'
{% endif %}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("orch-partitions")
    dbt = root / "dbt"
    (dbt / "models" / "staging").mkdir(parents=True)
    (dbt / "models" / "marts").mkdir(parents=True)
    (dbt / "dbt_project.yml").write_text(DBT_PROJECT)
    (dbt / "models" / "staging" / "_fx_a__sources.yml").write_text(SOURCES)
    (dbt / "models" / "staging" / "stg_fx_a__events.sql").write_text(STG)
    (dbt / "models" / "marts" / "fct_events.sql").write_text(FCT_SQL)
    one = root / "one" / "fx_a"
    one.mkdir(parents=True)
    (one / "events.yml").write_text(table_yaml("events", "fx_a", "2021-03-01"))
    two = root / "two"
    shutil.copytree(root / "one", two)
    (two / "fx_b").mkdir()
    (two / "fx_b" / "legacy.yml").write_text(table_yaml("legacy", "fx_b", "2015-01-01"))
    prepare_manifest(dbt, ROOT)  # as `elt dev` does: definitions only read it
    return root


def keys_of(defs: dg.Definitions, key: dg.AssetKey) -> list[str]:
    return defs.resolve_assets_def(key).partitions_def.get_partition_keys()


def test_a_second_source_with_its_own_daily_partitions_leaves_the_first_unchanged(
    project: Path,
) -> None:
    env = {"ELT_PARTITIONS_END_DATE": "2021-03-08", "ELT_DAGSTER_AUTOSTART": "0"}
    with patched_environ(env):
        one = build_definitions(ProjectPaths(project / "dbt", ROOT, project / "one"))
        two = build_definitions(ProjectPaths(project / "dbt", ROOT, project / "two"))
    first_week = [f"2021-03-0{d}" for d in range(1, 8)]
    assert keys_of(one, EVENTS) == first_week
    assert keys_of(one, FCT) == first_week  # the incremental model takes its table's days
    assert keys_of(two, EVENTS) == first_week
    assert keys_of(two, FCT) == first_week
    legacy = keys_of(two, LEGACY)
    assert legacy[0] == "2015-01-01" and legacy[-1] == "2021-03-07"
    assert len(legacy) == 2258

    # each definition runs in jobs of its own; both resolve
    repo = two.get_repository_def()
    assert repo.get_job("ingest_fx_a_daily").partitions_def.get_first_partition_key() == (
        "2021-03-01"
    )
    assert repo.get_job("ingest_fx_b_daily").partitions_def.get_first_partition_key() == (
        "2015-01-01"
    )
    daily = {
        j.name: j.partitions_def.get_first_partition_key()
        for j in repo.get_all_jobs()
        if j.name.startswith("daily_partition")
    }
    assert daily == {
        "daily_partition_20150101": "2015-01-01",
        "daily_partition_20210301": "2021-03-01",
    }
    assert repo.get_job("full_build").partitions_def is None


def test_dbt_assets_link_their_docs_page_and_show_their_sql(project: Path) -> None:
    """From the fixture project's parsed manifest (no compiled code: the Jinja is labelled)."""
    with patched_environ({"ELT_DAGSTER_AUTOSTART": "0"}):
        defs = build_definitions(ProjectPaths(project / "dbt", ROOT, project / "one"))
    spec = defs.resolve_asset_graph().get(FCT)
    assert spec.metadata["dbt/docs"] == dg.MetadataValue.url(
        "http://127.0.0.1:8080/#!/model/model.fx.fct_events"
    )
    assert "#### SQL (not compiled: Jinja as written)" in spec.description
    assert "{{ ref('stg_fx_a__events') }}" in spec.description


def test_dbt_description_prefers_compiled_sql() -> None:
    from orchestration.defs.translators import dbt_description

    props = {
        "resource_type": "model",
        "name": "m",
        "description": "M.",
        "raw_code": "select * from {{ ref('x') }}",
        "compiled_code": "select * from `analytics`.`x`",
    }
    text = dbt_description(props)
    assert text.startswith("M.\n\n#### Compiled SQL")
    assert "`analytics`.`x`" in text and "{{" not in text
