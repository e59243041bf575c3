"""Jobs built from asset selections (no hand-wired ops)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition as AssetJob,  # what define_asset_job returns
)

from ingestion.schema import TableSpec, by_source
from orchestration.defs.ingestion.assets import INGESTION_RETRY
from orchestration.defs.naming import table_key
from orchestration.defs.partitions import Daily, distinct, suffix

FULL_BUILD_JOB = "full_build"
# run tags deploy/dagster.yaml limits concurrency on (QueuedRunCoordinator tag limits)
INGESTION_TAGS = {"elt/kind": "ingestion"}
HEAVY_TAGS = {"elt/warehouse": "heavy"}
DAILY_PARTITION_JOB = "daily_partition"


def ingest_job_name(source: str, partitioned: bool, suffix: str = "") -> str:
    return f"ingest_{source}_daily{suffix}" if partitioned else f"ingest_{source}"


IngestJobs = dict[tuple[str, Daily | None], AssetJob]


def ingestion_jobs(
    tables: Sequence[TableSpec], partitions: Mapping[dg.AssetKey, Daily]
) -> IngestJobs:
    """Per source: one job for its unpartitioned tables and one per daily partitions definition
    of its partitioned tables (a job's partitions are inferred from its assets)."""
    jobs: IngestJobs = {}
    for source, source_tables in by_source(tables).items():
        defined = [partitions.get(table_key(t)) for t in source_tables]
        for definition in [None, *distinct(defined)]:
            keys = [
                table_key(t) for t in source_tables if partitions.get(table_key(t)) == definition
            ]
            if not keys:
                continue
            partitioned = definition is not None
            name = ingest_job_name(
                source, partitioned, suffix(definition, defined) if partitioned else ""
            )
            jobs[(source, definition)] = dg.define_asset_job(
                name,
                selection=dg.AssetSelection.assets(*keys),
                op_retry_policy=INGESTION_RETRY,
                description=f"Load the {'daily' if partitioned else 'other'} {source} tables.",
                tags={"elt/source": source, **INGESTION_TAGS},
            )
    return jobs


def daily_partition_jobs(
    raw: Mapping[dg.AssetKey, Daily], models: Mapping[dg.AssetKey, Daily]
) -> dict[Daily, AssetJob]:
    """Per daily partitions definition, one day end to end: the day's window into the raw event
    tables, the models in between (views: they give the job its order, raw before dbt) and the
    dbt models partitioned by day (their window passed as vars)."""
    definitions = distinct([*raw.values(), *models.values()])
    jobs = {}
    for definition in definitions:
        raw_keys = [k for k, d in raw.items() if d == definition]
        model_keys = [k for k, d in models.items() if d == definition]
        raw_sel = dg.AssetSelection.assets(*raw_keys)
        model_sel = dg.AssetSelection.assets(*model_keys)
        between = raw_sel.downstream() & model_sel.upstream()
        jobs[definition] = dg.define_asset_job(
            DAILY_PARTITION_JOB + suffix(definition, definitions),
            selection=raw_sel | model_sel | between,
            description="Ingest one day of the event tables and rebuild that day in the dbt "
            "models.",
            tags=INGESTION_TAGS,
        )
    return jobs


def full_build_job(partitions: Mapping[dg.AssetKey, Daily]) -> AssetJob:
    """Everything: every raw table, every dbt model and their checks (partitioned assets for the
    run's day or day range). A job holds one partitions definition: with several (tables of
    different starts) the full build is the unpartitioned assets, and each definition's days run
    in its own daily partition job."""
    selection = dg.AssetSelection.all()
    if len(distinct(partitions.values())) > 1:
        selection = selection - dg.AssetSelection.assets(*partitions)
    return dg.define_asset_job(
        FULL_BUILD_JOB,
        selection=selection,
        description="Full build: all raw tables, all dbt models and checks.",
        tags={**INGESTION_TAGS, **HEAVY_TAGS},
    )
