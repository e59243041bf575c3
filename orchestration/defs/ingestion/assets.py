"""dlt assets generated from the schema YAMLs: one asset per dlt resource (= raw table).

Per source there are at most two multi-assets run by dagster-dlt (each subsettable, so every
table is its own asset): the daily-partitioned event tables, whose runs load exactly their window
[start, end) (that window's files and rows, filtered on the partitioning column; the incremental
cursor and file state are left alone) with a dlt pipeline of their own per window, and the other
tables. A new YAML is a new asset; no Python changes.
"""
# no `from __future__ import annotations`: Dagster reads the context and resource annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import dagster as dg
from dagster_clickhouse import ClickhouseResource
from dagster_dlt import DagsterDltResource
from dagster_dlt.translator import DltResourceTranslatorData
from dlt.common.schema import Schema
from dlt.extract import DltResource, DltSource

from ingestion import destination, pipeline
from ingestion.schema import EmptyWindowError, TableSpec, by_source
from orchestration.defs.clickhouse import fetch_final_count, fetch_table_stats, raw_relation
from orchestration.defs.ingestion.run_config import IngestionConfig, limit_rows
from orchestration.defs.naming import table_key
from orchestration.defs.partitions import Daily, distinct, suffix
from orchestration.defs.translators import DltTranslator, column_schema

# transient failures (endpoint restart, network): retry the ingestion step, backing off
INGESTION_RETRY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL)


def build_dlt_assets(
    tables: Sequence[TableSpec],
    *,
    partitions: Mapping[dg.AssetKey, Daily],
    translator: DltTranslator,
) -> list[dg.AssetsDefinition]:
    """Per source: one multi-asset of its unpartitioned tables, and one per daily partitions
    definition of its partitioned tables (each table's own start)."""
    out = []
    for source, source_tables in by_source(tables).items():
        defined = [partitions.get(table_key(t)) for t in source_tables]
        for definition in [None, *distinct(defined)]:
            group = [t for t in source_tables if partitions.get(table_key(t)) == definition]
            if group:
                name = source if definition is None else f"{source}_daily"
                if definition is not None:
                    name += suffix(definition, defined)
                out.append(
                    _dlt_multi_asset(
                        source,
                        group,
                        name=name,
                        spec_source=spec_source(source, [t.name for t in group]),
                        partitions_def=definition,
                        translator=translator,
                    )
                )
    return out


