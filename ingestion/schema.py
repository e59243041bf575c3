"""The table schema YAML format (`ingestion/schemas/<source>/<table>.yml`): models and loader.

`load_schemas()` reads every YAML, validates it strictly (unknown keys, unknown types, key columns
that are not columns, duplicate tables, non-plain identifiers...) and returns `TableSpec`s. Every
problem is reported as `file:line: field: message` before anything runs.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.identifiers import InvalidIdentifierError, validate_identifier
from core.settings import settings
from ingestion.dlt_names import DLT_TABLES, STAGING_SUFFIX, raw_table_name, rename_problem
from ingestion.key_expressions import check_key_expression, expression_columns
from ingestion.types import (
    TYPE_PATTERN,
    ColumnType,
    UnknownTypeError,
    clickhouse_type,
    parse_scalar,
    parse_type,
)

SCHEMAS_DIR = Path(__file__).resolve().parent / "schemas"
INGESTED_AT = "_ingested_at"  # version column added to every raw table (load time, UTC)
REJECTED_TABLE = "_rejected_rows"  # per source: raw.<source>____rejected_rows
LOADED_FILES_TABLE = "_loaded_files"  # per source: raw.<source>____loaded_files
RESERVED_COLUMNS = {INGESTED_AT, "_dlt_load_id", "_dlt_id"}
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")
_ORDERED_TYPES = {"int", "uint", "float", "decimal", "date", "timestamp"}
_VERSION_TYPES = {"uint", "int", "date", "timestamp"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _identifier(value: str, field: str) -> str:
    try:
        return validate_identifier(value, field=field)
    except InvalidIdentifierError as exc:
        raise ValueError(str(exc).removeprefix(f"{field}: ")) from None


def _loaded_as_declared(value: str) -> str:
    """A table, column or source name dlt keeps as it is (else the error says its dlt name)."""
    if problem := rename_problem(value):
        raise ValueError(problem)
    return value


def parse_duration(value: str) -> dt.timedelta:
    """'90m', '26h', '1d', '1d12h' -> timedelta."""
    match = _DURATION.match(str(value).strip())
    if not match or not any(match.groups()):
        raise ValueError(f"{value!r} is not a duration like '30m', '26h', '1d' or '1d12h'")
    days, hours, minutes = (int(g or 0) for g in match.groups())
    return dt.timedelta(days=days, hours=hours, minutes=minutes)


class CsvOptions(_Strict):
    """How CSV files are read (defaults: comma separated, header row, UTF-8)."""

    delimiter: str = Field(",", min_length=1, max_length=1)
    quote_char: str = Field('"', min_length=1, max_length=1)
    header: bool = True
    column_names: list[str] | None = Field(None, description="Names when header is false.")
    skip_rows: int = Field(0, ge=0, description="Lines skipped before the header.")
    null_values: list[str] = Field(default_factory=lambda: [""], description="Read as null.")
    encoding: str = "utf8"
    newlines_in_values: bool = Field(
        False,
        description="Quoted values may span lines. False (default): a value that spans lines is an "
        "unclosed quote; that row and the lines it swallowed are rejected, one per line.",
    )


class FilesOrigin(_Strict):
    """Files matching a glob: relative to the landing dir, an absolute path, or s3://bucket/..."""

    path: str = Field(..., description="Glob, e.g. jaffle_shop/orders/*.csv or s3://b/orders/*.csv")
    format: Literal["csv", "parquet", "jsonl"] | None = Field(
        None, description="Default: from the path's extension."
    )
    csv: CsvOptions = Field(default_factory=CsvOptions)
    batch_rows: int = Field(32_768, ge=1_000, le=1_000_000, description="Rows per Arrow batch.")
    block_size: int | None = Field(
        None,
        ge=64 << 10,
        description="Bytes the reader parses at a time (default: from batch_rows and the file "
        "size); grows by itself when a row does not fit.",
    )
    max_field_bytes: int = Field(
        16 << 20,
        ge=1,
        description="CSV only: a longer value rejects its row (default 16 MiB). JSONL and "
        "Parquet values are typed by their format; their block grows to the longest row.",
    )

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if ".." in Path(value).parts:
            raise ValueError("'..' is not allowed in a files path")
        if "://" in value and not value.startswith("s3://"):
            raise ValueError("only local paths and s3:// URLs are supported")
        return value

    @model_validator(mode="after")
    def _format(self) -> FilesOrigin:
        if self.format is None:
            suffix = self.path.rsplit(".", 1)[-1].lower()
            fmt = {"csv": "csv", "parquet": "parquet", "jsonl": "jsonl", "ndjson": "jsonl"}.get(
                suffix
            )
            if fmt is None:
                raise ValueError(f"cannot tell the format of {self.path!r}: set files.format")
            object.__setattr__(self, "format", fmt)
        if self.format != "csv" and "max_field_bytes" in self.model_fields_set:
            raise ValueError(
                f"files.max_field_bytes applies to CSV files only, not {self.format}: remove it"
            )
        return self


