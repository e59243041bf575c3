"""Build and run the generated dlt source of one schema source against ClickHouse.

    build_source(source_name, schemas=None, landing_dir=None, window=None, tables=None,
                 stats=None, prepare_tables=True, schemas_dir=None) -> dlt source
    make_pipeline(source_name, *, pipelines_dir=None, window=None, pipeline_name=None)
        -> dlt pipeline (ClickHouse `raw`)
    run_source(source_name, schemas=None, landing_dir=None, window=None, tables=None,
               pipeline=None) -> RunResult(load_info, row_counts, rejected, ...)
    RUN_KWARGS: keyword arguments for `pipeline.run(...)` (parquet loader files)

Raw tables are created from the spec (`ingestion.ddl`) when a resource starts extracting, so a
Dagster asset that runs the source through dagster-dlt gets the same tables.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo

from core.clickhouse import clickhouse_client
from core.settings import settings
from ingestion.ddl import (
    create_database_sql,
    create_loaded_files_table_sql,
    create_rejected_table_sql,
    create_table_sql,
)
from ingestion.destination import (  # re-exported: the pipeline API in one place
    RUN_KWARGS,
    default_pipeline_name,
    destination,
    loader_user,
    make_pipeline,
)
from ingestion.generator import RunStats, Window, dlt_source
from ingestion.schema import LOADED_FILES_TABLE, REJECTED_TABLE, TableSpec, load_schemas

__all__ = [
    "RUN_KWARGS",
    "RunResult",
    "build_source",
    "default_pipeline_name",
    "destination",
    "loader_user",
    "make_pipeline",
    "run_source",
]


@dataclass
class RunResult:
    """What a run loaded: dlt's load info, rows per table, rejected rows per table."""

    load_info: LoadInfo | None
    row_counts: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    files_read: dict[str, int] = field(default_factory=dict)
    new_columns: dict[str, list[str]] = field(default_factory=dict)
    rejected_loaded: int = 0  # rows written to raw.<source>____rejected_rows by this run

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def summary(self) -> dict[str, Any]:
        return {
            "rows": self.row_counts,
            "rejected": self.rejected,
            "rejected_total": self.rejected_total,
            "files_read": self.files_read,
            "new_columns": {k: v for k, v in self.new_columns.items() if v},
        }


_prepared: set[tuple[str, str, int, str]] = set()
_prepared_lock = threading.Lock()


def prepare_raw_tables(specs: list[TableSpec]) -> list[str]:
    """Create the raw database, the declared raw tables and the rejected-rows tables (idempotent).

    Returns the CREATE TABLE statements run (tables that did not exist yet)."""
    warehouse = settings().warehouse
    database = warehouse.raw_database
    replicated = bool(warehouse.cluster)
    wanted = {
        f"{source}___{REJECTED_TABLE}": create_rejected_table_sql(source, database, replicated)
        for source in sorted({s.source for s in specs})
    }
    wanted.update(
        {
            f"{source}___{LOADED_FILES_TABLE}": create_loaded_files_table_sql(
                source, database, replicated
            )
            for source in sorted({s.source for s in specs if s.files is not None})
        }
    )
    wanted.update({s.raw_table: create_table_sql(s, database, replicated) for s in specs})
    client = clickhouse_client(loader=True)
    try:
        client.command(create_database_sql(database))
        existing = {
            row[0]
            for row in client.query(
                "SELECT name FROM system.tables WHERE database = {db:String}",
                parameters={"db": database},
            ).result_rows
        }
        statements = [sql for name, sql in wanted.items() if name not in existing]
        for sql in statements:
            client.command(sql)
    finally:
        client.close()
    return statements


def _ensure_table(spec: TableSpec) -> None:
    """Called by each resource before it extracts: create its raw table once per process."""
    warehouse = settings().warehouse
    key = (warehouse.host, warehouse.raw_database, warehouse.http_port, spec.raw_table)
    with _prepared_lock:
        if key in _prepared:
            return
        prepare_raw_tables([spec])
        _prepared.add(key)


def _select(
    schemas: list[TableSpec], source_name: str, tables: list[str] | None
) -> list[TableSpec]:
    specs = [s for s in schemas if s.source == source_name]
    if not specs:
        raise ValueError(f"no schema declares source {source_name!r}")
    if tables:
        unknown = sorted(set(tables) - {s.name for s in specs})
        if unknown:
            raise ValueError(f"source {source_name!r} has no table(s) {', '.join(unknown)}")
        specs = [s for s in specs if s.name in tables]
    return specs


def build_source(
    source_name: str,
    schemas: list[TableSpec] | None = None,
    landing_dir: Path | str | None = None,
    window: Window | None = None,
    tables: list[str] | None = None,
    stats: RunStats | None = None,
    prepare_tables: bool = True,
    schemas_dir: Path | str | None = None,
) -> Any:
    """The dlt source of `source_name` (one resource per table).

    window=(start, end): only rows (and daily files) in [start, end) of the partitioning column;
    cursor/file state is left alone so partitions can be re-run and backfilled.
    prepare_tables: create the raw tables (DDL) when a resource starts extracting.
    Cheap: reads the YAMLs (unless `schemas` is given) but touches no landing file or network.
    """
    schemas = schemas if schemas is not None else load_schemas(schemas_dir)
    specs = _select(schemas, source_name, tables)
    landing = Path(landing_dir) if landing_dir else settings().paths.landing_dir
    hook = _ensure_table if prepare_tables else None
    replicated = bool(settings().warehouse.cluster)
    return dlt_source(source_name, specs, landing, window, stats, hook, replicated)


def _normalize_counts(pipeline: dlt.Pipeline) -> dict[str, int]:
    trace = pipeline.last_trace
    info = trace.last_normalize_info if trace else None
    return dict(info.row_counts) if info else {}


def run_source(
    source_name: str,
    schemas: list[TableSpec] | None = None,
    landing_dir: Path | str | None = None,
    window: Window | None = None,
    tables: list[str] | None = None,
    pipeline: dlt.Pipeline | None = None,
) -> RunResult:
    """Finish any interrupted load of this pipeline, then extract, normalize and load the source.

    Returns per-table loaded row counts (this run), rejected rows per table, files read."""
    schemas = schemas if schemas is not None else load_schemas()
    specs = _select(schemas, source_name, tables)
    pipeline = pipeline or make_pipeline(source_name, window=window)
    prepare_raw_tables(specs)
    if pipeline.has_pending_data:
        # a previous run was interrupted after extract: load what it left first
        pipeline.run(**RUN_KWARGS)
    stats = RunStats()
    source = build_source(
        source_name, schemas, landing_dir, window, tables, stats, prepare_tables=False
    )
    load_info = pipeline.run(source, **RUN_KWARGS)
    counts = _normalize_counts(pipeline)
    result = RunResult(load_info=load_info)
    for spec in specs:
        result.row_counts[spec.name] = int(counts.get(spec.name, 0))
        table_stats = stats.table(spec.name)
        result.rejected[spec.name] = table_stats.rejected
        result.files_read[spec.name] = table_stats.files_read
        result.new_columns[spec.name] = list(table_stats.new_columns)
    result.rejected_loaded = int(counts.get(REJECTED_TABLE, 0))
    return result


def daily_window(day: dt.date) -> Window:
    """The [day, day + 1) window of a daily partition, in UTC."""
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)
