"""Schema specs -> dlt source and resources (pure: nothing connects until the source is iterated).

One dlt source per `<source>` folder, one resource per table. Each resource streams bounded Arrow
batches, converts them to the declared types (`ingestion.conform`), sends rows that do not fit to
the source's `_rejected_rows` table and each file read to its `_loaded_files` table (same load
package: atomic with the data). Files whose version that record holds are not read again; the
incremental cursor's last value is dlt resource state (committed with the load package too, so
an interrupted run resumes).
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.compute as pc
from dlt.destinations.adapters import clickhouse_adapter
from dlt.extract import DltResource, DltSource

from ingestion.conform import Conformed, RejectedRow, SchemaDriftError, conform
from ingestion.layout import clickhouse_hints
from ingestion.loaded import table_record
from ingestion.readers import FileReader, FileReadError, FileRef, list_files, nth_kept
from ingestion.schema import (
    INGESTED_AT,
    LOADED_FILES_TABLE,
    REJECTED_TABLE,
    EmptyWindowError,
    TableSpec,
)
from ingestion.types import arrow_type, dlt_column_hints, parse_scalar

Window = tuple[dt.datetime, dt.datetime]

REJECTED_COLUMNS: dict[str, dict[str, Any]] = {
    "source": {"data_type": "text", "nullable": False},
    "table_name": {"data_type": "text", "nullable": False},
    "file": {"data_type": "text", "nullable": False},
    "row_number": {"data_type": "bigint", "nullable": False},
    "reason": {"data_type": "text", "nullable": False},
    "raw_row": {"data_type": "text", "nullable": False},
    "rejected_at": {"data_type": "timestamp", "nullable": False, "precision": 6},
}
REJECTED_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("table_name", pa.string(), nullable=False),
        pa.field("file", pa.string(), nullable=False),
        pa.field("row_number", pa.int64(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw_row", pa.string(), nullable=False),
        pa.field("rejected_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


class RejectedRowsLimitError(ValueError):
    """A file rejected more rows than the table's contract.max_rejected_rows / _fraction."""


@dataclass(frozen=True)
class FileFailure:
    """A file that could not be read as a whole (the other files still load)."""

    file: str
    error: str
    rows_loaded: int = 0  # rows of it yielded before the failure (a large file failing late)