def _dlt_multi_asset(
    source: str,
    tables: Sequence[TableSpec],
    *,
    name: str,
    spec_source: Any,
    partitions_def: dg.PartitionsDefinition | None,
    translator: DltTranslator,
) -> dg.AssetsDefinition:
    names = [t.name for t in tables]
    relations = {table_key(t): raw_relation(t) for t in tables}
    by_key = {table_key(t): t for t in tables}
    day_columns = {table_key(t): t.partitioning.column for t in tables if t.partitioning}

    # the specs dagster-dlt's @dlt_assets builds, without the source, pipeline and translator
    # objects it adds to their metadata (shown as "(unserializable)"): each run passes them, and
    # the specs come from the YAMLs alone (no pipeline is built while definitions load)
    specs = [
        translator.get_asset_spec(DltResourceTranslatorData(resource=r, pipeline=None))
        for r in spec_source.selected_resources.values()
    ]

    @dg.multi_asset(
        specs=specs,
        name=f"dlt_{name}",
        can_subset=True,
        partitions_def=partitions_def,
        # single run for a range of days; set on the unpartitioned ones too, so a ranged run of
        # everything (`dagster asset materialize --partition-range`) includes them
        backfill_policy=dg.BackfillPolicy.single_run(),
        op_tags={"elt/source": source},
        pool=f"dlt_{source}",
    )
    def _assets(
        context: dg.AssetExecutionContext,
        config: IngestionConfig,
        dlt: DagsterDltResource,
        clickhouse: ClickhouseResource,
    ) -> Iterator[Any]:
        window = None
        if partitions_def is not None:
            time_window = context.partition_time_window
            window = (time_window.start, time_window.end)
            context.log.info(f"loading {source} {names} for [{window[0]}, {window[1]})")
        # built at run time: they read the current environment; a window gets its own pipeline.
        # A file that cannot be read is recorded in `run_stats` (the others load; the step fails
        # after the load, naming it)
        run_stats = pipeline.RunStats()
        run_source = limit_rows(
            pipeline.build_source(
                source,
                list(tables),
                window=window,
                tables=names,
                stats=run_stats,
                reload=config.reads_loaded_files,
            ),
            config.limit,
        )
        run_pipeline = destination.make_pipeline(source, window=window)
        extra_kwargs = config.run_kwargs(partitioned=window is not None)
        try:
            events = dlt.run(
                context=context,
                dlt_source=run_source,
                dlt_pipeline=run_pipeline,
                dagster_dlt_translator=translator,
                **destination.RUN_KWARGS,
                **extra_kwargs,
            )
            results = list(events)
        except Exception as exc:
            if (empty := _empty_window(exc)) is not None:  # the data, not the network: no retry
                raise dg.Failure(description=str(empty)) from exc
            # the ingestion RetryPolicy, applied from inside the step so it holds in every job
            # (also the UI's ad-hoc runs) and never retries dbt steps of the same run
            policy = INGESTION_RETRY
            delay = (policy.delay or 0) * (2**context.retry_number)
            raise dg.RetryRequested(max_retries=policy.max_retries, seconds_to_wait=delay) from exc
        # rows this run committed, resumed load packages of an interrupted run included
        committed = pipeline.committed_metadata(run_pipeline, source, names)
        with clickhouse.get_connection() as client:
            stats = fetch_table_stats(client, [relations[r.asset_key] for r in results])
            for result in results:
                table = by_key[result.asset_key]
                relation = relations[result.asset_key]
                metadata = materialization_metadata(result.metadata or {}, table)
                metadata.update(committed.get(table.name, {}))
                if relation in stats:
                    final = fetch_final_count(client, relation) if table.replacing_key else None
                    metadata.update(stats[relation].as_metadata(relation, final))
                if window is not None and len(context.partition_keys) == 1:
                    # this partition's rows in the table, not the rows of the whole load
                    metadata["dagster/partition_row_count"] = dg.MetadataValue.int(
                        fetch_final_count(
                            client, relation, day_columns.get(result.asset_key), window
                        )
                    )
                yield dg.MaterializeResult(asset_key=result.asset_key, metadata=metadata)
        failed = [f for name in names for f in run_stats.table(name).failed_files]
        if failed:
            raise dg.Failure(
                description=failed_files_message(failed, committed),
                metadata={"failed_files": [f"{f.file}: {f.error}" for f in failed]},
            )

    return _assets


def failed_files_message(failed: Sequence[Any], committed: Mapping[str, Any]) -> str:
    """Which files could not be read, and what the step's load committed all the same."""
    rows = sum(m.get("rows_committed", 0) for m in committed.values())
    lines = [f"{len(failed)} file(s) could not be read; the other files loaded ({rows} row(s)):"]
    lines += [f"  {f.file}: {f.error}" for f in failed]
    return "\n".join(lines)


def _empty_window(exc: BaseException | None) -> EmptyWindowError | None:
    """The EmptyWindowError behind dlt's wrapping exceptions, if that is what failed."""
    while exc is not None:
        if isinstance(exc, EmptyWindowError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def materialization_metadata(metadata: Mapping[str, Any], table: TableSpec) -> dict[str, Any]:
    """dagster-dlt's metadata without the dlt working dir's local file paths, and the column
    schema in ClickHouse types (dlt reports its own: bigint, timestamp...)."""
    out = dict(metadata)
    jobs = out.get("jobs")
    value = getattr(jobs, "data", jobs)
    if isinstance(value, list):
        out["jobs"] = dg.MetadataValue.json(
            [{k: v for k, v in job.items() if k != "file_path"} for job in value]
        )
    out["dagster/column_schema"] = dg.MetadataValue.table_schema(column_schema(table))
    return out


def spec_source(source: str, tables: Sequence[str]) -> DltSource:
    """The shape of `source` the asset specs are read from: its name and one resource per table,
    named as in the generated source. Building the generated source (hints, adapters, a dlt
    schema) costs ~50 ms per source at load time for nothing: every run builds the generated
    source of its own window."""
    resources = [
        DltResource.from_data(_built_at_run_time, name=table, section=source) for table in tables
    ]
    return DltSource(Schema(source), source, resources)


def _built_at_run_time() -> Iterator[Any]:
    raise RuntimeError("the load-time spec source is never run; runs build the generated source")
    yield  # a generator, as dlt resources are
