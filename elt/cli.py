"""`elt`: the project's own command line. Only what dagster, dbt and dlt do not already do."""

from __future__ import annotations

import typer

from elt.demo import demo_command
from elt.dev import dev_command
from elt.example import example_app
from elt.landing_cli import landing_app
from elt.schema_cli import schema_app
from warehouse.cli import sql_command, warehouse_app

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
app.add_typer(warehouse_app, name="warehouse")
app.add_typer(schema_app, name="schema")
app.add_typer(landing_app, name="landing")
app.add_typer(example_app, name="example")
app.command("sql")(sql_command)
app.command("demo")(demo_command)
app.command("dev")(dev_command)
