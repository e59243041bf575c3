"""`elt schema new`: draft a table YAML from a sample file for the analyst to edit."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from core.identifiers import validate_identifier
from ingestion.types import UUID_PATTERN

SAMPLE_ROWS = 10_000
# text with at most this many distinct values, each seen ~10 times or more, is low_cardinality
LOW_CARDINALITY_MAX_DISTINCT = 1_000
LOW_CARDINALITY_MIN_REPEATS = 10
LOW_CARDINALITY_MIN_ROWS = 100
_KEY_KINDS = ("int", "uint", "string", "uuid", "date", "timestamp")  # floats never key a row
_INT_RANGES = [(8, -(2**7), 2**7 - 1), (16, -(2**15), 2**15 - 1), (32, -(2**31), 2**31 - 1)]
_INT = r"^[+-]?\d{1,18}$"
_FLOAT = r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$"
_DATE = r"^\d{4}-\d{2}-\d{2}$"
_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$"
_BOOL = r"^(?i:true|false)$"


def _snake(name: str) -> str:
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name.strip())
    text = re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_").lower()
    return text if text and not text[0].isdigit() else f"c_{text}"


def _read_sample(path: Path) -> pa.Table:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        batches = pq.ParquetFile(path).iter_batches(batch_size=SAMPLE_ROWS)
        return pa.Table.from_batches([next(batches)])
    if suffix in (".jsonl", ".ndjson", ".json"):
        return pa_json.read_json(path).slice(0, SAMPLE_ROWS)
    with path.open("rb") as handle:
        header = handle.readline().decode().strip().split(",")
    table = pa_csv.read_csv(
        path,
        convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(header, pa.string())),
    )
    return table.slice(0, SAMPLE_ROWS)


def _all(values: pa.Array, pattern: str) -> bool:
    return bool(pc.all(pc.match_substring_regex(values, pattern)).as_py())


def narrowest_integer(values: pa.Array) -> str:
    """int8..int64: the narrowest signed type holding every value of the sample."""
    present = values.drop_null()
    if len(present) == 0:
        return "int64"
    bounds = pc.min_max(present.cast(pa.int64()))
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    return next((f"int{bits}" for bits, lo, hi in _INT_RANGES if lo <= low and high <= hi), "int64")


def _low_cardinality(values: pa.Array) -> bool:
    present = values.drop_null()
    if len(present) < LOW_CARDINALITY_MIN_ROWS:
        return False
    distinct = pc.count_distinct(present).as_py()
    return (
        distinct <= LOW_CARDINALITY_MAX_DISTINCT
        and distinct * LOW_CARDINALITY_MIN_REPEATS <= len(present)
    )


def infer_type(values: pa.Array) -> str:
    """A vocabulary type for a sample column (strings are sniffed: uuid, int, timestamp...)."""
    kind = values.type
    if pa.types.is_boolean(kind):
        return "boolean"
    if pa.types.is_unsigned_integer(kind):
        present = values.drop_null()
        high = pc.max(present).as_py() if len(present) else 2**64 - 1
        return next(f"uint{bits}" for bits in (8, 16, 32, 64) if high < 2**bits)
    if pa.types.is_integer(kind):
        return narrowest_integer(values)
    if pa.types.is_floating(kind):
        return "float"
    if pa.types.is_decimal(kind):
        return f"decimal({kind.precision}, {kind.scale})"
    if pa.types.is_date(kind):
        return "date"
    if pa.types.is_timestamp(kind):
        return "timestamp(6, UTC)"
    if not pa.types.is_string(kind) and not pa.types.is_large_string(kind):
        return "json" if pa.types.is_nested(kind) else "string"
    present = values.drop_null()
    present = present.filter(pc.not_equal(present, ""))
    if len(present) == 0:
        return "string"
    if _all(present, _INT):
        return narrowest_integer(present.cast(pa.int64()))
    for pattern, name in (
        (UUID_PATTERN, "uuid"),
        (_FLOAT, "float"),
        (_BOOL, "boolean"),
        (_DATE, "date"),
        (_TIMESTAMP, "timestamp(6, UTC)"),
    ):
        if _all(present, pattern):
            return name
    return "low_cardinality(string)" if _low_cardinality(present) else "string"


def _kind(type_text: str) -> str:
    return "uint" if type_text.startswith("uint") else re.sub(r"[\d(].*$", "", type_text)


def _unique(data: pa.Table, names: tuple[str, ...]) -> bool:
    columns = [data.column(n) for n in names]
    if any(c.null_count for c in columns) or data.num_rows == 0:
        return False
    if len(names) == 1:
        return pc.count_distinct(columns[0]).as_py() == data.num_rows
    grouped = pa.table(dict(zip(names, columns, strict=True))).group_by(list(names)).aggregate([])
    return grouped.num_rows == data.num_rows


def _id_like(name: str) -> bool:
    return name == "id" or name.endswith(("_id", "_key", "_code")) or name in ("sku", "key")


def infer_key(data: pa.Table, names: list[str], types: dict[str, str]) -> list[str]:
    """The columns unique and never null in the sample: one id-like column, else a pair with an
    id-like one (composite key), else any one column, else any pair. Empty when none is."""
    candidates = [n for n in names if _kind(types[n]) in _KEY_KINDS][:12]
    id_like = [n for n in candidates if _id_like(n)]
    searches = (
        itertools.combinations(id_like, 1),
        (c for c in itertools.combinations(candidates, 2) if any(map(_id_like, c))),
        itertools.combinations(candidates, 1),
        itertools.combinations(candidates, 2),
    )
    for combo in itertools.chain(*searches):
        if _unique(data, combo):
            return list(combo)
    return []


def _monotone(values: pa.Array) -> bool:
    """Never decreasing in file order (no nulls): a cursor that marks new rows."""
    if values.null_count or len(values) < 2:
        return False
    return bool(pc.all(pc.greater_equal(values[1:], values[:-1])).as_py())


def infer_cursor(data: pa.Table, names: list[str], types: dict[str, str]) -> str | None:
    """The first timestamp, date or integer column whose sample values never decrease."""
    for kinds in (("timestamp",), ("date",), ("int",)):
        for name in names:
            if _kind(types[name]) in kinds:
                values = data.column(name).combine_chunks()
                if pa.types.is_string(values.type):
                    values = pc.if_else(pc.equal(values, ""), None, values)
                    values = _typed(values, types[name])
                if values is not None and _monotone(values):
                    return name
    return None


def _typed(text: pa.Array, type_text: str) -> pa.Array | None:
    """A sniffed text column as comparable values (None when it does not convert)."""
    try:
        if type_text.startswith("timestamp"):
            try:
                return text.cast(pa.timestamp("us"))
            except pa.ArrowInvalid:  # offsets or Z: instants
                return text.cast(pa.timestamp("us", tz="UTC"))
        if type_text == "date":
            return text.cast(pa.date32())
        return text.cast(pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def draft_yaml(source: str, table: str, sample: Path, path_glob: str | None = None) -> str:
    """The YAML text of a new table schema inferred from `sample`."""
    validate_identifier(source, field="source")
    validate_identifier(table, field="table")
    data = _read_sample(Path(sample))
    suffix = Path(sample).suffix.lower().lstrip(".")
    fmt = {"ndjson": "jsonl", "json": "jsonl"}.get(suffix, suffix)
    lines = [
        "# yaml-language-server: $schema=../table.schema.json",
        f"# Drafted by `elt schema new` from {Path(sample).name}: check types, keys and docs.",
        f"name: {table}",
        f"description: TODO describe {source}.{table}",
        "owners: []",
        f"tags: [{source}]",
        "",
        "files:",
        f"  path: {path_glob or f'{source}/{table}/*.{fmt}'}",
        "",
        "columns:",
    ]
    names: list[str] = []
    types: dict[str, str] = {}
    for original in data.column_names:
        name = _snake(original)
        names.append(name)
        types[name] = infer_type(data.column(original).combine_chunks())
        lines.append(f"  - name: {name}")
        lines.append(f"    type: {types[name]}")
        if name != original:
            lines.append(f"    description: TODO (file column {original!r})")
        else:
            lines.append("    description: TODO")
    renamed = data.rename_columns(names)
    key = infer_key(renamed, names, types)
    lines.append("")
    if key:
        lines += [
            f"# unique and never null in the {renamed.num_rows} sample rows: check it is the key",
            f"primary_key: [{', '.join(key)}]",
            "write_disposition: merge",
        ]
    else:
        lines += [
            "# no column set is unique in the sample: rows are appended",
            "write_disposition: append",
        ]
    cursor = infer_cursor(renamed, names, types)
    if cursor:
        lines += [
            f"incremental:  # {cursor} never decreases in the sample",
            f"  cursor: {cursor}",
        ]
    lines += [
        "",
        "clickhouse:",
        "  engine: ReplacingMergeTree" if key else "  engine: MergeTree",
        f"  order_by: [{', '.join(key or [names[0]])}]",
        "",
        "freshness:",
        "  max_lag: 26h",
        'schedule: "0 6 * * *"',
        "contract:",
        "  new_columns: evolve",
        "",
    ]
    return "\n".join(lines)


def write_draft(
    source: str, table: str, sample: Path, schemas_dir: Path, force: bool = False
) -> tuple[Path, dict[str, Any]]:
    """Write `<schemas_dir>/<source>/<table>.yml` (never over an existing file unless force)."""
    target = Path(schemas_dir) / source / f"{table}.yml"
    if target.exists() and not force:
        raise FileExistsError(f"{target} exists (use --force to overwrite)")
    text = draft_yaml(source, table, sample)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target, {"path": str(target)}
