"""Jobs built from asset selections (no hand-wired ops)."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition as AssetJob,  # what define_asset_job returns
)

from orchestration.defs.ingestion.assets import INGESTION_RETRY
from orchestration.defs.raw_tables import RawTable, by_source

FULL_BUILD_JOB = "full_build"
# run tags deploy/dagster.yaml limits concurrency on (QueuedRunCoordinator tag limits)
INGESTION_TAGS = {"elt/kind": "ingestion"}
HEAVY_TAGS = {"elt/warehouse": "heavy"}
DAILY_PARTITION_JOB = "daily_partition"


def ingest_job_name(source: str, partitioned: bool) -> str:
    return f"ingest_{source}_daily" if partitioned else f"ingest_{source}"


def ingestion_jobs(tables: Sequence[RawTable]) -> dict[tuple[str, bool], AssetJob]:
    """Per source: one job for its unpartitioned tables and one for its daily tables
    (a job's partitions are inferred from its assets)."""
    jobs = {}
    for source, source_tables in by_source(tables).items():
        for partitioned in (False, True):
            keys = [t.key for t in source_tables if t.partitioned == partitioned]
            if keys:
                jobs[(source, partitioned)] = dg.define_asset_job(
                    ingest_job_name(source, partitioned),
                    selection=dg.AssetSelection.assets(*keys),
                    op_retry_policy=INGESTION_RETRY,
                    description=f"Load the {'daily' if partitioned else 'other'} {source} tables.",
                    tags={"elt/source": source, **INGESTION_TAGS},
                )
    return jobs


def daily_partition_job(
    raw_keys: Sequence[dg.AssetKey], model_keys: Sequence[dg.AssetKey]
) -> AssetJob:
    """One day end to end: the day's window into the raw event tables, the models in between
    (views: they give the job its order, raw before dbt) and the dbt models partitioned by day
    (their window passed as vars)."""
    raw, models = dg.AssetSelection.assets(*raw_keys), dg.AssetSelection.assets(*model_keys)
    between = raw.downstream() & models.upstream()
    return dg.define_asset_job(
        DAILY_PARTITION_JOB,
        selection=raw | models | between,
        description="Ingest one day of the event tables and rebuild that day in the dbt models.",
        tags=INGESTION_TAGS,
    )


def full_build_job() -> AssetJob:
    """Everything: every raw table, every dbt model and their checks (partitioned assets for the
    run's day or day range)."""
    return dg.define_asset_job(
        FULL_BUILD_JOB,
        selection=dg.AssetSelection.all(),
        description="Full build: all raw tables, all dbt models and checks.",
        tags={**INGESTION_TAGS, **HEAVY_TAGS},
    )
