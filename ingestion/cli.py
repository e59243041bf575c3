"""`elt schema …` and `elt landing …`. (Owner: ingestion work.)"""

from __future__ import annotations

import typer

schema_app = typer.Typer(no_args_is_help=True, help="Central schema YAMLs.")
landing_app = typer.Typer(no_args_is_help=True, help="Landing data (Jaffle Shop demo files).")
