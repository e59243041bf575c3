"""Find and stream landing files (CSV / Parquet / JSONL, local or s3://) as bounded Arrow batches.

CSV columns are read as strings (the declared types are applied by `ingestion.conform`, so a bad
value rejects one row instead of failing the file); Parquet and JSONL keep their own types.

`FileReader` also turns the faults of single rows into `RowFault`s instead of failing the file:
a CSV row with too few or too many fields (pyarrow's `invalid_row_handler`; one that also holds
bytes that are not UTF-8 is parsed from a mended copy, `mend_utf8`), a value that is not
UTF-8, a value longer than `files.max_field_bytes`, an unclosed quote (a value spanning lines
while `csv.newlines_in_values` is false: the row and each line it swallowed), a JSONL line that
does not parse. A row larger than the block size grows the block instead of failing. Whatever
else goes wrong with a file is a `FileReadError` naming it.
"""

from __future__ import annotations

import bisect
import contextlib
import csv
import datetime as dt
import glob
import io
import os
import re
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from core.settings import settings
from ingestion.schema import FilesOrigin

_DAY_IN_NAME = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


@dataclass(frozen=True)
class FileRef:
    """One file to load: its URL or absolute path, size and modification time."""

    url: str
    size: int
    modified: str

    @property
    def fingerprint(self) -> str:
        return f"{self.size}:{self.modified}"

    @property
    def name(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]

    def day(self) -> dt.date | None:
        """The date in the file name (daily files like 2018-09-01.csv), if any."""
        return file_day(self.name)

    def key(self, landing_dir: Path | str) -> str:
        """How the loaded-files record names the file: relative to the landing dir when it lives
        there (so the record survives a moved checkout), else its URL."""
        if self.url.startswith("s3://"):
            return self.url
        try:
            return Path(self.url).relative_to(Path(landing_dir)).as_posix()
        except ValueError:
            return self.url


def file_day(name: str) -> dt.date | None:
    """The date in a landing file's name (`2018-09-01.csv`, `orders_2018-09-01.parquet`)."""
    match = _DAY_IN_NAME.search(Path(name).name)
    if not match:
        return None
    try:
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def s3_options() -> dict[str, Any]:
    """s3fs options from the environment (AWS_* variables; AWS_ENDPOINT_URL for S3-compatible)."""
    s3 = settings().s3
    options: dict[str, Any] = {}
    if endpoint := s3.endpoint_url_s3 or s3.endpoint_url:
        options["endpoint_url"] = endpoint
    if s3.access_key_id and s3.secret_access_key:
        options["key"] = s3.access_key_id
        options["secret"] = s3.secret_access_key
    elif not s3.profile:
        options["anon"] = True
    if s3.default_region:
        options["client_kwargs"] = {"region_name": s3.default_region}
    return options


class _LocalFS:
    """Plain local file access (fsspec's local layer costs ~ms per small file)."""

    @staticmethod
    def open(path: str, mode: str = "rb") -> Any:
        return open(path, mode)


def _filesystem(url: str) -> Any:
    import fsspec  # loaded only when a glob is remote (local files use `open`)

    if url.startswith("s3://"):
        return fsspec.filesystem("s3", **s3_options())
    return fsspec.filesystem("file")


def resolve_glob(path: str, landing_dir: Path | str) -> str:
    """A files path as an absolute local glob or s3 URL (relative paths live in landing_dir)."""
    if path.startswith("s3://") or Path(path).is_absolute():
        return path
    return str(Path(landing_dir) / path)


