"""Find and stream landing files (CSV / Parquet / JSONL, local or s3://) as bounded Arrow batches.

CSV columns are read as strings (the declared types are applied by `ingestion.conform`, so a bad
value rejects one row instead of failing the file); Parquet and JSONL keep their own types.
"""

from __future__ import annotations

import csv
import datetime as dt
import glob
import io
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
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
    # ~128 bytes a row, bounded to [1 MiB, 64 MiB]: memory stays flat whatever the file size;
    # a small file gets a small buffer (allocating 8 MiB per daily file costs more than reading)
    rows_based = min(64 << 20, max(1 << 20, origin.batch_rows * 128))
    return max(64 << 10, min(rows_based, ref.size + 4096)) if ref.size else rows_based


def read_batches(ref: FileRef, origin: FilesOrigin) -> Iterator[pa.RecordBatch]:
    """Stream one file as Arrow record batches of bounded size."""
    fs = _filesystem(ref.url) if ref.url.startswith("s3://") else _LocalFS()
    if origin.format == "csv":
        with fs.open(ref.url, "rb") as handle:
            names = _csv_names(handle, origin)
        if not names:
            return
        opts = origin.csv
        skip = opts.skip_rows + (1 if opts.header else 0)
        with fs.open(ref.url, "rb") as handle:
            reader = pa_csv.open_csv(
                handle,
                read_options=pa_csv.ReadOptions(
                    column_names=names,
                    skip_rows=skip,
                    block_size=_block_size(origin, ref),
                    encoding=opts.encoding,
                    use_threads=False,  # many small files: threads cost more than they give
                ),
                parse_options=pa_csv.ParseOptions(
                    delimiter=opts.delimiter, quote_char=opts.quote_char, newlines_in_values=True
                ),
                convert_options=pa_csv.ConvertOptions(
                    column_types=dict.fromkeys(names, pa.string()),
                    null_values=opts.null_values,
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,
                ),
            )
            yield from reader
    elif origin.format == "parquet":
        with fs.open(ref.url, "rb") as handle:
            yield from pq.ParquetFile(handle).iter_batches(batch_size=origin.batch_rows)
    else:
        with fs.open(ref.url, "rb") as handle:
            reader = pa_json.open_json(
                handle,
                read_options=pa_json.ReadOptions(block_size=_block_size(origin, ref)),
                parse_options=pa_json.ParseOptions(unexpected_field_behavior="infer"),
            )
            yield from reader
