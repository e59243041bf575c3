"""The only module that knows the ingestion package's API: schema specs -> RawTable, and the
dlt source / pipeline of a source (built by `ingestion.pipeline`)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.settings import settings
from orchestration.defs.raw_tables import RawColumn, RawTable


def raw_table_from_spec(spec: Any, raw_database: str = "raw") -> RawTable:
    from ingestion.types import clickhouse_type

    columns = tuple(
        RawColumn(
            name=c.name,
            type=clickhouse_type(c.parsed_type, spec.is_nullable(c)),
            description=c.description or None,
            nullable=spec.is_nullable(c),
        )
        for c in spec.columns
    )
    partitioning = spec.partitioning if spec.daily_partitioned else None
    return RawTable(
        source=spec.source,
        name=spec.name,
        description=spec.description or None,
        owners=tuple(spec.owners),
        tags=tuple((t, "") for t in spec.tags),
        columns=columns,
        primary_key=tuple(spec.primary_key),
        cursor=spec.cursor,
        freshness=spec.freshness.max_lag_delta if spec.freshness else None,
        cron=spec.schedule,
        daily_start=partitioning.start if partitioning else None,
        raw_database=raw_database,
        replacing_key=tuple(spec.order_by)
        if spec.clickhouse.engine == "ReplacingMergeTree"
        else (),
        partition_by=spec.clickhouse.partition_by,
        landing_glob=spec.files.path if spec.files and "://" not in spec.files.path else None,
    )


def load_specs(schemas_dir: Path | None = None) -> list[Any]:
    from ingestion.schema import load_schemas

    return list(load_schemas(schemas_dir))


def raw_tables_from_specs(specs: Sequence[Any]) -> list[RawTable]:
    raw_database = settings().warehouse.raw_database
    return [raw_table_from_spec(s, raw_database) for s in specs]


def make_source(
    source: str,
    *,
    specs: Sequence[Any],
    tables: Sequence[str],
    window: tuple[dt.datetime, dt.datetime] | None = None,
) -> Any:
    """The dlt source of `source` restricted to `tables`; a window loads only [start, end)."""
    from ingestion import pipeline

    return pipeline.build_source(source, list(specs), window=window, tables=list(tables))


def spec_source(source: str, tables: Sequence[str]) -> Any:
    """The shape of `source` the asset specs are read from: its name and one resource per table,
    named as in the generated source (`make_source`). Building the generated source (hints,
    adapters, a dlt schema, the row-processing imports) costs ~50 ms per source at load time
    for nothing: every run builds the generated source of its own window."""
    from dlt.common.schema import Schema
    from dlt.extract import DltResource, DltSource

    resources = [
        DltResource.from_data(_built_at_run_time, name=table, section=source) for table in tables
    ]
    return DltSource(Schema(source), source, resources)


def _built_at_run_time() -> Any:
    raise RuntimeError("the load-time spec source is never run; runs build the generated source")
    yield  # a generator, as dlt resources are


def make_pipeline(source: str, *, window: tuple[dt.datetime, dt.datetime] | None = None) -> Any:
    """`elt_<source>`, or a pipeline (working dir) of its own per window start."""
    from ingestion import destination

    return destination.make_pipeline(source, window=window)


@functools.cache
def spec_pipeline() -> Any:
    """The pipeline handed to every `@dlt_assets` at load time. Only the asset specs use it (each
    run builds the pipeline of its source and window); a dlt pipeline costs ~0.3-0.5 s to
    construct, so the code location builds a single one."""
    return make_pipeline("specs")  # dlt pipeline `elt_specs`, never run


def run_kwargs() -> dict[str, Any]:
    """Keyword arguments every `pipeline.run` of the project uses (parquet loader files)."""
    from ingestion import destination

    return dict(destination.RUN_KWARGS)


def committed_metadata(pipeline: Any, source: str, tables: Sequence[str]) -> dict[str, dict]:
    """Per table: rows and rejected rows the pipeline's last run committed (resumed included)."""
    from ingestion.pipeline import committed_metadata as committed

    return committed(pipeline, source, list(tables))
