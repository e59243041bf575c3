"""The one record of what is loaded: which landing files (and so which days) are in the warehouse.

Every files resource writes one row per file it read to `raw.<source>____loaded_files` (table,
file, fingerprint, day), in the same dlt load package as the file's rows, so the record says what
the raw tables hold. The landing sensor, `elt demo`, schedules and backfills read it here: one
query per source, and a directory listing of the landing files (`readers.list_files`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.clickhouse import clickhouse_client
from core.identifiers import quote_identifier
from core.settings import settings
from ingestion.readers import FileRef, list_files
from ingestion.schema import LOADED_FILES_TABLE, TableSpec

# (table, file key) -> fingerprint of the version loaded last
Loaded = dict[tuple[str, str], str]


@dataclass(frozen=True)
class LandedFile:
    """A landing file of a table, and whether the record holds this exact version of it."""

    spec: TableSpec
    ref: FileRef
    key: str  # the record's name for it (relative to the landing dir)
    loaded: bool

    @property
    def day(self) -> dt.date | None:
        return self.ref.day()


def loaded_files(source: str, database: str | None = None) -> Loaded:
    """The loaded-files record of `source` (empty before its first load)."""
    database = database or settings().warehouse.raw_database
    table = f"{source}___{LOADED_FILES_TABLE}"
    relation = f"{quote_identifier(database)}.{quote_identifier(table)}"
    client = clickhouse_client()
    try:
        exists = client.query(
            "SELECT count() FROM system.tables WHERE database = {db:String} AND name = {t:String}",
            parameters={"db": database, "t": table},
        ).result_rows[0][0]
        if not exists:
            return {}
        rows = client.query(
            f"SELECT table_name, file, argMax(fingerprint, loaded_at) FROM {relation} "
            "GROUP BY table_name, file"
        ).result_rows
    finally:
        client.close()
    return {(name, file): fingerprint for name, file, fingerprint in rows}


def table_record(spec: TableSpec) -> dict[str, str]:
    """One table's part of the record: file key -> fingerprint of the version loaded last."""
    return {
        file: fp for (table, file), fp in loaded_files(spec.source).items() if table == spec.name
    }


def landed_files(specs: Iterable[TableSpec], landing_dir: Path | str) -> list[LandedFile]:
    """Every landing file of the files tables among `specs`, marked loaded or not (the record is
    read once per source)."""
    record: dict[str, Loaded] = {}
    out = []
    for spec in specs:
        if spec.files is None:
            continue
        if spec.source not in record:
            record[spec.source] = loaded_files(spec.source)
        known = record[spec.source]
        for ref in list_files(spec.files, landing_dir):
            key = ref.key(landing_dir)
            out.append(LandedFile(spec, ref, key, known.get((spec.name, key)) == ref.fingerprint))
    return out


def pending_days(files: Iterable[LandedFile]) -> list[dt.date]:
    """The days of daily-partitioned tables that have landing files not loaded yet, sorted."""
    return sorted(
        {f.day for f in files if not f.loaded and f.spec.daily_partitioned and f.day is not None}
    )


def landed_days(files: Iterable[LandedFile]) -> list[dt.date]:
    """Every day of daily-partitioned tables that has a landing file, loaded or not, sorted."""
    return sorted({f.day for f in files if f.spec.daily_partitioned and f.day is not None})


def landing_days(specs: Iterable[TableSpec], landing_dir: Path | str) -> list[dt.date]:
    """The days of the daily-partitioned tables' landing files (a listing; no warehouse)."""
    days = set()
    for spec in specs:
        if spec.files is not None and spec.daily_partitioned:
            days |= {d for r in list_files(spec.files, landing_dir) if (d := r.day()) is not None}
    return sorted(days)


def pending_by_table(files: Iterable[LandedFile]) -> dict[tuple[str, str], set[dt.date]]:
    """Per daily-partitioned (source, table): the days of its files not loaded yet."""
    out: dict[tuple[str, str], set[dt.date]] = {}
    for f in files:
        if f.spec.daily_partitioned:
            days = out.setdefault((f.spec.source, f.spec.name), set())
            if not f.loaded and f.day is not None:
                days.add(f.day)
    return out