class SqlOrigin(_Strict):
    """A table of a SQL database reached through SQLAlchemy."""

    url_env: str = Field(..., description="Environment variable holding the SQLAlchemy URL.")
    schema_name: str | None = Field(None, alias="schema", description="Database schema.")
    table: str
    chunk_size: int = Field(50_000, ge=100, le=1_000_000)

    @field_validator("url_env")
    @classmethod
    def _env(cls, value: str) -> str:
        if not _ENV_NAME.match(value):
            raise ValueError(f"{value!r} is not an environment variable name ([A-Z_][A-Z0-9_]*)")
        return value

    @field_validator("schema_name", "table")
    @classmethod
    def _ident(cls, value: str | None) -> str | None:
        return None if value is None else _identifier(value, "sql")


class Column(_Strict):
    name: str
    type: Annotated[str, Field(pattern=TYPE_PATTERN)] = Field(
        ...,
        description="string, integer, int8..int64, uint8..uint64, float, float32, "
        "decimal(p, s), boolean, date, timestamp(p, tz), uuid, json, low_cardinality(t), "
        "enum('a', 'b', ...)",
    )
    nullable: bool | None = Field(None, description="Default true; key columns are never null.")
    description: str = ""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        _identifier(value, "name")
        if value != value.lower():
            raise ValueError(f"{value!r}: column names are lower snake_case")
        if value in RESERVED_COLUMNS or value.startswith("_dlt"):
            raise ValueError(f"{value!r} is reserved for ingestion metadata")
        return _loaded_as_declared(value)

    @field_validator("type", mode="before")
    @classmethod
    def _type(cls, value: Any) -> str:
        try:
            parse_type(str(value))
        except UnknownTypeError as exc:
            raise ValueError(str(exc)) from None
        return str(value)

    @cached_property
    def parsed_type(self) -> ColumnType:
        return parse_type(self.type)


class Incremental(_Strict):
    cursor: str = Field(..., description="Column whose growing value marks new rows.")
    initial_value: str | int | float | dt.date | dt.datetime | None = None


