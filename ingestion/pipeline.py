"""Build and run the generated dlt source of one schema source against ClickHouse.

    build_source(source_name, schemas=None, landing_dir=None, window=None, tables=None,
                 stats=None, prepare_tables=True, schemas_dir=None) -> dlt source
    make_pipeline(source_name, *, pipelines_dir=None, window=None, pipeline_name=None)
        -> dlt pipeline (ClickHouse `raw`)
    run_source(source_name, schemas=None, landing_dir=None, window=None, tables=None,
               pipeline=None) -> RunResult(load_info, row_counts, rejected, ...)
        (raises FilesFailedError after loading the good files when some could not be read)
    committed_metadata(pipeline, source, tables) -> rows and rejected rows the last run's load
        packages committed (resumed packages included), from their job files
        (`package_rows`; `committed_rows` counts in the warehouse when the files are gone)
    RUN_KWARGS: keyword arguments for `pipeline.run(...)` (parquet loader files)

Raw tables are created from the spec (`ingestion.ddl`) when a resource starts extracting, so a
Dagster asset that runs the source through dagster-dlt gets the same tables.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt
import pyarrow.parquet as pq
from dlt.common.pipeline import LoadInfo

from core.clickhouse import clickhouse_client
from core.settings import settings
from ingestion.ddl import (
    create_database_sql,
    create_loaded_files_table_sql,
    create_rejected_table_sql,
    create_table_sql,
    qualified,
)
from ingestion.destination import (  # re-exported: the pipeline API in one place
    RUN_KWARGS,
    default_pipeline_name,
    destination,
    loader_user,
    make_pipeline,
)
from ingestion.generator import FileFailure, RunStats, Window, dlt_source
from ingestion.layout import literal
from ingestion.loaded import table_record
from ingestion.schema import LOADED_FILES_TABLE, REJECTED_TABLE, TableSpec, load_schemas

__all__ = [
    "RUN_KWARGS",
    "FilesFailedError",
    "RunResult",
    "build_source",
    "committed_metadata",
    "committed_rows",
    "default_pipeline_name",
    "destination",
    "loader_user",
    "make_pipeline",
    "run_source",
]


@dataclass
class RunResult:
    """What a run committed to the warehouse, per table.

    `row_counts` and `rejected` are rows committed by this run's load packages, including a
    package an interrupted earlier run left half-done and this run completed (`resumed_packages`).
    """

    load_info: LoadInfo | None
    row_counts: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    files_read: dict[str, int] = field(default_factory=dict)
    new_columns: dict[str, list[str]] = field(default_factory=dict)
    rejected_loaded: int = 0  # rows written to raw.<source>____rejected_rows by this run
    late_rows: dict[str, int] = field(default_factory=dict)  # not newer than the cursor
    late_skipped: dict[str, int] = field(default_factory=dict)
    failed_files: list[FileFailure] = field(default_factory=list)
    resumed_packages: list[str] = field(default_factory=list)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def summary(self) -> dict[str, Any]:
        return {
            "rows": self.row_counts,
            "rejected": self.rejected,
            "rejected_total": self.rejected_total,
            "files_read": self.files_read,
            "late_rows": {k: v for k, v in self.late_rows.items() if v},
            "late_skipped": {k: v for k, v in self.late_skipped.items() if v},
            "resumed_packages": self.resumed_packages,
            "failed_files": [
                {"file": f.file, "error": f.error, "rows_loaded": f.rows_loaded}
                for f in self.failed_files
            ],
            "new_columns": {k: v for k, v in self.new_columns.items() if v},
        }


class FilesFailedError(RuntimeError):
    """Some files could not be read; the others were loaded (`result` says what was)."""

    def __init__(self, result: RunResult) -> None:
        self.result = result
        lines = [f"{len(result.failed_files)} file(s) could not be read (the others loaded):"]
        lines += [f"  {f.file}: {f.error}" for f in result.failed_files]
        loaded = sum(result.row_counts.values())
        lines.append(f"committed: {loaded} row(s), {result.rejected_total} rejected row(s)")
        super().__init__("\n".join(lines))


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
    reload: bool = False,
) -> Any:
    """The dlt source of `source_name` (one resource per table).

    window=(start, end): only rows (and daily files) in [start, end) of the partitioning column;
    cursor/file state is left alone so partitions can be re-run and backfilled.
    prepare_tables: create the raw tables (DDL) when a resource starts extracting.
    reload: read every file again, also those the loaded-files record holds (a full refresh).
    Cheap: reads the YAMLs (unless `schemas` is given) but touches no landing file or network.
    """
    schemas = schemas if schemas is not None else load_schemas(schemas_dir)
    specs = _select(schemas, source_name, tables)
    landing = Path(landing_dir) if landing_dir else settings().paths.landing_dir
    hook = _ensure_table if prepare_tables else None
    replicated = bool(settings().warehouse.cluster)
    record = None if reload else table_record
    return dlt_source(source_name, specs, landing, window, stats, hook, replicated, record)


def _load_ids(load_info: LoadInfo | None) -> list[str]:
    return list(load_info.loads_ids) if load_info is not None else []


def committed_rows(
    source_name: str, tables: list[str], load_ids: list[str]
) -> tuple[dict[str, int], dict[str, int]]:
    """Rows per table, and rejected rows per table, that the load packages `load_ids` committed
    to the raw database (counted in the warehouse by `_dlt_load_id`, without FINAL: every row
    this run wrote, a new version included)."""
    rows = dict.fromkeys(tables, 0)
    rejected = dict.fromkeys(tables, 0)
    if not load_ids or not tables:
        return rows, rejected
    database = settings().warehouse.raw_database
    # one round trip: a count per raw table, and the rejected rows by table
    parts = [
        f"SELECT {literal(table)} AS t, 0 AS rejected, count() AS n "
        f"FROM {qualified(database, f'{source_name}___{table}')} "
        "WHERE _dlt_load_id IN {ids:Array(String)}"
        for table in tables
    ]
    parts.append(
        "SELECT table_name AS t, 1 AS rejected, count() AS n "
        f"FROM {qualified(database, f'{source_name}___{REJECTED_TABLE}')} "
        "WHERE _dlt_load_id IN {ids:Array(String)} GROUP BY table_name"
    )
    client = clickhouse_client(loader=True)
    try:
        counted = client.query(" UNION ALL ".join(parts), parameters={"ids": load_ids}).result_rows
    finally:
        client.close()
    for table, is_rejected, count in counted:
        target = rejected if is_rejected else rows
        if table in target:
            target[table] = int(count)
    return rows, rejected


def package_rows(
    infos: list[LoadInfo | None], tables: list[str]
) -> tuple[dict[str, int], dict[str, int]] | None:
    """Rows per table, and rejected rows per table, in the job files of the load packages that
    `infos` completed (a job retried after an interruption counts once). None when a job file is
    gone (dlt deletes them when configured to)."""
    rows = dict.fromkeys(tables, 0)
    rejected = dict.fromkeys(tables, 0)
    for info in infos:
        for package in info.load_packages if info is not None else []:
            for job in package.jobs.get("completed_jobs", []):
                name = job.job_file_info.table_name
                if job.job_file_info.file_format != "parquet" or (
                    name not in rows and name != REJECTED_TABLE
                ):
                    continue
                path = Path(job.file_path)
                if not path.exists():
                    return None
                if name in rows:
                    rows[name] += pq.read_metadata(path).num_rows
                    continue
                names = pq.read_table(path, columns=["table_name"]).column(0)
                for table, count in Counter(names.to_pylist()).items():
                    if table in rejected:
                        rejected[table] += count
    return rows, rejected


def _committed(
    source_name: str, tables: list[str], infos: list[LoadInfo | None]
) -> tuple[dict[str, int], dict[str, int]]:
    counted = package_rows(infos, tables)
    if counted is not None:
        return counted
    load_ids = [i for info in infos for i in _load_ids(info)]
    return committed_rows(source_name, tables, load_ids)


def committed_metadata(pipeline: dlt.Pipeline, source_name: str, tables: list[str]) -> dict:
    """Per table: rows and rejected rows committed by the pipeline's last run (resumed load
    packages included), for run reports such as Dagster materialization metadata."""
    trace = pipeline.last_trace
    info = trace.last_load_info if trace else None
    rows, rejected = _committed(source_name, tables, [info])
    return {t: {"rows_committed": rows[t], "rejected_committed": rejected[t]} for t in tables}


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
    infos: list[LoadInfo | None] = []
    resumed: list[str] = []
    if pipeline.has_pending_data:
        # a previous run was interrupted after extract: load what it left first
        infos.append(pipeline.run(**RUN_KWARGS))
        resumed = _load_ids(infos[0])
    stats = RunStats()
    source = build_source(
        source_name, schemas, landing_dir, window, tables, stats, prepare_tables=False
    )
    load_info = pipeline.run(source, **RUN_KWARGS)
    infos.append(load_info)
    rows, rejected = _committed(source_name, [s.name for s in specs], infos)
    result = RunResult(load_info=load_info, resumed_packages=resumed)
    for spec in specs:
        table_stats = stats.table(spec.name)
        result.row_counts[spec.name] = rows[spec.name]
        result.rejected[spec.name] = rejected[spec.name]
        result.files_read[spec.name] = table_stats.files_read
        result.new_columns[spec.name] = list(table_stats.new_columns)
        result.late_rows[spec.name] = table_stats.late
        result.late_skipped[spec.name] = table_stats.late_skipped
        result.failed_files += table_stats.failed_files
    result.rejected_loaded = sum(rejected.values())
    if result.failed_files:
        raise FilesFailedError(result)
    return result


def daily_window(day: dt.date) -> Window:
    """The [day, day + 1) window of a daily partition, in UTC."""
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)