def list_files(origin: FilesOrigin, landing_dir: Path | str) -> list[FileRef]:
    """Files matching the origin's glob, sorted by name (so daily files come in date order)."""
    pattern = resolve_glob(origin.path, landing_dir)
    if not pattern.startswith("s3://"):
        refs = []
        for found in sorted(glob.glob(pattern, recursive=True)):
            info = os.stat(found)
            if stat.S_ISREG(info.st_mode):
                refs.append(FileRef(url=found, size=info.st_size, modified=str(info.st_mtime)))
        return refs
    fs = _filesystem(pattern)
    refs = []
    for found in sorted(fs.glob(pattern)):
        info = fs.info(found)
        if info.get("type") == "directory":
            continue
        modified = info.get("mtime") or info.get("LastModified") or info.get("created") or ""
        if isinstance(modified, dt.datetime):
            modified = modified.isoformat()
        url = f"s3://{found}" if pattern.startswith("s3://") else found
        refs.append(FileRef(url=url, size=int(info.get("size") or 0), modified=str(modified)))
    refs.sort(key=lambda r: r.url)
    return refs


def _csv_names(handle: Any, origin: FilesOrigin) -> list[str]:
    options = origin.csv
    if not options.header:
        return list(options.column_names or [])
    for _ in range(options.skip_rows):
        handle.readline()
    line = handle.readline().decode(options.encoding.replace("utf8", "utf-8")).lstrip("\ufeff")
    reader = csv.reader(
        io.StringIO(line), delimiter=options.delimiter, quotechar=options.quote_char
    )
    return next(reader, [])


def _block_size(origin: FilesOrigin, ref: FileRef) -> int:
    if origin.block_size:
        return origin.block_size
    # ~128 bytes a row, bounded to [1 MiB, 64 MiB]: memory stays flat whatever the file size;
    # a small file gets a small buffer (allocating 8 MiB per daily file costs more than reading)
    rows_based = min(64 << 20, max(1 << 20, origin.batch_rows * 128))
    return max(64 << 10, min(rows_based, ref.size + 4096)) if ref.size else rows_based


RAW_LIMIT = 1000  # characters of a rejected row's raw text that are kept


@dataclass(frozen=True)
class RowFault:
    """A row the reader could not turn into a record: its line in the file, why, its raw text."""

    line: int
    reason: str
    raw: str


class FileReadError(ValueError):
    """The file as a whole cannot be read (unreadable, not the declared format)."""


class _RowTooLargeError(Exception):
    """A row is larger than the block size: read again with a larger one."""


class _MendError(Exception):
    """A row with the wrong number of fields holds bytes that are not UTF-8: pyarrow cannot hand
    it to the invalid-row hook (it decodes the row's text first), so the file is read again with
    the bytes of its non-UTF-8 lines mended and those rows rejected (`mend_utf8`)."""


MEND_LIMIT = 256 << 20  # a file read again with mended lines is read whole


def mend_utf8(data: bytes, quote_char: str) -> tuple[bytes, dict[int, str]]:
    """`data` with each byte sequence that is not UTF-8 replaced by U+FFFD, and the original text
    (non-UTF-8 bytes shown as \\x escapes) of each mended record by its number (1-based, as
    pyarrow counts records: a quoted value's line breaks stay in its record). Delimiters, quotes
    and line breaks are ASCII, so every record keeps its fields and its place."""
    quote = quote_char.encode()
    out: list[bytes] = []
    mended: dict[int, str] = {}
    record, inside, lines, bad = 0, False, [], False  # lines: the current record's
    for line in data.split(b"\n"):
        if not inside:
            record, lines, bad = record + 1, [], False
        lines.append(line)
        try:
            line.decode("utf-8")
            out.append(line)
        except UnicodeDecodeError:
            out.append(line.decode("utf-8", errors="replace").encode("utf-8"))
            bad = True
        if quote and line.count(quote) % 2:
            inside = not inside
        if bad:
            mended[record] = b"\n".join(lines).decode("utf-8", errors="backslashreplace")
    return b"\n".join(out), mended


def _truncate(text: str) -> str:
    return text if len(text) <= RAW_LIMIT else text[:RAW_LIMIT] + f"... ({len(text)} chars)"


