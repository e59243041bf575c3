"""`elt schema …`: the central schema YAMLs and what is generated from them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer

from elt.scaffold import scaffold_dbt
from ingestion import dbt_sources
from ingestion.infer import write_draft
from ingestion.pipeline import daily_window, run_source
from ingestion.schema import (
    SCHEMAS_DIR,
    SchemaError,
    SchemaErrors,
    json_schema,
    load_schemas,
    parse_table_file,
    schemas_dir_default,
    table_files,
    validate_dir,
)

schema_app = typer.Typer(no_args_is_help=True, help="Central schema YAMLs.")

SchemasDir = Annotated[
    Path | None,
    typer.Option(
        "--schemas-dir", help="Folder of <source>/<table>.yml (default: ingestion/schemas)"
    ),
]


@schema_app.command("validate")
def validate_command(schemas_dir: SchemasDir = None) -> None:
    """Check every schema YAML; report each bad file's first problem as file:line: field."""
    directory = schemas_dir or schemas_dir_default()
    specs, errors = validate_dir(directory)
    for error in errors:
        typer.echo(str(error), err=True)
    files = len(table_files(directory))
    if errors:
        typer.echo(f"{len(errors)} problem(s) in {files} file(s)", err=True)
        raise typer.Exit(code=1)
    typer.echo(f"ok: {len(specs)} table(s) in {len({s.source for s in specs})} source(s)")


@schema_app.command("new")
def new_command(
    source: Annotated[str, typer.Argument(help="Source name (folder)")],
    table: Annotated[str, typer.Argument(help="Table name (file name)")],
    sample: Annotated[Path, typer.Option("--from", help="Sample CSV / Parquet / JSONL file")],
    schemas_dir: SchemasDir = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing YAML")] = False,
) -> None:
    """Draft <source>/<table>.yml from a sample file (types, key and cursor inferred). Review it,
    then generate the staging model with `elt schema scaffold-dbt SOURCE TABLE`."""
    if not sample.exists():
        typer.echo(f"sample file {sample} not found", err=True)
        raise typer.Exit(code=2)
    directory = schemas_dir or schemas_dir_default()
    try:
        target, _ = write_draft(source, table, sample, directory, force=force)
    except (FileExistsError, ValueError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=1) from None
    try:
        parse_table_file(target)
    except SchemaError as exc:
        typer.echo(f"wrote {target} (edit needed: {exc})")
    else:
        typer.echo(f"wrote {target}")
    typer.echo(
        f"review it (types, key, cursor, docs), then run `elt schema scaffold-dbt {source} {table}`"
    )


@schema_app.command("dbt-sources")
def dbt_sources_command(
    check: Annotated[
        bool, typer.Option("--check", help="Fail if a committed file differs")
    ] = False,
    schemas_dir: SchemasDir = None,
    dbt_dir: Annotated[Path | None, typer.Option("--dbt-dir", help="dbt project dir")] = None,
) -> None:
    """Generate dbt_project/models/staging/<source>/_<source>__sources.yml from the schemas."""
    try:
        specs = load_schemas(schemas_dir)
    except SchemaErrors as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=1) from None
    if check:
        stale = dbt_sources.check(specs, dbt_dir)
        for path in stale:
            typer.echo(f"out of date: {path} (run `elt schema dbt-sources`)", err=True)
        if stale:
            raise typer.Exit(code=1)
        typer.echo("dbt sources up to date")
        return
    for path in dbt_sources.write(specs, dbt_dir):
        typer.echo(f"wrote {path}")


@schema_app.command("json-schema")
def json_schema_command(
    check: Annotated[
        bool, typer.Option("--check", help="Fail if the published file differs")
    ] = False,
) -> None:
    """Write ingestion/schemas/table.schema.json (editor autocompletion for the YAMLs)."""
    path = SCHEMAS_DIR / "table.schema.json"
    text = json.dumps(json_schema(), indent=2) + "\n"
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if check:
        if current != text:
            typer.echo(f"out of date: {path} (run `elt schema json-schema`)", err=True)
            raise typer.Exit(code=1)
        typer.echo("json schema up to date")
        return
    if current != text:
        path.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {path}")


@schema_app.command("load")
def load_command(
    source: Annotated[str, typer.Argument(help="Source name (a folder of ingestion/schemas)")],
    table: Annotated[list[str] | None, typer.Option("--table", help="Only these tables")] = None,
    landing_dir: Annotated[Path | None, typer.Option("--landing-dir")] = None,
    day: Annotated[str | None, typer.Option("--day", help="Only this day (YYYY-MM-DD)")] = None,
) -> None:
    """Run the generated dlt source of SOURCE into ClickHouse `raw` (prints a JSON summary)."""
    window = daily_window(dt.date.fromisoformat(day)) if day else None
    result = run_source(source, landing_dir=landing_dir, window=window, tables=table or None)
    typer.echo(json.dumps(result.summary()))


@schema_app.command("scaffold-dbt")
def scaffold_dbt_command(
    source: Annotated[str, typer.Argument(help="Source name (folder under ingestion/schemas)")],
    table: Annotated[str, typer.Argument(help="Table name (its YAML file name)")],
    schemas_dir: Annotated[
        Path | None, typer.Option("--schemas-dir", help="Folder of <source>/<table>.yml")
    ] = None,
    dbt_dir: Annotated[Path | None, typer.Option("--dbt-dir", help="dbt project dir")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite staging files edited since generated")
    ] = False,
) -> None:
    """Scaffold the staging model (SQL + YAML) of a table and regenerate its dbt sources."""
    try:
        done = scaffold_dbt(
            source, table, schemas_dir=schemas_dir, project_dir=dbt_dir, overwrite=force
        )
    except (LookupError, ValueError, SchemaErrors) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=1) from None
    for path in done.written:
        typer.echo(f"wrote {path}")
    for path in done.kept:
        typer.echo(f"kept {path}: edited since it was generated (--force overwrites it)")
    if not done.written and not done.kept:
        typer.echo("up to date: the staging model matches the schema YAML")
