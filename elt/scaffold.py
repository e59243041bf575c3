"""Scaffold a dbt staging model (SQL + YAML) for a table declared in a schema YAML.

`ingestion/schemas/<source>/<table>.yml` → `dbt_project/models/staging/<source>/`
`stg_<source>__<table>.sql` (one import CTE on the dbt source, columns grouped by kind) and
`stg_<source>__<table>.yml` (description, columns, `unique` + `not_null` on the primary key): one
YAML per model, as in every layer of the dbt project.
Rendering is pure (`render_staging_sql`, `render_staging_yaml`); `scaffold_dbt` writes the files and
regenerates the dbt sources so the new model resolves `source()` with no hand edits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from core.identifiers import validate_identifier
from core.settings import settings
from ingestion import dbt_sources
from ingestion.schema import (
    INGESTED_AT,
    Column,
    TableSpec,
    load_schemas,
    schemas_dir_default,
)

# Column groups, in the order a jaffle-shop staging model lists them.
_GROUPS = ("ids", "text", "numerics", "booleans", "dates", "timestamps")


def column_group(column: Column, primary_key: Sequence[str] = ()) -> str:
    """Which commented group a column belongs to (dbt style guide naming)."""
    name, ctype = column.name.lower(), column.type.lower()
    if name in primary_key or name == "id" or name.endswith("_id") or name in {"sku"}:
        return "ids"
    if ctype.startswith("bool") or name.startswith(("is_", "has_")):
        return "booleans"
    if ctype.startswith(("timestamp", "datetime")) or name.endswith("_at"):
        return "timestamps"
    if ctype.startswith("date") or name.endswith("_date"):
        return "dates"
    if ctype.startswith(("int", "uint", "float", "double", "decimal", "numeric", "bigint")):
        return "numerics"
    return "text"


def render_staging_sql(spec: TableSpec) -> str:
    """The staging model: one import CTE on the source, then the columns grouped by kind."""
    if not spec.columns:
        raise ValueError(f"{spec.source}.{spec.name}: the table declares no columns")
    grouped: dict[str, list[str]] = {g: [] for g in _GROUPS}
    for col in spec.columns:
        grouped[column_group(col, spec.primary_key)].append(col.name)
    # When the row was loaded (added to every raw table by ingestion), as every staging model has.
    grouped["timestamps"].append(f"{INGESTED_AT} as loaded_at")
    blocks = [(g, names) for g, names in grouped.items() if names]
    lines: list[str] = []
    total = sum(len(names) for _, names in blocks)
    emitted = 0
    for index, (group, names) in enumerate(blocks):
        if index:
            lines.append("")
        lines.append(f"        -- {group}")
        for col_name in names:
            emitted += 1
            comma = "," if emitted < total else ""
            lines.append(f"        {col_name}{comma}")
    final = " {{ final() }}" if spec.deduplicated else ""  # project macro: FINAL
    source_ref = "{{ source('" + spec.source + "', '" + spec.name + "') }}"
    return (
        "with\n\n"
        "source as (\n\n"
        f"    select * from {source_ref}{final}\n\n"
        "),\n\n"
        "renamed as (\n\n"
        "    select\n" + "\n".join(lines) + "\n\n    from source\n\n"
        "),\n\n"
        "final as (\n\n"
        "    select * from renamed\n\n"
        ")\n\n"
        "select * from final\n"
    )


def _key_tests(spec: TableSpec) -> tuple[dict[str, list[Any]], list[Any]]:
    """Column tests and model tests enforcing the primary key (single or composite)."""
    column_tests: dict[str, list[Any]] = {c: ["not_null"] for c in spec.primary_key}
    model_tests: list[Any] = []
    if len(spec.primary_key) == 1:
        column_tests[spec.primary_key[0]] = ["unique", "not_null"]
    elif len(spec.primary_key) > 1:
        combo = "(" + ", ".join(spec.primary_key) + ")"
        model_tests.append({"unique": {"arguments": {"column_name": combo}}})
    return column_tests, model_tests


def render_staging_yaml(spec: TableSpec) -> str:
    """The model's YAML file: description, every column, key tests."""
    column_tests, model_tests = _key_tests(spec)
    columns = []
    for col in spec.columns:
        entry: dict[str, Any] = {"name": col.name}
        if col.description:
            entry["description"] = col.description
        if col.name in column_tests:
            entry["data_tests"] = column_tests[col.name]
        columns.append(entry)
    model: dict[str, Any] = {
        "name": spec.staging_model,
        "description": spec.description
        or f"Staging model for {spec.source}.{spec.name}: one row per primary key.",
    }
    if model_tests:
        model["data_tests"] = model_tests
    model["columns"] = columns
    header = (
        f"# Scaffolded by `elt schema scaffold-dbt` from the schema of {spec.source}.{spec.name};"
        " review and edit.\n"
    )
    body = yaml.safe_dump(
        {"version": 2, "models": [model]}, sort_keys=False, allow_unicode=True, width=100
    )
    return header + body


def staging_paths(spec: TableSpec, project_dir: Path | None = None) -> tuple[Path, Path]:
    """The model's SQL and its YAML next to it (one YAML per model, as in every layer)."""
    folder = (project_dir or default_project_dir()) / "models" / "staging" / spec.source
    return folder / f"{spec.staging_model}.sql", folder / f"{spec.staging_model}.yml"


def _find_spec(specs: Iterable[TableSpec], source: str, table: str) -> TableSpec:
    for spec in specs:
        if spec.source == source and spec.name == table:
            return spec
    raise LookupError(f"no schema YAML for {source}.{table} (expected ingestion/schemas/{source}/)")


def default_project_dir() -> Path:
    return settings().project.dbt_project_dir


def scaffold_dbt(
    source: str,
    table: str,
    *,
    schemas_dir: Path | None = None,
    project_dir: Path | None = None,
    overwrite: bool = False,
    regenerate_sources: bool = True,
) -> list[Path]:
    """Write the staging model SQL + YAML for `source.table`; return the files written.

    Existing files are kept unless `overwrite` (an analyst may have edited them).
    """
    validate_identifier(source, field="source")
    validate_identifier(table, field="table")
    schemas_dir = Path(schemas_dir or schemas_dir_default())
    foreign = schemas_dir.resolve() != schemas_dir_default().resolve()
    configured = "dbt_project_dir" in settings().project.model_fields_set
    if foreign and project_dir is None and not configured:
        # Schemas from elsewhere must not regenerate the project's own dbt sources.
        raise ValueError(
            f"schemas from {schemas_dir} (not the project's): say which dbt project to "
            "scaffold into with --dbt-dir (or ELT_DBT_PROJECT_DIR), or skip with --no-dbt"
        )
    project_dir = Path(project_dir or default_project_dir())
    specs = load_schemas(schemas_dir)
    spec = _find_spec(specs, source, table)
    written: list[Path] = []
    sql_path, yml_path = staging_paths(spec, project_dir)
    for path, text in (
        (sql_path, render_staging_sql(spec)),
        (yml_path, render_staging_yaml(spec)),
    ):
        if path.exists() and not overwrite:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    if regenerate_sources:
        written += dbt_sources.write(specs, project_dir)  # the files that changed
    return written
