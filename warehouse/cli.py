"""`elt warehouse …` and `elt sql`: the local ClickHouse endpoint lifecycle."""

from __future__ import annotations

import typer

warehouse_app = typer.Typer(no_args_is_help=True, help="The local ClickHouse endpoint (chDB).")


def sql_command(query: str) -> None:
    """Run a query against the configured warehouse and print a table."""
    raise typer.Exit(code=2)
