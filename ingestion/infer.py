"""`elt schema new`: draft a table YAML from a sample file for the analyst to edit."""

from __future__ import annotations

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


def infer_type(values: pa.Array) -> str:
    """A vocabulary type for a sample column (strings are sniffed: uuid, int, timestamp...)."""
    kind = values.type
    if pa.types.is_boolean(kind):
        return "boolean"
    if pa.types.is_integer(kind):
        return "int64" if pa.types.is_signed_integer(kind) else f"uint{kind.bit_width}"
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
    for pattern, name in (
        (UUID_PATTERN, "uuid"),
        (_INT, "int64"),
        (_FLOAT, "float"),
        (_BOOL, "boolean"),
        (_DATE, "date"),
        (_TIMESTAMP, "timestamp(6, UTC)"),
    ):
        if _all(present, pattern):
            return name
    return "string"


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
    key = next((n for n in names if n == "id"), None) or next(
        (n for n in names if n.endswith("_id")), None
    )
    lines.append("")
    if key:
        lines += [f"primary_key: [{key}]", "write_disposition: merge"]
    else:
        lines += ["# primary_key: [id]", "write_disposition: append"]
    cursor = next((n for n in names if types[n].startswith("timestamp")), None)
    if cursor:
        lines += ["incremental:", f"  cursor: {cursor}"]
    lines += [
        "",
        "clickhouse:",
        "  engine: ReplacingMergeTree" if key else "  engine: MergeTree",
        "",
        "freshness:",
        "  max_lag: 26h",
        'schedule: "0 6 * * *"',
        "contract:",
        "  new_columns: evolve",
        "",
    ]
    if not key:
        lines.insert(lines.index("  engine: MergeTree") + 1, f"  order_by: [{names[0]}]")
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
