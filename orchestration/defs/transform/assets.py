"""dbt models, seeds and snapshots as assets, split in two `@dbt_assets`:

- the incremental models (`config.materialized:incremental`): daily partitions; a run (one day or
  a single-run backfill range) passes its window as `--vars {start_date, end_date}`;
- everything else, unpartitioned.

Both stream dbt events with column schema metadata, then add rows, size and partitions read from
ClickHouse's `system.parts`.
"""
# no `from __future__ import annotations`: Dagster reads the context and resource annotations

import json
from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliInvocation, DbtCliResource, DbtProject, dbt_assets

from orchestration.defs.clickhouse import fetch_table_stats
from orchestration.defs.partitions import window_vars
from orchestration.defs.resources import ClickHouseResource
from orchestration.defs.transform.project import INCREMENTAL_SELECT, Manifest
from orchestration.defs.translators import DbtTranslator


def build_dbt_assets(
    project: DbtProject,
    manifest: Manifest,
    translator: DbtTranslator,
    daily: dg.PartitionsDefinition,
) -> list[dg.AssetsDefinition]:
    relations = manifest.relations_by_unique_id()
    has_incremental = any(manifest.is_incremental(n) for n in manifest.asset_nodes)
    out: list[dg.AssetsDefinition] = []

    if has_incremental:

        @dbt_assets(
            manifest=manifest.data,
            project=project,
            select=INCREMENTAL_SELECT,
            name="dbt_incremental",
            partitions_def=daily,
            backfill_policy=dg.BackfillPolicy.single_run(),
            dagster_dbt_translator=translator,
        )
        def dbt_incremental(
            context: dg.AssetExecutionContext, dbt: DbtCliResource, clickhouse: ClickHouseResource
        ) -> Iterator[Any]:
            dbt_vars = window_vars(context.partition_time_window)
            context.log.info(f"dbt window {dbt_vars}")
            invocation = dbt.cli(["build", "--vars", json.dumps(dbt_vars)], context=context)
            yield from _with_clickhouse_metadata(invocation, clickhouse, relations)

        out.append(dbt_incremental)

    @dbt_assets(
        manifest=manifest.data,
        project=project,
        exclude=INCREMENTAL_SELECT if has_incremental else None,
        name="dbt_models",
        dagster_dbt_translator=translator,
    )
    def dbt_models(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, clickhouse: ClickHouseResource
    ) -> Iterator[Any]:
        invocation = dbt.cli(["build"], context=context)
        yield from _with_clickhouse_metadata(invocation, clickhouse, relations)

    out.append(dbt_models)
    return out


def _with_clickhouse_metadata(
    invocation: DbtCliInvocation, clickhouse: ClickHouseResource, relations: dict[str, Any]
) -> Iterator[Any]:
    events = invocation.stream().fetch_column_metadata(with_column_lineage=False)
    with clickhouse.get_client() as client:
        for event in events:
            unique_id = _unique_id(event)
            relation = relations.get(unique_id) if unique_id else None
            if relation is not None and isinstance(event, dg.Output | dg.AssetMaterialization):
                stats = fetch_table_stats(client, [relation]).get(relation)
                if stats is not None:
                    event = event.with_metadata({**event.metadata, **stats.as_metadata(relation)})
            yield event


def _unique_id(event: Any) -> str | None:
    value = (getattr(event, "metadata", None) or {}).get("unique_id")
    return getattr(value, "text", value)
