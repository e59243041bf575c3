"""The Dagster code location of this `dg` project (`[tool.dg]` in pyproject.toml):
`dg dev`, `dg check defs`, `dg list defs`, `dg launch --assets …`.

`load_from_defs_folder` loads `orchestration/defs/`, one part per folder or module, each built
by `orchestration.factory` from the schema YAMLs (ingestion/schemas) and the prepared dbt
project (dbt_project/), read once (`orchestration.inputs.location_inputs`):

    defs/ingestion/   component: dlt assets (one per raw table), their ClickHouse checks,
                      ingestion jobs, schedules, landing-file sensors
    defs/transform/   component (a DbtProjectComponent): dbt assets (daily-partitioned
                      incremental models, the rest), dbt tests as checks, ClickHouse checks
    defs/analytics/   component: Python assets on the marts and their ClickHouse IO manager
    defs/automation/  full build and daily partition jobs, their schedules, declarative
                      automation, the failed-assets report
    defs/maintenance/ the ClickHouse maintenance job (ops) and its schedule
    defs/alerts/      failed runs and failed checks to a webhook
    defs/resources.py ClickHouse, dbt and dlt resources
    defs/quality/     freshness policies (on the assets) and the ClickHouse checks' builders
    defs/translators.py + naming.py   the one asset-key / group policy for dlt and dbt
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from core.longlived import long_lived


@dg.definitions
def defs() -> dg.Definitions:
    """The definitions, made as long-lived objects (they and the libraries the components import
    live as long as the code server or run process)."""
    with long_lived():
        return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
