"""Dagster's SQLite instance storage, with each database's engine kept open instead of made anew.

Dagster's own SQLite storages create an engine, connect, commit and close for every event; on
SQLite that costs a `fsync` at each commit and a WAL checkpoint at each close, so a run that
records a year of daily partitions (thousands of events) spends most of its time there. These
subclasses keep the same files and layout under DAGSTER_HOME (an existing home keeps working)
and change only how they connect: one pooled engine per database (the most recently used run
databases), with `synchronous=NORMAL`, which in WAL mode keeps the database consistent and
skips the per-commit `fsync` (a power cut may lose the last events, never corrupt the file).
Production keeps its events in Postgres (deploy/dagster.yaml).

    run_storage:        {module: orchestration.storage, class: PooledSqliteRunStorage}
    event_log_storage:  {module: orchestration.storage, class: PooledSqliteEventLogStorage}

`base_dir` may be set; by default they use Dagster's SQLite paths under DAGSTER_HOME.

Dagster hands the events of one output over many partitions (materializations) and of a run's
plan (planned materializations and checks) to the storage as batches when
DAGSTER_EVENT_BATCH_SIZE is set; the event log storage writes such a batch as one multi-row
insert per database, and turns Dagster's batching on in its process (a value set in the
environment wins).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import dagster as dg
import sqlalchemy
from dagster._core.events import ASSET_CHECK_EVENTS, ASSET_EVENTS
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster._core.storage.runs import SqliteRunStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData

# run databases whose engines stay open (a webserver reads many runs; each engine holds a file)
OPEN_RUN_DATABASES = 16
# events Dagster may hand over at once (a year of daily partitions of three assets: 1,095)
EVENT_BATCH = "DAGSTER_EVENT_BATCH_SIZE"
EVENT_BATCH_SIZE = "2000"


def pooled_engine(conn_string: str) -> sqlalchemy.Engine:
    """A pooled SQLite engine whose connections skip the per-commit fsync (WAL mode)."""
    engine = sqlalchemy.create_engine(
        conn_string, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
    )

    @sqlalchemy.event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        connection.execute("PRAGMA synchronous=NORMAL")

    return engine


def _history(*parts: str) -> str:
    """A folder of Dagster's default SQLite layout: DAGSTER_HOME/history/..."""
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        raise dg.DagsterInvariantViolationError(
            "the pooled SQLite storages need DAGSTER_HOME or an explicit base_dir"
        )
    return os.path.join(home, "history", *parts, "")


class _BaseDirConfig:
    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {"base_dir": dg.Field(dg.StringSource, is_required=False)}


