"""The shipped Jaffle Shop example, in one list, and `elt example remove`.

The example is data and configuration on top of the platform: its schema YAMLs, its dbt models
(staging, intermediate, marts), the dbt tests that reconcile its marts, and the test modules of
this repository that are about it (each says so with `pytest.mark.example`). Removing it leaves
the framework: the loaders, the Dagster code location, the endpoint, their own tests (fixture
sources under tests/fixtures and in the tests themselves) — a project to add one's own sources
to. `elt demo` runs the example, so it has nothing to run afterwards.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import typer

from core.settings import PROJECT_ROOT

SOURCE = "jaffle_shop"

# what belongs to the example, relative to the project root
DATA = (
    f"ingestion/schemas/{SOURCE}",
    f"dbt_project/models/staging/{SOURCE}",
    "dbt_project/models/intermediate",
    "dbt_project/models/marts",
    "dbt_project/tests",  # singular tests: each reconciles the example's marts
    "dbt_project/macros/cents_to_dollars.sql",  # the example's money columns
)
# the test modules about the example (module-level `pytest.mark.example`)
TESTS = (
    "tests/dbt/test_dbt_build.py",
    "tests/dbt/dbt_harness.py",
    "tests/deploy/test_deploy_bootstrap.py",
    "tests/deploy/test_deploy_topology.py",
    "tests/experience/test_demo_e2e.py",
    "tests/experience/test_demo_example.py",
    "tests/experience/test_second_source.py",
    "tests/experience/test_walkthrough_add_source_table.py",
    "tests/experience/test_scaffold_dbt.py",
    "tests/ingestion/test_ing_example.py",
    "tests/ingestion/test_ing_integration.py",
    "tests/ingestion/test_ing_landing_dbt.py",
    "tests/orchestration/test_orch_browser.py",
    "tests/orchestration/test_orch_compiled.py",
    "tests/orchestration/test_orch_definitions.py",
    "tests/orchestration/test_orch_instance.py",
    "tests/orchestration/test_orch_materialize.py",
    "tests/orchestration/test_orch_sensors.py",
    "tests/orchestration/test_pyassets_alerts.py",
    "tests/orchestration/test_pyassets_analytics.py",
    "tests/orchestration/test_pyassets_maintenance.py",
    "tests/orchestration/test_pyassets_run_config.py",
)
PATHS = DATA + TESTS


def example_present(root: Path = PROJECT_ROOT) -> bool:
    return (root / DATA[0]).is_dir()


def remove_example(root: Path = PROJECT_ROOT) -> list[str]:
    """Delete the example's files under `root`; the paths removed (none when already gone)."""
    removed = []
    for name in PATHS:
        path = root / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        else:
            continue
        removed.append(name)
    return removed


example_app = typer.Typer(no_args_is_help=True, help="The shipped Jaffle Shop example.")


@example_app.command("remove")
def remove_command(
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Delete the Jaffle Shop example (its YAMLs, dbt models and tests, its test modules)."""
    if not example_present():
        typer.echo("The Jaffle Shop example is not in this project: nothing to remove.")
        raise typer.Exit(code=0)
    if not yes:
        typer.confirm(f"Delete {len(PATHS)} paths of the Jaffle Shop example?", abort=True)
    removed = remove_example()
    for name in removed:
        typer.echo(f"  removed {name}")
    typer.echo(
        f"The Jaffle Shop example is removed ({len(removed)} paths). Add a source: "
        "`elt schema new <source> <table> --from <sample.csv>` (README: Add a source table)."
    )
