"""dbt models, seeds and snapshots as assets, split in two `@dbt_assets`:

- the incremental models (`config.materialized:incremental`): daily partitions; a run (one day or
  a single-run backfill range) passes its window as `--vars {start_date, end_date}`;
- everything else, unpartitioned.

Both stream dbt events with column schema metadata, then add rows, size and partitions read from
ClickHouse's `system.parts`.
"""
# no `from __future__ import annotations`: Dagster reads the context and resource annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_clickhouse import ClickhouseResource
from dagster_dbt import DbtCliResource, DbtProject, dbt_assets

from orchestration.defs.clickhouse import fetch_final_count, fetch_table_stats
from orchestration.defs.partitions import Daily, distinct, suffix, window_vars
from orchestration.defs.transform.project import INCREMENTAL_SELECT, Manifest
from orchestration.defs.translators import DbtTranslator


def build_dbt_assets(
    project: DbtProject,
    manifest: Manifest,
    translator: DbtTranslator,
    incremental: Mapping[str, Daily],
) -> list[dg.AssetsDefinition]:
    """`incremental`: the daily partitions of each incremental model (by unique id), those of
    the raw tables it reads (`partitions.model_partitions`)."""
    relations = manifest.relations_by_unique_id()
    # ReplacingMergeTree models: their row count is the rows under FINAL
    replacing = {
        n["unique_id"]
        for n in manifest.asset_nodes
        if "ReplacingMergeTree" in str((n.get("config") or {}).get("engine") or "")
    }
    has_incremental = any(manifest.is_incremental(n) for n in manifest.asset_nodes)
    out: list[dg.AssetsDefinition] = []
    definitions = distinct(incremental.values())
    for definition in definitions:
        names = sorted(
            manifest.data["nodes"][uid]["name"] for uid, d in incremental.items() if d == definition
        )
        out.append(
            _incremental_assets(
                project,
                manifest,
                translator,
                definition,
                select=" ".join(names) if len(definitions) > 1 else INCREMENTAL_SELECT,
                name="dbt_incremental" + suffix(definition, definitions),
                relations=relations,
                replacing=replacing,
            )
        )

    @dbt_assets(
        manifest=manifest.data,
        project=project,
        exclude=INCREMENTAL_SELECT if has_incremental else None,
        name="dbt_models",
        backfill_policy=dg.BackfillPolicy.single_run(),  # lets ranged runs include them
        dagster_dbt_translator=translator,
    )
    def dbt_models(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, clickhouse: ClickhouseResource
    ) -> Iterator[Any]:
        yield from _run_dbt(context, dbt, ["build"], clickhouse, relations, replacing)

    out.append(dbt_models)
    return out


def _incremental_assets(
    project: DbtProject,
    manifest: Manifest,
    translator: DbtTranslator,
    partitions_def: Daily,
    *,
    select: str,
    name: str,
    relations: dict[str, Any],
    replacing: set[str],
) -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=manifest.data,
        project=project,
        select=select,
        name=name,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        dagster_dbt_translator=translator,
    )
    def _assets(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, clickhouse: ClickhouseResource
    ) -> Iterator[Any]:
        dbt_vars = window_vars(context.partition_time_window)
        context.log.info(f"dbt window {dbt_vars}")
        args = ["build", "--vars", json.dumps(dbt_vars)]
        yield from _run_dbt(context, dbt, args, clickhouse, relations, replacing)

    return _assets


def _run_dbt(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    args: list[str],
    clickhouse: ClickhouseResource,
    relations: dict[str, Any],
    replacing: set[str],
) -> Iterator[Any]:
    """`dbt <args>` for the selected assets: events with column schema and ClickHouse metadata.

    dbt's eager indirect selection also runs tests of assets outside this step (Dagster records
    them as observations); those may fail only because the other asset is not built yet. So the
    step fails on a model error or a failed test of *this step's* checks, not on those."""
    invocation = dbt.cli(args, context=context, raise_on_error=False)
    events = invocation.stream().fetch_column_metadata(with_column_lineage=False)
    own_tests: set[str] = set()
    with clickhouse.get_connection() as client:
        for event in events:
            unique_id = _unique_id(event)
            if isinstance(event, dg.AssetCheckResult | dg.AssetCheckEvaluation) and unique_id:
                own_tests.add(unique_id)
            relation = relations.get(unique_id) if unique_id else None
            if relation is not None and isinstance(event, dg.Output | dg.AssetMaterialization):
                stats = fetch_table_stats(client, [relation]).get(relation)
                if stats is not None:
                    final = fetch_final_count(client, relation) if unique_id in replacing else None
                    extra = stats.as_metadata(relation, final)
                    event = event.with_metadata({**event.metadata, **extra})
            yield event
    failures = failed_nodes(invocation.get_artifact("run_results.json"), own_tests)
    if failures:
        raise dg.Failure(
            description=f"dbt {args[0]} failed: {', '.join(sorted(failures))}",
            metadata={"failed_nodes": sorted(failures)},
        )


def failed_nodes(run_results: dict[str, Any], own_tests: set[str]) -> list[str]:
    """Models, seeds, snapshots that errored, and this step's tests that errored or failed."""
    out = []
    for result in run_results.get("results", []):
        unique_id, status = result["unique_id"], result["status"]
        if unique_id.startswith("test."):
            if status in ("error", "fail") and unique_id in own_tests:
                out.append(unique_id)
        elif status in ("error", "runtime error"):
            out.append(unique_id)
    return out


def _unique_id(event: Any) -> str | None:
    value = (getattr(event, "metadata", None) or {}).get("unique_id")
    return getattr(value, "text", value)