class PooledSqliteEventLogStorage(_BaseDirConfig, SqliteEventLogStorage):
    """`SqliteEventLogStorage` (one database per run plus the index) with open engines."""

    def __init__(self, base_dir: str | None = None, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, sqlalchemy.Engine] = OrderedDict()
        self._engines_lock = threading.Lock()
        self._tables_seen: set[str] = set()
        self._asset_key_columns: set[str] = set()
        super().__init__(base_dir or _history("runs"), inst_data)
        os.environ.setdefault(EVENT_BATCH, EVENT_BATCH_SIZE)

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: dict[str, Any]
    ) -> PooledSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> sqlalchemy.Engine:
        with self._engines_lock:
            engine = self._engines.get(shard)
            if engine is None:
                engine = self._engines[shard] = pooled_engine(self.conn_string_for_shard(shard))
                run_shards = [s for s in self._engines if s != "index"]
                for stale in run_shards[: max(0, len(run_shards) - OPEN_RUN_DATABASES)]:
                    self._engines.pop(stale).dispose()
            self._engines.move_to_end(shard)
            return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[sqlalchemy.Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def has_table(self, table_name: str) -> bool:
        """Dagster asks before every check event (through a new engine each time); tables are
        not dropped while the storage is open, so a table seen once is there."""
        if table_name in self._tables_seen:
            return True
        with self._engine("index").connect() as conn:
            found = bool(conn.dialect.has_table(conn, table_name))
        if found:
            self._tables_seen.add(table_name)
        return found

    def _has_asset_key_col_on_connection(self, conn: sqlalchemy.Connection, column: str) -> bool:
        """Dagster reflects the asset key table's columns for every asset event; a column seen
        once stays (columns are added by migrations, never dropped while the storage is open)."""
        if column in self._asset_key_columns:
            return True
        found = super()._has_asset_key_col_on_connection(conn, column)
        if found:
            self._asset_key_columns.add(column)
        return found

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """A batch of asset and asset-check events of one run (what Dagster batches: the
        partitions of an output, a run's planned materializations and checks) written as
        `store_event` would write them one by one, in one multi-row insert per database. The
        asset key table keeps the last event of each asset and kind (each overwrites the same
        columns with values of its own). Anything else event by event."""
        if not _batchable(events):
            super().store_event_batch(events)
            return
        rows = [self._event_to_row(event) for event in events]
        table = SqlEventLogStorageTable
        with self.run_connection(events[0].run_id) as conn:
            conn.execute(table.insert(), rows)
        with self.index_transaction() as conn:
            inserted = conn.execute(
                table.insert().returning(table.c.id, sort_by_parameter_order=True), rows
            )
            event_ids = [row.id for row in inserted]
            if len(event_ids) != len(events) or None in event_ids:
                raise dg.DagsterInvariantViolationError("an asset event was stored without an id")
            stored = list(zip(events, event_ids, strict=True))
            assets = [(e, i) for e, i in stored if e.dagster_event_type in ASSET_EVENTS]
            self._store_asset_event_tags(conn, [e for e, _ in assets], [i for _, i in assets])
            for event, event_id in _last_of_each_asset_and_kind(assets):
                self._store_asset_event(conn, event, event_id)
        for event, event_id in stored:
            if event.dagster_event_type in ASSET_CHECK_EVENTS:
                self.store_asset_check_event(event, event_id)

    def _dispose_engines(self) -> None:
        with self._engines_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def wipe(self) -> None:
        self._dispose_engines()  # its files are deleted: no connection may keep them
        self._tables_seen.clear()
        self._asset_key_columns.clear()
        super().wipe()

    def delete_events(self, run_id: str) -> None:
        with self._engines_lock:
            engine = self._engines.pop(run_id, None)
        if engine is not None:
            engine.dispose()
        super().delete_events(run_id)

    def dispose(self) -> None:
        super().dispose()
        self._dispose_engines()


def _batchable(events: Sequence[EventLogEntry]) -> bool:
    """Asset events (with their asset key) and asset-check events, all of one run."""
    return (
        bool(events)
        and len({event.run_id for event in events}) == 1
        and all(
            event.is_dagster_event
            and (
                (event.dagster_event_type in ASSET_EVENTS and event.get_dagster_event().asset_key)
                or event.dagster_event_type in ASSET_CHECK_EVENTS
            )
            for event in events
        )
    )


def _last_of_each_asset_and_kind(
    stored: Sequence[tuple[EventLogEntry, int]],
) -> list[tuple[EventLogEntry, int]]:
    """The last event of each (asset key, event type), in the order of the batch."""
    last: dict[tuple[Any, Any], int] = {}
    for index, (event, _) in enumerate(stored):
        last[(event.get_dagster_event().asset_key, event.dagster_event_type)] = index
    return [stored[index] for index in sorted(last.values())]


class PooledSqliteRunStorage(_BaseDirConfig, SqliteRunStorage):
    """`SqliteRunStorage` (runs.db) with one open engine."""

    def __init__(self, conn_string: str, inst_data: ConfigurableClassData | None = None):
        self._pooled = pooled_engine(conn_string)
        super().__init__(conn_string, inst_data)

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: dict[str, Any]
    ) -> PooledSqliteRunStorage:
        base_dir = config_value.get("base_dir") or _history()
        return cls.from_local(base_dir=base_dir, inst_data=inst_data)

    @contextmanager
    def connect(self) -> Iterator[sqlalchemy.Connection]:
        with self._pooled.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        super().dispose()
        self._pooled.dispose()
