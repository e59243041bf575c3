"""`python -m warehouse …`: the endpoint's command line (the same commands as `elt warehouse`)."""

from warehouse.cli import warehouse_app

warehouse_app(prog_name="python -m warehouse")