class ClickHouseLayout(_Strict):
    """The raw table's layout in ClickHouse."""

    engine: Literal["ReplacingMergeTree", "MergeTree"] = "ReplacingMergeTree"
    version: str | None = Field(
        None, description=f"ReplacingMergeTree version column (default {INGESTED_AT})."
    )
    order_by: list[str] | None = Field(None, description="Sort key columns (default: primary key)")
    partition_by: str | None = Field(None, description="SQL expression, e.g. toYYYYMM(ordered_at)")
    retention: str | None = Field(
        None,
        description="Drop whole partitions whose newest row is older, e.g. 400d (needs "
        "partition_by on a date or timestamp column; applied by the maintenance job)",
    )
    settings: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @field_validator("retention")
    @classmethod
    def _retention(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @property
    def retention_delta(self) -> dt.timedelta | None:
        return parse_duration(self.retention) if self.retention else None

    @field_validator("settings")
    @classmethod
    def _settings(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            _identifier(key, "settings")
        return value


class Freshness(_Strict):
    max_lag: str = Field(..., description="Error when the newest row is older, e.g. 26h or 1d")
    warn_after: str | None = Field(None, description="Warn when older than this (e.g. 12h)")
    loaded_at_field: str = Field(INGESTED_AT, description="Column holding the load time.")

    @field_validator("max_lag", "warn_after")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @model_validator(mode="after")
    def _windows(self) -> Freshness:
        # Dagster's freshness policies need windows of at least a minute, warning before failing
        if self.max_lag_delta < dt.timedelta(minutes=1):
            raise ValueError(f"max_lag {self.max_lag!r} must be at least 1m")
        warn = self.warn_after_delta
        if warn is not None and not dt.timedelta(minutes=1) <= warn < self.max_lag_delta:
            raise ValueError(
                f"warn_after {self.warn_after!r} must be at least 1m and less than max_lag "
                f"{self.max_lag!r}"
            )
        return self

    @property
    def max_lag_delta(self) -> dt.timedelta:
        return parse_duration(self.max_lag)

    @property
    def warn_after_delta(self) -> dt.timedelta | None:
        return parse_duration(self.warn_after) if self.warn_after else None


class Partitioning(_Strict):
    """Daily partitions (event tables): Dagster runs and backfills one day at a time."""

    daily: bool = True
    column: str = Field(..., description="Date or timestamp column that assigns a row to a day.")
    start: dt.date = Field(..., description="First partition (day).")


class Contract(_Strict):
    new_columns: Literal["evolve", "fail"] = Field(
        "evolve", description="A column not declared here: add it (evolve) or stop the run (fail)."
    )
    max_rejected_rows: int | None = Field(
        None, ge=0, description="Fail the run when one file rejects more rows than this."
    )
    max_rejected_fraction: float | None = Field(
        None, ge=0, le=1, description="Fail the run when one file rejects a larger share (0..1)."
    )
    late_rows: Literal["load", "reject", "skip"] | None = Field(
        None,
        description="Rows not newer than the incremental cursor, in a new or changed file: load "
        "them as new versions, send them to the rejected rows, or skip them (counted). Default: "
        "load when the raw table deduplicates (ReplacingMergeTree or merge), else skip.",
    )


class TableYaml(_Strict):
    """One table: what a `<source>/<table>.yml` file holds."""

    name: str = Field(..., description="Table name; must equal the file name.")
    description: str = ""
    owners: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    files: FilesOrigin | None = None
    sql: SqlOrigin | None = None
    columns: list[Column] = Field(..., min_length=1)
    primary_key: list[str] = Field(default_factory=list)
    incremental: Incremental | None = None
    write_disposition: Literal["append", "merge", "replace"] | None = Field(
        None, description="Default: merge with a primary key, else append."
    )
    merge_strategy: Literal["engine", "delete-insert"] | None = Field(
        None,
        description="How merge replaces rows: engine = append into ReplacingMergeTree, the newest "
        "version per key wins (read with FINAL; default for ReplacingMergeTree); delete-insert = "
        "dlt deletes the old rows then inserts (exact without FINAL, slower).",
    )
    clickhouse: ClickHouseLayout = Field(default_factory=ClickHouseLayout)
    partitioning: Partitioning | None = None
    freshness: Freshness | None = None
    schedule: str | None = Field(None, description="Cron expression for loading this source.")
    contract: Contract = Field(default_factory=Contract)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        _identifier(value, "name")
        if value != value.lower() or value.startswith("_"):
            raise ValueError(f"{value!r}: table names are lower snake_case, not starting with _")
        return _loaded_as_declared(value)

    @field_validator("primary_key", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None and not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a valid cron expression")
        return value

    @model_validator(mode="after")
    def _one_origin(self) -> TableYaml:
        if (self.files is None) == (self.sql is None):
            raise ValueError("declare exactly one of `files` or `sql`")
        return self


class TableSpec(TableYaml):
    """A validated table: the YAML plus where it was found."""

    source: str
    path: Path

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        return _loaded_as_declared(_identifier(value, "source"))

    @property
    def deduplicated(self) -> bool:
        """Whether the raw table collapses re-deliveries (ReplacingMergeTree or a merge): read it
        with FINAL."""
        return self.clickhouse.engine == "ReplacingMergeTree" or (
            self.resolved_write_disposition == "merge"
        )

    @property
    def staging_model(self) -> str:
        """The dbt staging model reading this table."""
        return f"stg_{self.source}__{self.name}"

    @property
    def late_rows(self) -> str:
        """What happens to rows not newer than the cursor (see Contract.late_rows)."""
        return self.contract.late_rows or ("load" if self.deduplicated else "skip")

    @property
    def cursor(self) -> str | None:
        return self.incremental.cursor if self.incremental else None

    @property
    def resolved_write_disposition(self) -> str:
        return self.write_disposition or ("merge" if self.primary_key else "append")

    @property
    def resolved_merge_strategy(self) -> str | None:
        if self.resolved_write_disposition != "merge":
            return None
        if self.merge_strategy:
            return self.merge_strategy
        return "engine" if self.clickhouse.engine == "ReplacingMergeTree" else "delete-insert"

    @property
    def dlt_write_disposition(self) -> str:
        """What dlt does: the engine strategy is an append the ReplacingMergeTree collapses."""
        if self.resolved_merge_strategy == "engine":
            return "append"
        return self.resolved_write_disposition

    @property
    def order_by(self) -> list[str]:
        return list(self.clickhouse.order_by or self.primary_key)

    @property
    def version_column(self) -> str:
        return self.clickhouse.version or INGESTED_AT

    @property
    def raw_table(self) -> str:
        """Table name in the raw database (dlt's `<dataset>___<table>` convention)."""
        return raw_table_name(self.source, self.name)

    @property
    def raw_tables(self) -> list[str]:
        """Every raw-database table loading this one can create: its own, its dlt staging copy
        (merges), and its source's rejected-rows and dlt bookkeeping tables."""
        return [
            self.raw_table,
            raw_table_name(self.source + STAGING_SUFFIX, self.name),
            *(raw_table_name(self.source, t) for t in (REJECTED_TABLE, *DLT_TABLES)),
        ]

    @property
    def asset_key(self) -> list[str]:
        return ["raw", self.source, self.name]

    @property
    def daily_partitioned(self) -> bool:
        return self.partitioning is not None and self.partitioning.daily

    @property
    def partition_start(self) -> dt.date | None:
        """First daily partition (the table's own start), when daily-partitioned."""
        return self.partitioning.start if self.daily_partitioned else None

    @property
    def replacing_key(self) -> tuple[str, ...]:
        """The ReplacingMergeTree sort key (the dedup key under FINAL); () for a MergeTree."""
        return tuple(self.order_by) if self.clickhouse.engine == "ReplacingMergeTree" else ()

    @property
    def local_glob(self) -> str | None:
        """The files glob relative to the landing dir, for a files table on local disk."""
        return self.files.path if self.files and "://" not in self.files.path else None

    @property
    def freshness_max_lag(self) -> dt.timedelta | None:
        return self.freshness.max_lag_delta if self.freshness else None

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def clickhouse_type(self, column: Column) -> str:
        """The column's ClickHouse type in the raw table (DDL and Dagster's column schema)."""
        return clickhouse_type(column.parsed_type, self.is_nullable(column))

    def is_nullable(self, column: Column) -> bool:
        """Declared nullability; key, sort, partition and version columns are never null."""
        if column.name in self.key_columns:
            return False
        return True if column.nullable is None else column.nullable

    @cached_property
    def key_columns(self) -> set[str]:
        keys = set(self.primary_key) | set(self.order_by)
        keys |= partition_columns(self.clickhouse.partition_by)
        if self.clickhouse.version:
            keys.add(self.clickhouse.version)
        if self.partitioning:
            keys.add(self.partitioning.column)
        return keys


class EmptyWindowError(RuntimeError):
    """A partition window has landing files named for its days but loads none of their rows."""


class SchemaError(ValueError):
    """One problem in one schema file, located by line and field."""

    def __init__(self, path: Path | str, line: int | None, field: str, message: str) -> None:
        self.path, self.line, self.field, self.message = Path(path), line, field, message
        location = f"{path}:{line}" if line else str(path)
        super().__init__(f"{location}: {field}: {message}" if field else f"{location}: {message}")


class SchemaErrors(ValueError):  # noqa: N818 (a list of SchemaError)
    """Problems found in several files (the first one of each file)."""

    def __init__(self, errors: list[SchemaError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


partition_columns = expression_columns


def check_expression(expression: str) -> str | None:
    """Why an SQL key expression is not acceptable (None when it is)."""
    return check_key_expression(expression)


# ---------------------------------------------------------------- loading with line numbers


def _plain(value: Any) -> Any:
    """ruamel's commented containers -> plain dict/list/scalars."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


def _line_of(document: Any, loc: Iterable[Any]) -> int | None:
    """1-based line of the deepest node of `loc` found in the ruamel document."""
    node, line = document, 1
    for part in loc:
        try:
            if isinstance(node, dict) and part in node:
                line = node.lc.key(part)[0] + 1
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                line = node.lc.item(part)[0] + 1
                node = node[part]
            else:
                break
        except (AttributeError, KeyError, TypeError):
            break
    return line


def _field(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _FastLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's C loader, refusing duplicate keys (the happy path; ruamel locates errors)."""

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(k, deep=deep) for k, _ in node.value]
        if len(keys) != len(set(map(str, keys))):
            raise yaml.YAMLError("duplicate key")
        return super().construct_mapping(node, deep=deep)


def schemas_dir_default() -> Path:
    """ELT_SCHEMAS_DIR if set (the Dagster code location reads the same setting), else ours."""
    return settings().project.schemas_dir


def _fast_parse(path: Path, source: str) -> TableSpec | None:
    """Parse + validate with the C loader; None when anything is wrong (the slow path reports)."""
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_FastLoader)  # noqa: S506
        if not isinstance(document, dict):
            return None
        _loaded_as_declared(_identifier(source, "source"))
        spec = TableSpec.model_validate({**document, "source": source, "path": path})
    except (yaml.YAMLError, ValidationError, ValueError):
        return None
    if spec.name != path.stem or check_table(spec) is not None:
        return None
    return spec


def _read_yaml(path: Path) -> Any:
    from ruamel.yaml import YAML  # the slow path only: it locates errors by line
    from ruamel.yaml.error import MarkedYAMLError

    try:
        return YAML(typ="rt").load(path.read_text(encoding="utf-8"))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise SchemaError(path, line, "", f"invalid YAML: {exc.problem or exc}") from None


def parse_table_file(path: Path, source: str | None = None) -> TableSpec:
    """Parse and validate one schema file; raise SchemaError for its first problem."""
    path = Path(path)
    source = source or path.parent.name
    fast = _fast_parse(path, source)
    if fast is not None:
        return fast
    document = _read_yaml(path)
    if not isinstance(document, dict):
        raise SchemaError(path, 1, "", "expected a mapping of table settings")
    try:
        _loaded_as_declared(_identifier(source, "source"))
    except ValueError as exc:
        raise SchemaError(path, 1, "source folder", str(exc)) from None
    try:
        spec = TableSpec.model_validate({**_plain(document), "source": source, "path": path})
    except ValidationError as exc:
        errors = exc.errors()
        # an unknown key (a typo) explains a "field required" too: report it first
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        loc = [p for p in first["loc"] if not (isinstance(p, str) and "[" in p)]
        msg = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            msg = "unknown key (not part of the schema format)"
        raise SchemaError(path, _line_of(document, loc), _field(loc), msg) from None
    if spec.name != path.stem:
        raise SchemaError(
            path,
            _line_of(document, ["name"]),
            "name",
            f"{spec.name!r} must equal the file name {path.stem!r}",
        )
    problem = check_table(spec)
    if problem:
        loc, msg = problem
        raise SchemaError(path, _line_of(document, loc), _field(loc), msg)
    return spec


def check_table(spec: TableSpec) -> tuple[list[Any], str] | None:
    """Cross-field rules; returns (loc, message) of the first broken one."""
    names = [c.name for c in spec.columns]
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            return ["columns", i, "name"], f"duplicate column {name!r}"
        seen.add(name)

    def missing(items: list[str], loc: list[Any], what: str) -> tuple[list[Any], str] | None:
        for i, item in enumerate(items):
            if item not in seen:
                return [*loc, i], f"{what} {item!r} is not a declared column"
        return None

    if problem := missing(spec.primary_key, ["primary_key"], "primary key column"):
        return problem
    if spec.clickhouse.order_by is not None and (
        problem := missing(spec.clickhouse.order_by, ["clickhouse", "order_by"], "order_by column")
    ):
        return problem
    for loc, col in (
        (["primary_key"], spec.primary_key),
        (["clickhouse", "order_by"], spec.order_by),
    ):
        for i, name in enumerate(col):
            if spec.column(name).nullable is True:
                return [*loc, i], f"key column {name!r} cannot be nullable"
    if spec.resolved_write_disposition == "merge" and not spec.primary_key:
        return ["write_disposition"], "merge needs a primary_key"
    if spec.merge_strategy and spec.resolved_write_disposition != "merge":
        return ["merge_strategy"], "merge_strategy applies to write_disposition: merge only"
    if spec.merge_strategy == "engine" and spec.clickhouse.engine != "ReplacingMergeTree":
        return ["merge_strategy"], "the engine strategy needs clickhouse.engine ReplacingMergeTree"
    if spec.clickhouse.engine == "ReplacingMergeTree" and not spec.order_by:
        return ["clickhouse", "engine"], "ReplacingMergeTree needs a primary_key or order_by"
    if spec.clickhouse.engine == "ReplacingMergeTree" and (
        left_out := [k for k in spec.primary_key if k not in spec.order_by]
    ):
        return ["clickhouse", "order_by"], (
            f"leaves out primary key column(s) {', '.join(map(repr, left_out))}: ReplacingMergeTree"
            " keeps one row per order_by value, so rows with different keys would collapse"
        )
    if spec.incremental:
        cursor = spec.incremental.cursor
        if cursor not in seen:
            return ["incremental", "cursor"], f"cursor {cursor!r} is not a declared column"
        if spec.column(cursor).parsed_type.kind not in _ORDERED_TYPES:
            return [
                "incremental",
                "cursor",
            ], f"cursor {cursor!r} must be a number, date or timestamp"
        if spec.incremental.initial_value is not None:
            try:
                parse_scalar(spec.incremental.initial_value, spec.column(cursor).parsed_type)
            except ValueError as exc:
                return ["incremental", "initial_value"], str(exc)
    if spec.clickhouse.partition_by:
        if problem_text := check_key_expression(spec.clickhouse.partition_by, seen):
            return ["clickhouse", "partition_by"], problem_text
        for name in sorted(partition_columns(spec.clickhouse.partition_by)):
            if name not in seen:
                return ["clickhouse", "partition_by"], f"column {name!r} is not a declared column"
            if spec.column(name).nullable is True:
                return ["clickhouse", "partition_by"], f"partition column {name!r} is nullable"
    if spec.clickhouse.retention:
        kinds = {
            spec.column(n).parsed_type.kind
            for n in partition_columns(spec.clickhouse.partition_by or "")
            if n in seen
        }
        if not kinds & {"date", "timestamp"}:
            return ["clickhouse", "retention"], (
                "retention drops whole partitions by age: partition_by must use a date or"
                " timestamp column"
            )
    if (version := spec.clickhouse.version) is not None:
        if version not in seen:
            return ["clickhouse", "version"], f"version column {version!r} is not a declared column"
        if spec.column(version).parsed_type.kind not in _VERSION_TYPES:
            return ["clickhouse", "version"], "version column must be an integer, date or timestamp"
    if spec.partitioning:
        col = spec.partitioning.column
        if col not in seen:
            return ["partitioning", "column"], f"{col!r} is not a declared column"
        if spec.column(col).parsed_type.kind not in ("date", "timestamp"):
            return ["partitioning", "column"], f"{col!r} must be a date or timestamp"
    if spec.freshness and spec.freshness.loaded_at_field not in seen | {INGESTED_AT}:
        field = spec.freshness.loaded_at_field
        return ["freshness", "loaded_at_field"], f"{field!r} is not a declared column"
    csv_options = spec.files.csv if spec.files and spec.files.format == "csv" else None
    if csv_options and not csv_options.header and not csv_options.column_names:
        return ["files", "csv", "header"], "header is false: list csv.column_names"
    return None


def table_files(schemas_dir: Path) -> list[Path]:
    """All `<source>/<table>.yml` files, sorted."""
    return sorted([*schemas_dir.glob("*/*.yml"), *schemas_dir.glob("*/*.yaml")])


def validate_dir(schemas_dir: Path | None = None) -> tuple[list[TableSpec], list[SchemaError]]:
    """Validate every file; returns the good specs and the first problem of each bad file."""
    schemas_dir = Path(schemas_dir or schemas_dir_default())
    specs: list[TableSpec] = []
    errors: list[SchemaError] = []
    by_name: dict[tuple[str, str], Path] = {}
    for path in table_files(schemas_dir):
        try:
            spec = parse_table_file(path)
        except SchemaError as exc:
            errors.append(exc)
            continue
        key = (spec.source, spec.name)
        if key in by_name:
            errors.append(
                SchemaError(
                    path,
                    1,
                    "name",
                    f"duplicate table {spec.source}.{spec.name} (also in {by_name[key]})",
                )
            )
            continue
        by_name[key] = path
        specs.append(spec)
    errors.extend(_check_sources(specs))
    errors.extend(_check_raw_names(specs))
    return specs, errors


def _check_raw_names(specs: list[TableSpec]) -> list[SchemaError]:
    """Two tables (or a table and a source's rejected-rows / dlt table) must not share a raw
    table name: computed as the loader names them."""
    owners: dict[str, TableSpec] = {}
    for spec in specs:  # rejected-rows and dlt tables belong to the source's first table
        for name in dict.fromkeys(spec.raw_tables):
            owners.setdefault(name, spec)
    errors = []
    for spec in specs:
        for name in spec.raw_tables:
            owner = owners[name]
            if owner.source != spec.source:
                errors.append(
                    SchemaError(
                        spec.path,
                        _locate(spec.path, ["name"]),
                        "name",
                        f"raw table {name!r} of {spec.source}.{spec.name} is also a raw table of"
                        f" source {owner.source!r} ({owner.path}): rename the table or source",
                    )
                )
                break
    return errors


def _locate(path: Path, loc: list[Any]) -> int | None:
    """The line of `loc` in a schema file that parsed (only errors pay for ruamel)."""
    try:
        return _line_of(_read_yaml(path), loc)
    except SchemaError:
        return None


def _check_sources(specs: list[TableSpec]) -> list[SchemaError]:
    """Tables of one source share its schedule."""
    errors = []
    schedules: dict[str, tuple[str, Path]] = {}
    for spec in specs:
        if spec.schedule is None:
            continue
        first = schedules.setdefault(spec.source, (spec.schedule, spec.path))
        if first[0] != spec.schedule:
            errors.append(
                SchemaError(
                    spec.path,
                    None,
                    "schedule",
                    f"{spec.schedule!r} differs from {first[0]!r} in {first[1]}:"
                    " tables of one source share one schedule",
                )
            )
    return errors


def load_schemas(schemas_dir: Path | str | None = None) -> list[TableSpec]:
    """Every validated table spec; raise SchemaErrors listing each bad file's first problem."""
    specs, errors = validate_dir(Path(schemas_dir) if schemas_dir else None)
    if errors:
        raise SchemaErrors(errors)
    return specs


def by_source(specs: Iterable[TableSpec]) -> dict[str, list[TableSpec]]:
    """The specs per source, sources and tables sorted by name."""
    grouped: dict[str, list[TableSpec]] = {}
    for spec in sorted(specs, key=lambda s: (s.source, s.name)):
        grouped.setdefault(spec.source, []).append(spec)
    return grouped


def source_names(specs: list[TableSpec]) -> list[str]:
    return sorted({s.source for s in specs})


def source_schedule(specs: list[TableSpec], source: str) -> str | None:
    """The cron schedule of a source (shared by its tables), if any."""
    return next((s.schedule for s in specs if s.source == source and s.schedule), None)


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of a table YAML (editors use it for autocompletion)."""
    schema = TableYaml.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "ELT table schema (ingestion/schemas/<source>/<table>.yml)"
    return schema
