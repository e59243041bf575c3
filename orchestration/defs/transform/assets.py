"""dbt models, seeds and snapshots as assets of one `@dbt_assets`: the incremental models
(`config.materialized:incremental`) daily-partitioned, everything else unpartitioned; a run with
partitioned models (one day or a single-run range) passes its window in the environment
(`partitions.window_env`).

It streams dbt events and adds what ClickHouse says of each table: columns with their ClickHouse
types, rows (under FINAL for a ReplacingMergeTree), size and partitions. dbt's partial-parse
state of each invocation is kept for the next one (`keep_partial_parse`), so only the first dbt
run after a change (or in a new environment) parses the whole project.
"""
# no `from __future__ import annotations`: Dagster reads the context and resource annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_clickhouse import ClickhouseResource
from dagster_dbt import DbtCliResource, DbtProject, dbt_assets

from core.environ import patched_environ
from orchestration.defs.clickhouse import fetch_columns, fetch_final_count, fetch_table_stats
from orchestration.defs.partitions import Daily, window_env
from orchestration.defs.transform.project import Manifest
from orchestration.defs.translators import DbtTranslator


def build_dbt_assets(
    project: DbtProject,
    manifest: Manifest,
    translator: DbtTranslator,
    incremental: Mapping[str, Daily],
) -> list[dg.AssetsDefinition]:
    """One `@dbt_assets` for the whole project, whose incremental models carry the daily
    partitions of the raw tables they read (`incremental`, by unique id; `partitions.
    model_partitions`) and the rest none. A run then builds the unpartitioned models and the
    partitioned ones of one partitions definition (one day or a single-run range) in one step:
    one dbt invocation, as `dbt build` by hand."""
    relations = manifest.relations_by_unique_id()
    # ReplacingMergeTree models: their row count is the rows under FINAL
    replacing = {
        n["unique_id"]
        for n in manifest.asset_nodes
        if "ReplacingMergeTree" in str((n.get("config") or {}).get("engine") or "")
    }
    translator = translator.with_partitions(incremental)

    @dbt_assets(
        manifest=manifest.data,
        project=project,
        name="dbt_models",
        backfill_policy=dg.BackfillPolicy.single_run(),  # a range of days in one run
        dagster_dbt_translator=translator,
    )
    def dbt_models(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, clickhouse: ClickhouseResource
    ) -> Iterator[Any]:
        window = window_env(context.partition_time_window) if _partitioned(context) else {}
        if window:
            context.log.info(f"dbt window {window}")
        with patched_environ(window):  # dagster-dbt hands os.environ to the dbt process
            yield from _run_dbt(context, dbt, ["build"], clickhouse, relations, replacing)

    return [dbt_models]


def _partitioned(context: dg.AssetExecutionContext) -> bool:
    specs = context.assets_def.specs_by_key
    return any(specs[key].partitions_def is not None for key in context.selected_asset_keys)


def _run_dbt(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    args: list[str],
    clickhouse: ClickhouseResource,
    relations: dict[str, Any],
    replacing: set[str],
) -> Iterator[Any]:
    """`dbt <args>` for the selected assets: events with ClickHouse metadata.

    dbt's eager indirect selection also runs tests of assets outside this step (Dagster records
    them as observations); those may fail only because the other asset is not built yet. So the
    step fails on a model error or a failed test of *this step's* checks, not on those."""
    invocation = dbt.cli(args, context=context, raise_on_error=False)
    own_tests: set[str] = set()
    with clickhouse.get_connection() as client:
        for event in invocation.stream():
            unique_id = _unique_id(event)
            if isinstance(event, dg.AssetCheckResult | dg.AssetCheckEvaluation) and unique_id:
                own_tests.add(unique_id)
            relation = relations.get(unique_id) if unique_id else None
            if relation is not None and isinstance(event, dg.Output | dg.AssetMaterialization):
                event = event.with_metadata(
                    {**event.metadata, **_table_metadata(client, relation, unique_id in replacing)}
                )
            yield event
    keep_partial_parse(invocation.target_path, Path(dbt.project_dir))
    failures = failed_nodes(invocation.get_artifact("run_results.json"), own_tests)
    if failures:
        raise dg.Failure(
            description=f"dbt {args[0]} failed: {', '.join(sorted(failures))}",
            metadata={"failed_nodes": sorted(failures)},
        )


def _table_metadata(client: Any, relation: Any, replacing: bool) -> dict[str, Any]:
    """Columns with their ClickHouse types; rows, size and partitions of a table (not a view)."""
    out: dict[str, Any] = {}
    columns = fetch_columns(client, relation)
    if columns:
        out["dagster/column_schema"] = dg.MetadataValue.table_schema(
            dg.TableSchema(columns=[dg.TableColumn(name, type_) for name, type_ in columns])
        )
    stats = fetch_table_stats(client, [relation]).get(relation)
    if stats is not None:
        final = fetch_final_count(client, relation) if replacing else None
        out |= stats.as_metadata(relation, final)
    return out


PARTIAL_PARSE = "partial_parse.msgpack"


def keep_partial_parse(invocation_target: Path, project_dir: Path) -> None:
    """Make this invocation's partial-parse state the project's (`target/`), which dagster-dbt
    copies into the next invocation's own target directory. Replaced atomically: concurrent runs
    read the old state or the new one, never half of one, and never wait for each other."""
    source = invocation_target / PARTIAL_PARSE
    target = project_dir / "target"
    if not source.is_file() or not target.is_dir():
        return
    handle, temporary = tempfile.mkstemp(prefix=f".{PARTIAL_PARSE}.", dir=target)
    os.close(handle)
    try:
        shutil.copyfile(source, temporary)
        os.replace(temporary, target / PARTIAL_PARSE)
    except OSError:
        Path(temporary).unlink(missing_ok=True)


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