# the loaded-files record (`ingestion.loaded`): written in the same load package as the rows
LOADED_FILES_COLUMNS: dict[str, dict[str, Any]] = {
    "table_name": {"data_type": "text", "nullable": False},
    "file": {"data_type": "text", "nullable": False},
    "fingerprint": {"data_type": "text", "nullable": False},
    "day": {"data_type": "date", "nullable": True},
    "loaded_at": {"data_type": "timestamp", "nullable": False, "precision": 6},
}
LOADED_FILES_SCHEMA = pa.schema(
    [
        pa.field("table_name", pa.string(), nullable=False),
        pa.field("file", pa.string(), nullable=False),
        pa.field("fingerprint", pa.string(), nullable=False),
        pa.field("day", pa.date32(), nullable=True),
        pa.field("loaded_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


@dataclass
class TableStats:
    """What one resource did in this run (extract side)."""

    files_read: int = 0
    files_skipped: int = 0
    rows: int = 0
    rejected: int = 0
    late: int = 0  # rows not newer than the cursor (handled by contract.late_rows)
    late_skipped: int = 0
    new_columns: list[str] = field(default_factory=list)
    failed_files: list[FileFailure] = field(default_factory=list)
    rows_by_file: dict[str, int] = field(default_factory=dict)  # records read per file
    rejected_by_file: dict[str, int] = field(default_factory=dict)

    def count_rows(self, file: str, rows: int) -> None:
        self.rows_by_file[file] = self.rows_by_file.get(file, 0) + rows

    def count_rejected(self, file: str) -> None:
        self.rejected += 1
        self.rejected_by_file[file] = self.rejected_by_file.get(file, 0) + 1


@dataclass
class RunStats:
    tables: dict[str, TableStats] = field(default_factory=dict)

    def table(self, name: str) -> TableStats:
        return self.tables.setdefault(name, TableStats())

    @property
    def rejected(self) -> dict[str, int]:
        return {name: t.rejected for name, t in self.tables.items()}


# ------------------------------------------------------------------ hints (pure)


def column_hints(spec: TableSpec) -> dict[str, dict[str, Any]]:
    """dlt column hints for the declared columns plus the version column."""
    hints: dict[str, dict[str, Any]] = {}
    for column in spec.columns:
        hint: dict[str, Any] = {
            "name": column.name,
            **dlt_column_hints(column.parsed_type),
            "nullable": spec.is_nullable(column),
        }
        if column.description:
            hint["description"] = column.description
        if column.name in spec.primary_key:
            hint["primary_key"] = True
        if spec.incremental and column.name == spec.incremental.cursor:
            hint["incremental"] = True
        hints[column.name] = hint
    hints[INGESTED_AT] = {
        "name": INGESTED_AT,
        "data_type": "timestamp",
        "precision": 6,
        "timezone": True,
        "nullable": False,
        "description": "When ingestion read the row (UTC); ReplacingMergeTree version.",
    }
    if spec.dlt_write_disposition == "merge":
        # dlt keeps the newest staging row per key (dlt warns about the hint otherwise)
        hints[spec.version_column]["dedup_sort"] = "desc"
    return hints


def arrow_schema(spec: TableSpec) -> pa.Schema:
    """The Arrow schema of the batches a resource yields (declared columns + version column)."""
    fields = [
        pa.field(c.name, arrow_type(c.parsed_type), nullable=spec.is_nullable(c))
        for c in spec.columns
    ]
    fields.append(pa.field(INGESTED_AT, pa.timestamp("us", tz="UTC"), nullable=False))
    return pa.schema(fields)


def _as_utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def window_filter(table: pa.Table, spec: TableSpec, window: Window) -> pa.Table:
    """Rows whose partition column lies in [start, end)."""
    column = spec.partitioning.column if spec.partitioning else spec.cursor
    if column is None:
        return table
    start, end = (_as_utc(w) for w in window)
    values = table.column(column)
    if pa.types.is_date(values.type):
        lo, hi = pa.scalar(start.date(), values.type), pa.scalar(end.date(), values.type)
    else:
        lo, hi = pa.scalar(start, values.type), pa.scalar(end, values.type)
    mask = pc.and_(pc.greater_equal(values, lo), pc.less(values, hi))
    return table.filter(pc.fill_null(mask, False))


def file_in_window(ref: FileRef, window: Window) -> bool:
    """A daily file (date in its name) is read only for windows that overlap its day."""
    day = ref.day()
    if day is None:
        return True
    start, end = (_as_utc(w) for w in window)
    day_start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return day_start < end and day_start + dt.timedelta(days=1) > start


# ------------------------------------------------------------------ incremental cursor (pure)


def _key_hashes(table: pa.Table, keys: list[str]) -> list[str]:
    if not keys or table.num_rows == 0:
        return []
    columns = [table.column(k).cast(pa.string()).to_pylist() for k in keys]
    return [
        hashlib.blake2b("\x1f".join(str(v) for v in row).encode(), digest_size=8).hexdigest()
        for row in zip(*columns, strict=True)
    ]


def _cursor_scalar(value: Any, spec: TableSpec, arrow: pa.DataType) -> pa.Scalar:
    parsed = parse_scalar(value, spec.column(spec.cursor).parsed_type)
    return pa.scalar(parsed, arrow)


def _state_value(scalar: pa.Scalar) -> Any:
    value = scalar.as_py()
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value) if not isinstance(value, int | float) else value


@dataclass
class CursorFilter:
    """Keeps rows after the cursor's value at the start of the run.

    Rows equal to the last value are kept unless their primary key was already loaded at that
    value (the boundary keys), so same-timestamp rows arriving later are not lost.
    """

    spec: TableSpec
    start: Any  # last value at the start of the run (state) or the initial value; None = all
    boundary: set[str]
    best: pa.Scalar | None = None
    best_keys: set[str] = field(default_factory=set)

    def apply(self, table: pa.Table) -> pa.Table:
        """Only the rows newer than the start (the cursor advances with them)."""
        late = self.late_mask(table)
        if late is not None:
            table = table.filter(pc.invert(late))
        self.observe(table)
        return table

    def late_mask(self, table: pa.Table) -> pa.Array | None:
        """True for the rows not newer than the cursor's value at the start of the run (None:
        all rows are newer). Rows at that value whose key was loaded at it (the boundary keys)
        count as not newer."""
        if self.start is None or table.num_rows == 0:
            return None
        keep = pc.or_(*self._newer_and_new_at_start(table))
        return None if pc.all(keep).as_py() else pc.invert(keep)

    def drop_reread(self, table: pa.Table) -> tuple[pa.Table, list[int]]:
        """Without the rows at the start value whose key was loaded at it (a SQL query with
        `cursor >= start` reads them again by design); also returns their positions."""
        if self.start is None or not self.boundary or table.num_rows == 0:
            return table, []
        values = table.column(self.spec.cursor)
        equal = pc.fill_null(pc.equal(values, self._start(values)), False)
        if not pc.any(equal).as_py():
            return table, []
        _, new_at_start = self._newer_and_new_at_start(table)
        reread = pc.and_(equal, pc.invert(new_at_start))
        return table.filter(pc.invert(reread)), pc.indices_nonzero(reread).to_pylist()

    def _start(self, values: Any) -> pa.Scalar:
        return _cursor_scalar(self.start, self.spec, values.type)

    def _newer_and_new_at_start(self, table: pa.Table) -> tuple[pa.Array, pa.Array]:
        values = table.column(self.spec.cursor)
        start = self._start(values)
        newer = pc.fill_null(pc.greater(values, start), False)
        equal = pc.fill_null(pc.equal(values, start), False)
        if self.boundary and pc.any(equal).as_py():
            hashes = pa.array(_key_hashes(table, self.spec.primary_key))
            seen = pc.is_in(hashes, pa.array(sorted(self.boundary)))
            equal = pc.and_(equal, pc.invert(seen))
        return newer, equal

    def observe(self, table: pa.Table) -> None:
        """Advance the cursor with the rows of `table` (those that are loaded)."""
        cursor = self.spec.cursor
        if table.num_rows:
            top = pc.max(table.column(cursor))
            if top.is_valid:
                at_top = table.filter(pc.fill_null(pc.equal(table.column(cursor), top), False))
                keys = set(_key_hashes(at_top, self.spec.primary_key))
                if self.best is None or pc.greater(top, self.best).as_py():
                    self.best, self.best_keys = top, keys
                elif pc.equal(top, self.best).as_py():
                    self.best_keys |= keys

    def state(self) -> dict[str, Any] | None:
        """New cursor state after the run (None: nothing newer seen)."""
        if self.best is None:
            return None
        keys = self.best_keys
        if self.start is not None and _state_value(self.best) == self.start:
            keys = keys | self.boundary
        return {"last_value": _state_value(self.best), "boundary": sorted(keys)[:10_000]}


# ------------------------------------------------------------------ resources


def _rejected_table(
    spec: TableSpec, file: str | list[str], rows: list[RejectedRow], at: dt.datetime
) -> Any:
    files = file if isinstance(file, list) else [file] * len(rows)
    table = pa.table(
        {
            "source": [spec.source] * len(rows),
            "table_name": [spec.name] * len(rows),
            "file": files,
            "row_number": [r.row for r in rows],
            "reason": [r.reason for r in rows],
            "raw_row": [r.raw for r in rows],
            "rejected_at": [at] * len(rows),
        },
        schema=REJECTED_SCHEMA,
    )
    return dlt.mark.with_table_name(table, REJECTED_TABLE)


def _loaded_files_table(
    spec: TableSpec, refs: list[FileRef], landing_dir: Path | str, at: dt.datetime
) -> Any:
    table = pa.table(
        {
            "table_name": [spec.name] * len(refs),
            "file": [r.key(landing_dir) for r in refs],
            "fingerprint": [r.fingerprint for r in refs],
            "day": [r.day() for r in refs],
            "loaded_at": [at] * len(refs),
        },
        schema=LOADED_FILES_SCHEMA,
    )
    return dlt.mark.with_table_name(table, LOADED_FILES_TABLE)


def _empty_window_error(
    spec: TableSpec, window: Window, refs: list[FileRef], stats: TableStats
) -> EmptyWindowError:
    start, end = (_as_utc(w) for w in window)
    more = f" (+{len(refs) - 10} more)" if len(refs) > 10 else ""
    names = ", ".join(r.url for r in refs[:10]) + more
    column = spec.partitioning.column if spec.partitioning else spec.cursor
    rejected = f"; {stats.rejected} row(s) rejected" if stats.rejected else ""
    return EmptyWindowError(
        f"{spec.source}.{spec.name}: window [{start.isoformat()}, {end.isoformat()}) has "
        f"{len(refs)} landing file(s) but loaded 0 rows: no row's {column} falls into the "
        f"window{rejected}. Files: {names}"
    )


def _with_version(table: pa.Table, at: dt.datetime) -> pa.Table:
    stamp = pa.repeat(pa.scalar(at, pa.timestamp("us", tz="UTC")), table.num_rows)
    return table.append_column(pa.field(INGESTED_AT, stamp.type, nullable=False), stamp)


@dataclass
class _Segment:
    """Where a run of rows of a combined batch came from."""

    file: str
    first_row: int  # 1-based row in the file of the segment's first row (no reader)
    start: int  # index of the segment's first row in the combined batch
    rows: int
    reader: FileReader | None = None
    offset: int = 0  # rows of the file yielded before this segment

    def line(self, index: int) -> int:
        """Line in the file of the segment's index-th row."""
        if self.reader is None:
            return self.first_row + index
        return self.reader.line_of(self.offset + index)


@dataclass
class _Combined:
    """Rows of several batches (files), each row traceable to its file and line."""

    segments: list[_Segment]

    def locate(self, index: int) -> tuple[str, int]:
        starts = [s.start for s in self.segments]
        segment = self.segments[bisect.bisect_right(starts, index) - 1]
        return segment.file, segment.line(index - segment.start)


def _conform_combined(
    spec: TableSpec,
    segments: list[_Segment],
    batches: list[pa.RecordBatch],
    stats: TableStats,
    at: dt.datetime,
    window: Window | None,
    cursor: CursorFilter | None,
) -> Iterator[Any]:
    """Conform several small batches (e.g. many daily files) at once: per-call costs (Arrow
    kernels, dlt's per-item work) are paid once per ~batch_rows, not once per file."""
    tables = [pa.Table.from_batches([b]) for b in batches]
    combined = (
        tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")
    )
    result = conform(combined, spec, first_row=1)
    _note_new_columns(stats, result)
    where = _Combined(segments)
    dropped = [r.row - 1 for r in result.rejected]  # indices in the combined batch
    if result.rejected:
        files, rows = [], []
        for rejected in result.rejected:
            file, line = where.locate(rejected.row - 1)
            files.append(file)
            rows.append(RejectedRow(line, rejected.reason, rejected.raw))
            stats.count_rejected(file)
        yield _rejected_table(spec, files, rows, at)

    def locate(index: int) -> tuple[str, int]:  # a row of the conformed table
        return where.locate(nth_kept(index, dropped))

    yield from _accepted(result.table, spec, stats, at, window, cursor, locate)


def _conformed_batches(
    spec: TableSpec,
    batches: Iterator[pa.RecordBatch | pa.Table],
    origin_name: str,
    stats: TableStats,
    at: dt.datetime,
    window: Window | None,
    cursor: CursorFilter | None,
) -> Iterator[Any]:
    row = 1
    for batch in batches:
        size = batch.num_rows
        result: Conformed = conform(batch, spec, first_row=row)
        stats.count_rows(origin_name, size)
        _note_new_columns(stats, result)
        if result.rejected:
            for _ in result.rejected:
                stats.count_rejected(origin_name)
            yield _rejected_table(spec, origin_name, result.rejected, at)
        dropped = [r.row - row for r in result.rejected]
        table, reread = result.table, []
        if cursor is not None and window is None:
            table, reread = cursor.drop_reread(table)

        def locate(
            index: int, first: int = row, dropped: list[int] = dropped, reread: list[int] = reread
        ) -> tuple[str, int]:
            return origin_name, first + nth_kept(nth_kept(index, reread), dropped)

        row += size
        yield from _accepted(table, spec, stats, at, window, cursor, locate)


def _note_new_columns(stats: TableStats, result: Conformed) -> None:
    for name in result.new_columns:
        if name not in stats.new_columns:
            stats.new_columns.append(name)


def _accepted(
    table: pa.Table,
    spec: TableSpec,
    stats: TableStats,
    at: dt.datetime,
    window: Window | None,
    cursor: CursorFilter | None,
    locate: Callable[[int], tuple[str, int]],
) -> Iterator[Any]:
    """The conformed rows inside the window (or past the cursor), stamped with their version.

    Rows not newer than the cursor (late or corrected rows of a new or changed file) follow
    `contract.late_rows`: loaded as new versions, rejected, or skipped; always counted."""
    if window is not None:
        table = window_filter(table, spec, window)
    elif cursor is not None:
        late = cursor.late_mask(table)
        if late is not None:
            newer = table.filter(pc.invert(late))
            late_rows = table.filter(late)
            stats.late += late_rows.num_rows
            action = spec.late_rows
            if action == "reject":
                rows = []
                files = []
                for index in pc.indices_nonzero(late).to_pylist():
                    file, line = locate(index)
                    files.append(file)
                    stats.count_rejected(file)
                    rows.append(
                        RejectedRow(
                            line,
                            f"not newer than the cursor {spec.cursor!r} ({cursor.start}): a late "
                            "or corrected row (contract.late_rows: reject)",
                            _raw_json(late_rows, len(rows)),
                        )
                    )
                yield _rejected_table(spec, files, rows, at)
            elif action == "skip":
                stats.late_skipped += late_rows.num_rows
            cursor.observe(newer)
            table = table if action == "load" else newer
        else:
            cursor.observe(table)
    if table.num_rows:
        stats.rows += table.num_rows
        yield _with_version(table, at)


def _raw_json(table: pa.Table, index: int) -> str:
    row = {name: table.column(name)[index].as_py() for name in table.column_names}
    return json.dumps(row, default=str, ensure_ascii=False)


def coalesce(items: Iterator[Any], max_rows: int) -> Iterator[Any]:
    """Merge small Arrow tables (e.g. one per daily file) into tables of up to ~max_rows.

    dlt spends a fixed time per yielded item, so a few large items beat many small ones; memory
    stays bounded by max_rows plus one batch. Other items (rejected rows) pass straight through.
    """
    buffer: list[pa.Table] = []
    rows = 0
    for item in items:
        if not isinstance(item, pa.Table):
            yield item
            continue
        buffer.append(item)
        rows += item.num_rows
        if rows >= max_rows:
            yield _concat(buffer)
            buffer, rows = [], 0
    if buffer:
        yield _concat(buffer)


def _concat(tables: list[pa.Table]) -> pa.Table:
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables(tables, promote_options="default").combine_chunks()


def files_rows(
    spec: TableSpec,
    landing_dir: Path | str,
    window: Window | None = None,
    stats: TableStats | None = None,
    state: dict[str, Any] | None = None,
    loaded: Mapping[str, str] | None = None,
) -> Iterator[Any]:
    """The rows of a files table, as Arrow tables (plus marked rejected-row and loaded-file
    tables).

    `loaded`: the table's loaded-files record (file key -> fingerprint, `ingestion.loaded`); a
    file whose version it holds is skipped, in windowed runs too (a backfill over loaded days
    reads nothing again). `state` is the resource state (dlt's, or a plain dict in unit tests),
    holding the incremental cursor; a windowed run reads only the window's rows and leaves it
    alone (backfills can repeat).
    A file that cannot be read is recorded in `stats.failed_files` (the other files load); a
    file rejecting more rows than `contract.max_rejected_*` allows raises RejectedRowsLimitError.
    """
    stats = stats if stats is not None else TableStats()
    state = state if state is not None else {}
    yield from _files_items(spec, landing_dir, window, stats, state, loaded or {})
    check_rejected_limits(spec, stats)


def check_rejected_limits(spec: TableSpec, stats: TableStats) -> None:
    """Raise RejectedRowsLimitError for the first file over the table's limits."""
    most, share = spec.contract.max_rejected_rows, spec.contract.max_rejected_fraction
    if most is None and share is None:
        return
    for file, rejected in stats.rejected_by_file.items():
        total = stats.rows_by_file.get(file, 0)
        fraction = rejected / total if total else 0.0
        if (most is not None and rejected > most) or (share is not None and fraction > share):
            limits = []
            if most is not None:
                limits.append(f"max_rejected_rows {most}")
            if share is not None:
                limits.append(f"max_rejected_fraction {share}")
            raise RejectedRowsLimitError(
                f"{spec.source}.{spec.name}: {file} rejected {rejected} of {total} rows "
                f"({fraction:.1%}), over contract {' / '.join(limits)} in {spec.path}; "
                f"see raw.{spec.source}___{REJECTED_TABLE}"
            )


def _files_items(
    spec: TableSpec,
    landing_dir: Path | str,
    window: Window | None,
    stats: TableStats,
    state: dict[str, Any],
    loaded: Mapping[str, str],
) -> Iterator[Any]:
    at = dt.datetime.now(dt.UTC)
    state.pop("files", None)  # earlier versions kept the read files here: the record holds them
    cursor = None
    if spec.incremental and window is None:
        saved = state.get("cursor") or {}
        cursor = CursorFilter(
            spec,
            start=saved.get("last_value", _initial(spec)),
            boundary=set(saved.get("boundary", [])),
        )
    declared = {c.name for c in spec.columns}
    segments: list[_Segment] = []
    batches: list[pa.RecordBatch] = []
    pending = 0
    read: list[FileRef] = []
    for ref in list_files(spec.files, landing_dir):
        if window is not None and not file_in_window(ref, window):
            continue
        if loaded.get(ref.key(landing_dir)) == ref.fingerprint:
            stats.files_skipped += 1
            continue
        stats.files_read += 1
        reader = FileReader(ref, spec.files)
        kept = len(batches)  # this file's batches start here (dropped if the file fails)
        flushed = 0  # rows of this file already conformed and yielded
        try:
            for batch in reader:
                if spec.contract.new_columns == "fail":
                    extra = [n for n in batch.schema.names if n not in declared]
                    if extra:
                        raise SchemaDriftError(
                            f"{spec.source}.{spec.name}: column(s) {', '.join(map(repr, extra))} "
                            f"in {ref.url} not declared in {spec.path} (contract.new_columns: "
                            "fail); declare them or set evolve"
                        )
                offset = reader.rows - batch.num_rows
                segments.append(_Segment(ref.url, 0, pending, batch.num_rows, reader, offset))
                batches.append(batch)
                pending += batch.num_rows
                if pending >= spec.files.batch_rows:
                    yield from _conform_combined(spec, segments, batches, stats, at, window, cursor)
                    segments, batches, pending, kept, flushed = [], [], 0, 0, reader.rows
        except FileReadError as exc:
            del segments[kept:], batches[kept:]
            pending = sum(b.num_rows for b in batches)
            stats.failed_files.append(FileFailure(ref.url, str(exc), flushed))
            continue
        faults = reader.faults
        stats.count_rows(ref.url, reader.rows + len(faults))
        if faults:
            for _ in faults:
                stats.count_rejected(ref.url)
            rows = [RejectedRow(f.line, f.reason, f.raw) for f in faults]
            yield _rejected_table(spec, ref.url, rows, at)
        read.append(ref)
    if batches:
        yield from _conform_combined(spec, segments, batches, stats, at, window, cursor)
    if window is not None and stats.rows == 0:
        dated = [r for r in read if r.day() is not None]
        if dated:  # files named for the window's days, but not one row of them in it
            raise _empty_window_error(spec, window, dated, stats)
    if read:
        yield _loaded_files_table(spec, read, landing_dir, at)
    if cursor is not None and (new_state := cursor.state()) is not None:
        state["cursor"] = new_state


def _initial(spec: TableSpec) -> Any:
    value = spec.incremental.initial_value if spec.incremental else None
    if value is None:
        return None
    return _state_value(pa.scalar(parse_scalar(value, spec.column(spec.cursor).parsed_type)))


def sql_rows(
    spec: TableSpec,
    window: Window | None = None,
    stats: TableStats | None = None,
    state: dict[str, Any] | None = None,
) -> Iterator[Any]:
    """Rows of a SQL table through dlt's `sql_table` (pyarrow backend, chunked cursor)."""
    from dlt.sources.sql_database import sql_table  # SQLAlchemy loads only for SQL sources

    stats = stats if stats is not None else TableStats()
    state = state if state is not None else {}
    origin = spec.sql
    url = os.environ.get(origin.url_env)
    if not url:
        raise RuntimeError(
            f"{spec.path}: environment variable {origin.url_env} (sql.url_env) is not set"
        )
    cursor = None
    if spec.incremental and window is None:
        saved = state.get("cursor") or {}
        cursor = CursorFilter(
            spec, saved.get("last_value", _initial(spec)), set(saved.get("boundary", []))
        )

    def query_adapter(query: Any, table: Any) -> Any:
        # push the cursor / window down as a WHERE clause; rows are re-checked in Arrow
        column = spec.partitioning.column if (window and spec.partitioning) else spec.cursor
        if column is None:
            return query
        col = table.c[column]
        if window is not None:
            start, end = (_as_utc(w).replace(tzinfo=None) for w in window)
            return query.where(col >= start).where(col < end)
        if cursor is not None and cursor.start is not None:
            start = parse_scalar(cursor.start, spec.column(column).parsed_type)
            if isinstance(start, dt.datetime):
                start = start.astimezone(dt.UTC).replace(tzinfo=None)
            return query.where(col >= start).order_by(col)
        return query.order_by(col)

    resource = sql_table(
        credentials=url,
        schema=origin.schema_name,
        table=origin.table,
        backend="pyarrow",
        chunk_size=origin.chunk_size,
        reflection_level="minimal",
        query_adapter_callback=query_adapter,
    )
    at = dt.datetime.now(dt.UTC)
    name = f"{origin.schema_name + '.' if origin.schema_name else ''}{origin.table}"
    stats.files_read += 1
    batches = _conformed_batches(spec, iter(resource), name, stats, at, window, cursor)
    yield from coalesce(batches, origin.chunk_size)
    if cursor is not None and (new_state := cursor.state()) is not None:
        state["cursor"] = new_state


def table_resource(
    spec: TableSpec,
    landing_dir: Path | str,
    window: Window | None = None,
    stats: RunStats | None = None,
    before_extract: Callable[[TableSpec], None] | None = None,
    replicated: bool = False,
    record: Callable[[TableSpec], Mapping[str, str]] | None = table_record,
) -> DltResource:
    """The dlt resource of one table, with all its hints.

    Without `stats` (nobody reports the failed files after the load) a file that cannot be read
    fails the extract, naming it; with `stats` the caller reports them (`run_source`).
    `record` reads the table's loaded-files record when extraction starts (None: read every
    file again, e.g. after a full refresh)."""
    run_stats = stats if stats is not None else RunStats()
    report_failures = stats is None

    def rows() -> Iterator[Any]:
        if before_extract is not None:
            before_extract(spec)
        state = dlt.current.resource_state()
        table_stats = run_stats.table(spec.name)
        if spec.files is not None:
            loaded = record(spec) if record is not None else {}
            yield from files_rows(spec, landing_dir, window, table_stats, state, loaded)
        else:
            yield from sql_rows(spec, window, table_stats, state)
        if report_failures and table_stats.failed_files:
            raise FileReadError("; ".join(f"{f.file}: {f.error}" for f in table_stats.failed_files))

    contract = "evolve" if spec.contract.new_columns == "evolve" else "freeze"
    resource = dlt.resource(rows, name=spec.name)
    # the rejected-rows variant first: variants start from the resource's hints at creation time
    resource.apply_hints(
        table_name=REJECTED_TABLE,
        write_disposition="append",
        columns=[{"name": k, **v} for k, v in REJECTED_COLUMNS.items()],
        create_table_variant=True,
    )
    resource.apply_hints(
        table_name=LOADED_FILES_TABLE,
        write_disposition="append",
        columns=[{"name": k, **v} for k, v in LOADED_FILES_COLUMNS.items()],
        create_table_variant=True,
    )
    resource.apply_hints(
        table_name=spec.name,
        write_disposition=spec.dlt_write_disposition,
        primary_key=list(spec.primary_key) or None,
        columns=column_hints(spec),
        schema_contract={"columns": contract},
    )
    return clickhouse_adapter(resource, **clickhouse_hints(spec, replicated))


def dlt_source(
    source_name: str,
    specs: list[TableSpec],
    landing_dir: Path | str,
    window: Window | None = None,
    stats: RunStats | None = None,
    before_extract: Callable[[TableSpec], None] | None = None,
    replicated: bool = False,
    record: Callable[[TableSpec], Mapping[str, str]] | None = table_record,
) -> DltSource:
    """One dlt source holding one resource per table of `source_name`."""
    tables = sorted((s for s in specs if s.source == source_name), key=lambda s: s.name)
    if not tables:
        raise ValueError(f"no schema declares source {source_name!r}")

    @dlt.source(name=source_name, max_table_nesting=0, root_key=False)
    def source() -> list[DltResource]:
        return [
            table_resource(s, landing_dir, window, stats, before_extract, replicated, record)
            for s in tables
        ]

    return source()


def describe(spec: TableSpec) -> str:
    """One line for logs and the CLI."""
    return json.dumps(
        {
            "table": spec.raw_table,
            "disposition": spec.resolved_write_disposition,
            "merge_strategy": spec.resolved_merge_strategy,
            "cursor": spec.cursor,
            "partition_by": spec.clickhouse.partition_by,
        }
    )