def nth_kept(index: int, removed: list[int]) -> int:
    """The position of the index-th (0-based) element not in the sorted list `removed`."""
    position = index
    while True:
        moved = index + bisect.bisect_right(removed, position)
        if moved == position:
            return position
        position = moved


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _bad_utf8(values: pa.Array) -> list[int]:
    bad = []
    for i, value in enumerate(values.cast(pa.binary()).to_pylist()):
        if value is not None:
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                bad.append(i)
    return bad


def _raw_text(batch: pa.RecordBatch, index: int, delimiter: str) -> str:
    """The row's values joined by the delimiter (CSV columns are all strings)."""
    values = [column.cast(pa.binary())[index].as_py() or b"" for column in batch.columns]
    return delimiter.join(v.decode("utf-8", errors="backslashreplace") for v in values)


class FileReader:
    """One file as Arrow record batches; rows it cannot read end up in `faults` (as it goes).

    `line_of(i)` gives the line in the file of the i-th row yielded (0-based), for the rows
    `ingestion.conform` rejects later. Lines count records: when csv.newlines_in_values is true, a
    loaded value spanning lines is counted as one line.
    """

    def __init__(self, ref: FileRef, origin: FilesOrigin) -> None:
        self.ref, self.origin = ref, origin
        self._faults: list[RowFault] = []  # found after parsing (line known)
        self._parser_faults: list[tuple[int, str, str]] = []  # (record, reason, raw)
        self.rows = 0  # rows yielded
        self._first = 1  # record number of the first data row
        self._fault_records: list[int] = []  # record numbers the parser skipped (sorted)
        self._removed: list[int] = []  # parsed indices dropped after parsing (sorted)
        self._extra: list[tuple[int, int]] = []  # (record, extra lines) of swallowed lines
        self._parsed = 0  # rows parsed so far
        self._seen_faults: set[int] = set()
        self._quotes = True  # the file may hold quoted values (unknown: check every batch)
        self._utf8 = False  # the whole file is known to be valid UTF-8
        self._lines: int | None = None  # lines of a file read whole
        self._mend = False  # read with its non-UTF-8 lines mended (see _MendError)
        self._undecodable = False  # pyarrow could not decode a row for the invalid-row hook
        self._mended: dict[int, str] = {}  # record -> original text of a mended record

    @property
    def faults(self) -> list[RowFault]:
        """The rows rejected so far, by line (complete once the file is read)."""
        parser = [
            RowFault(self._line_of_record(r), why, raw) for r, why, raw in self._parser_faults
        ]
        return sorted([*parser, *self._faults], key=lambda f: f.line)

    # ---------------------------------------------------------------- line numbers
    def _record_of_parsed(self, parsed: int) -> int:
        skipped = [r - self._first for r in self._fault_records]
        return self._first + nth_kept(parsed, skipped)

    def _line_of_record(self, record: int) -> int:
        return record + sum(extra for r, extra in self._extra if r < record)

    def line_of(self, index: int) -> int:
        return self._line_of_record(self._record_of_parsed(nth_kept(index, self._removed)))

    # ---------------------------------------------------------------- reading
    def __iter__(self) -> Iterator[pa.RecordBatch]:
        fs = _filesystem(self.ref.url) if self.ref.url.startswith("s3://") else _LocalFS()
        block = _block_size(self.origin, self.ref)
        try:
            while True:
                try:
                    yield from self._read(fs, block)
                    return
                except _MendError:
                    if self.ref.size > MEND_LIMIT:
                        raise FileReadError(
                            f"{self.ref.url}: a row with the wrong number of fields holds bytes "
                            f"that are not UTF-8; rejecting it alone needs the file read whole "
                            f"and the file is larger than {MEND_LIMIT >> 20} MiB"
                        ) from None
                    self._mend = True
                    block = max(block, self.ref.size + 4096)
                except _RowTooLargeError:
                    if self.ref.size and block > self.ref.size:
                        raise FileReadError(
                            f"{self.ref.url}: a row does not fit in {block} bytes although the "
                            "file is smaller: not valid "
                            f"{self.origin.format.upper()}"
                        ) from None
                    block = block * 8 if not self.ref.size else min(block * 8, self.ref.size + 1)
        except FileReadError:
            raise
        except (pa.ArrowException, OSError, UnicodeError, ValueError) as exc:
            raise FileReadError(
                f"{self.ref.url}: cannot be read as {self.origin.format}: {exc}"
            ) from exc

    @contextlib.contextmanager
    def _undecodable_rows_noted(self) -> Iterator[None]:
        """pyarrow decodes a bad row's text before it calls the invalid-row hook and reports the
        UnicodeDecodeError as unraisable; that one is noted (the file is then read mended), any
        other goes to the previous hook."""
        previous = sys.unraisablehook

        def hook(unraisable: Any) -> None:
            if unraisable.object == self._invalid_row and isinstance(
                unraisable.exc_value, UnicodeDecodeError
            ):
                self._undecodable = True
            else:
                previous(unraisable)

        sys.unraisablehook = hook
        try:
            yield
        finally:
            sys.unraisablehook = previous

    def _read(self, fs: Any, block: int) -> Iterator[pa.RecordBatch]:
        with self._undecodable_rows_noted():
            yield from self._read_batches(fs, block)

    def _read_batches(self, fs: Any, block: int) -> Iterator[pa.RecordBatch]:
        done = self._parsed  # rows parsed before a restart are not yielded again
        seen = 0
        try:
            for batch in self._whole_file_checked(self._open(fs, block)):
                if seen + batch.num_rows <= done:
                    seen += batch.num_rows
                    continue
                if seen < done:
                    batch = batch.slice(done - seen)
                    seen = done
                base, seen = seen, seen + batch.num_rows
                if self.origin.format == "csv":
                    batch = self._checked(batch, base, block)
                self._parsed = seen
                if batch.num_rows:
                    self.rows += batch.num_rows
                    yield batch
        except pa.ArrowInvalid as exc:
            if "straddl" in str(exc):
                raise _RowTooLargeError from None
            if self._needs_mending(exc):
                raise _MendError from None
            if self.origin.format != "jsonl":
                raise
            yield from self._jsonl_by_line(fs, skip=self._parsed)

    def _needs_mending(self, exc: pa.ArrowInvalid) -> bool:
        """The parse stopped at a row the invalid-row hook never saw: one with the wrong number of
        fields and bytes that are not UTF-8 (in a file declared UTF-8)."""
        return self._undecodable and not self._mend and "columns, got" in str(exc)

    def _whole_file_checked(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """A CSV file read whole: when its line count equals the records parsed, no value spans
        lines, so the batches need no line-break check."""
        if self.origin.format != "csv" or self.ref.size == 0:
            yield from batches
            return
        first = next(batches, None)
        if first is None or self._lines is None:
            yield from ([first] if first is not None else [])
            yield from batches
            return
        parsed = [first, *batches]
        records = self._first - 1 + sum(b.num_rows for b in parsed) + len(self._parser_faults)
        if records == self._lines:
            self._quotes = False
        yield from parsed

    def _open(self, fs: Any, block: int) -> Iterator[pa.RecordBatch]:
        origin = self.origin
        if origin.format == "csv":
            yield from self._open_csv(fs, block)
        elif origin.format == "parquet":
            with fs.open(self.ref.url, "rb") as handle:
                yield from pq.ParquetFile(handle).iter_batches(batch_size=origin.batch_rows)
        else:
            with fs.open(self.ref.url, "rb") as handle:
                yield from pa_json.open_json(
                    handle,
                    read_options=pa_json.ReadOptions(block_size=block, use_threads=False),
                    parse_options=pa_json.ParseOptions(unexpected_field_behavior="infer"),
                )

    def _open_csv(self, fs: Any, block: int) -> Iterator[pa.RecordBatch]:
        opts = self.origin.csv
        with fs.open(self.ref.url, "rb") as handle:
            # a file that fits one block is read once, and checked whole (fewer Arrow calls
            # per small file); a larger one streams and is checked batch by batch
            data = handle.read() if 0 < self.ref.size <= block or self._mend else None
            utf8 = opts.encoding.lower().replace("-", "") == "utf8"
            if data is not None and utf8 and (self._mend or not _is_utf8(data)):
                # mended up front when read whole: its rows with the wrong number of fields
                # then reach the invalid-row hook too
                data, self._mended = mend_utf8(data, opts.quote_char)
            names = _csv_names(io.BytesIO(data) if data is not None else handle, self.origin)
        if not names:
            return
        if data is not None:
            self._quotes = opts.quote_char.encode() in data
            self._lines = data.count(b"\n") + (not data.endswith(b"\n"))
            self._utf8 = True  # not declared UTF-8 (pyarrow transcodes), valid, or mended
        skip = opts.skip_rows + (1 if opts.header else 0)
        self._first = skip + 1
        with pa.BufferReader(data) if data is not None else fs.open(self.ref.url, "rb") as handle:
            yield from pa_csv.open_csv(
                handle,
                read_options=pa_csv.ReadOptions(
                    column_names=names,
                    skip_rows=skip,
                    block_size=block,
                    encoding=opts.encoding,
                    use_threads=False,  # many small files: threads cost more than they give
                ),
                parse_options=pa_csv.ParseOptions(
                    delimiter=opts.delimiter,
                    quote_char=opts.quote_char,
                    newlines_in_values=True,  # quoted line breaks are parsed; checked below
                    invalid_row_handler=self._invalid_row,
                ),
                convert_options=pa_csv.ConvertOptions(
                    column_types=dict.fromkeys(names, pa.string()),
                    null_values=opts.null_values,
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,
                    check_utf8=False,  # checked per batch: a bad byte rejects its row only
                ),
            )

    def _invalid_row(self, row: Any) -> str:
        record = row.number  # pyarrow counts every line read: skipped ones and the header
        if record is None:
            return "error"
        if record not in self._seen_faults:  # a restart with a larger block sees it again
            self._seen_faults.add(record)
            bisect.insort(self._fault_records, record)
            reason = f"expected {row.expected_columns} fields, found {row.actual_columns}"
            raw = row.text
            if record in self._mended:
                reason, raw = f"not valid UTF-8, and {reason}", self._mended[record]
            self._parser_faults.append((record, reason, _truncate(raw)))
        return "skip"

    def _checked(self, batch: pa.RecordBatch, base: int, block: int) -> pa.RecordBatch:
        """Drop (as faults) the rows with bad UTF-8, over-long values or an unclosed quote."""
        reasons: dict[int, str] = {}
        spans: dict[int, int] = {}
        try:
            if not self._utf8:
                batch.validate(full=True)
        except pa.ArrowInvalid:
            for name, column in zip(batch.schema.names, batch.columns, strict=True):
                for i in _bad_utf8(column):
                    reasons.setdefault(i, f"column {name!r}: not valid UTF-8")
        mended: dict[int, str] = {}
        if self._mended:  # their bytes were mended to parse the rest: rejected all the same
            for i in range(batch.num_rows):
                record = self._record_of_parsed(base + i)
                if record in self._mended:
                    mended[i] = self._mended[record]
                    names = [
                        name
                        for name, column in zip(batch.schema.names, batch.columns, strict=True)
                        if "\ufffd" in (column[i].as_py() or "")
                    ]
                    reasons[i] = (
                        f"column {names[0]!r}: not valid UTF-8" if names else ("not valid UTF-8")
                    )
        limit = self.origin.max_field_bytes
        if block > limit:  # a value cannot be longer than the block it was parsed from
            for name, column in zip(batch.schema.names, batch.columns, strict=True):
                lengths = pc.binary_length(column.cast(pa.binary()))
                if (pc.max(lengths).as_py() or 0) > limit:
                    for i in pc.indices_nonzero(pc.greater(lengths, limit)).to_pylist():
                        reasons.setdefault(
                            i,
                            f"column {name!r}: value longer than {limit} bytes "
                            "(files.max_field_bytes)",
                        )
        if self._quotes and not self.origin.csv.newlines_in_values:  # no quote: no line break
            for name, column in zip(batch.schema.names, batch.columns, strict=True):
                if pc.any(pc.match_substring(column.cast(pa.binary()), b"\n")).as_py():
                    flags = pc.fill_null(pc.match_substring(column.cast(pa.binary()), b"\n"), False)
                    for i in pc.indices_nonzero(flags).to_pylist():
                        if i not in spans:
                            value = column.cast(pa.binary())[i].as_py()
                            # a line break ending the value is the file's last one
                            spans[i] = value.count(b"\n") - value.endswith(b"\n")
                            reasons.setdefault(
                                i,
                                f"column {name!r}: unclosed quote (the value spans "
                                f"{spans[i] + 1} lines; csv.newlines_in_values is false)",
                            )
        if not reasons:
            return batch
        for i in sorted(reasons):
            record = self._record_of_parsed(base + i)
            line = self._line_of_record(record)
            raw = mended.get(i) or _raw_text(batch, i, self.origin.csv.delimiter)
            lines = raw.split("\n")
            if i in spans and lines[-1] == "":
                lines.pop()
            self._faults.append(
                RowFault(line, reasons[i], _truncate(lines[0] if i in spans else raw))
            )
            for extra, text in enumerate(lines[1:] if i in spans else [], start=1):
                self._faults.append(
                    RowFault(
                        line + extra, f"inside the unclosed quote of line {line}", _truncate(text)
                    )
                )
            if i in spans:
                self._extra.append((record, spans[i]))
            bisect.insort(self._removed, base + i)
        keep = pa.array([i not in reasons for i in range(batch.num_rows)])
        return batch.filter(keep)

    def _jsonl_by_line(self, fs: Any, skip: int) -> Iterator[pa.RecordBatch]:
        """A JSONL file with bad lines: the good runs of lines load, each bad line is a fault
        (found by halving: pyarrow parses, nothing is parsed by hand)."""
        with fs.open(self.ref.url, "rb") as handle:
            lines = handle.read().split(b"\n")
        self._removed = []
        self._fault_records = []
        self._extra = []
        good: list[tuple[int, int]] = []

        def parse(lo: int, hi: int) -> None:
            if not any(line.strip() for line in lines[lo:hi]):
                return
            try:
                piece = b"\n".join(lines[lo:hi])
                pa_json.read_json(
                    io.BytesIO(piece), read_options=pa_json.ReadOptions(block_size=len(piece) + 2)
                )
                good.append((lo, hi))
            except pa.ArrowInvalid as exc:
                if hi - lo == 1:
                    text = lines[lo].decode("utf-8", errors="backslashreplace")
                    reason = str(exc).split(" in row ")[0]
                    self._faults.append(
                        RowFault(lo + 1, f"not a JSON object: {reason}", _truncate(text))
                    )
                    self._fault_records.append(lo + 1)
                    return
                mid = (lo + hi) // 2
                parse(lo, mid)
                parse(mid, hi)

        parse(0, len(lines))
        parsed = 0
        for lo, hi in good:
            piece = b"\n".join(lines[lo:hi])
            table = pa_json.read_json(
                io.BytesIO(piece),
                read_options=pa_json.ReadOptions(block_size=len(piece) + 2),
                parse_options=pa_json.ParseOptions(unexpected_field_behavior="infer"),
            )
            for batch in table.to_batches(max_chunksize=self.origin.batch_rows):
                if parsed + batch.num_rows <= skip:
                    parsed += batch.num_rows
                    continue
                if parsed < skip:
                    batch = batch.slice(skip - parsed)
                    parsed = skip
                parsed += batch.num_rows
                self.rows += batch.num_rows
                yield batch


def read_batches(ref: FileRef, origin: FilesOrigin) -> Iterator[pa.RecordBatch]:
    """Stream one file as Arrow record batches of bounded size (row faults: see FileReader)."""
    yield from FileReader(ref, origin)
