"""The Dagster code location of this `dg` project (`[tool.dg]` in pyproject.toml):
`dg dev`, `dg check defs`, `dg list defs`, `dg launch --assets …`.

`load_from_defs_folder` loads `orchestration/defs/`, whose `defs.yaml` is this project's component
(`orchestration/components/project.py`); it builds everything from the schema YAMLs
(ingestion/schemas) and the dbt project (dbt_project/) with `orchestration.factory`:

    defs/ingestion/   dlt assets (one per raw table), landing-file sensors
    defs/transform/   dbt assets (daily-partitioned incremental models, the rest)
    defs/quality/     freshness checks, ClickHouse checks (dbt tests come with the dbt assets)
    defs/automation/  jobs, schedules, run-failure sensor
    defs/analytics/   Python assets on the marts and their ClickHouse IO manager
    defs/maintenance/ the ClickHouse maintenance job (ops) and its schedule
    defs/alerts/      failed runs and failed checks to a webhook
    defs/translators.py + naming.py   the one asset-key / group policy for dlt and dbt
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dg.definitions
def defs() -> dg.Definitions:
    return dg.load_from_defs_folder(project_root=PROJECT_ROOT)
