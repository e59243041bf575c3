"""`elt landing …`: the Jaffle Shop demo's landing files."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer

from ingestion.landing import landing_jaffle

landing_app = typer.Typer(no_args_is_help=True, help="Landing data (Jaffle Shop demo files).")


@landing_app.command("jaffle")
def jaffle_command(
    years: Annotated[int, typer.Option("--years", min=1, help="Simulated years (jafgen)")] = 1,
    until: Annotated[
        str | None, typer.Option("--until", help="Publish daily files up to this day (YYYY-MM-DD)")
    ] = None,
    landing_dir: Annotated[Path | None, typer.Option("--landing-dir")] = None,
) -> None:
    """Generate Jaffle Shop data with jafgen (cached per N years) and publish the landing layout."""
    until_day = dt.date.fromisoformat(until) if until else None
    written = landing_jaffle(years, until_day, landing_dir)
    typer.echo(json.dumps({"files_written": written}))
